"""Retired legacy routes, answered with a pointer to their replacement."""

from __future__ import annotations

from atelier.catalog.errors import CatalogCode
from atelier.platform.deps import AdminPrincipal
from atelier.platform.errors import Gone
from atelier.platform.http import IdPath
from atelier.platform.routers import APIRouter

router = APIRouter(tags=["legacy"])


@router.post(
    "/admin/designs/{design_id}/send-to-partner",
    status_code=410,
    responses={410: {"description": "retired; use POST /admin/designs/:id/production-runs"}},
)
def send_to_partner(design_id: IdPath, _admin: AdminPrincipal) -> None:
    """Retired: send a design to partners by creating production runs instead."""
    replacement = f"/admin/designs/{design_id}/production-runs"
    raise Gone(
        "send-to-partner is retired: create production runs with "
        f"POST {replacement} (body: {{assignments: [{{partner_id, quantity, template_names}}]}})",
        code=CatalogCode.SEND_TO_PARTNER_RETIRED,
        extra={"replacement": {"method": "POST", "path": replacement}},
    )
