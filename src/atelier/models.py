"""Imports every domain's models so ``Base.metadata`` is complete (Alembic, test schema)."""

from atelier.audit import models as audit_models
from atelier.catalog import models as catalog_models
from atelier.flows import models as flow_models
from atelier.inventory import models as inventory_models
from atelier.media import models as media_models
from atelier.notifications import models as notification_models
from atelier.orders import models as order_models
from atelier.partners import models as partner_models
from atelier.platform import models as platform_models
from atelier.platform.db import Base
from atelier.production import models as production_models
from atelier.tasks import models as task_models

__all__ = [
    "Base",
    "audit_models",
    "catalog_models",
    "flow_models",
    "inventory_models",
    "media_models",
    "notification_models",
    "order_models",
    "partner_models",
    "platform_models",
    "production_models",
    "task_models",
]
