"""Setup helpers for media, gate, deep-link and legacy tests.

Designs, partners and runs are created through the admin API; only the run's lifecycle
position (status, milestone timestamps) is put in place directly, because those tests are
about what happens *at* a position, not how the run got there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from atelier.platform import clock
from atelier.platform.db import Database
from atelier.production.models import ProductionRun
from tests.factories import catalog
from tests.factories.catalog import PartnerHandle
from tests.factories.runs import create_run

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 64
PDF = b"%PDF-1.7\n" + b"%" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


@dataclass(frozen=True)
class World:
    design: dict[str, Any]
    partner: PartnerHandle
    run_id: str


def set_run(db: Database, run_id: str, **fields: Any) -> None:
    """Put the run at a lifecycle position (status and milestone timestamps)."""
    with db.session() as session:
        run = session.get(ProductionRun, run_id)
        assert run is not None
        for name, value in fields.items():
            setattr(run, name, value)


def load_run(db: Database, run_id: str) -> ProductionRun:
    with db.session(write=False) as session:
        run = session.get(ProductionRun, run_id)
        assert run is not None
        return run


def dispatched(at: datetime | None = None) -> dict[str, Any]:
    """Fields of a run that was just sent to its partner."""
    return {
        "status": "sent_to_partner",
        "dispatch_state": "completed",
        "dispatch_completed_at": at or clock.now(),
    }


def world(
    admin: TestClient,
    client: TestClient,
    db: Database,
    *,
    partner: PartnerHandle | None = None,
    design: dict[str, Any] | None = None,
    **run_fields: Any,
) -> World:
    """A design, a signed-in partner and a run of theirs (sent to the partner by default)."""
    design = design or catalog.create_design(admin)
    partner = partner or catalog.create_partner(admin, client)
    run = create_run(admin, design_id=design["id"], partner_id=partner.id, quantity=10)
    set_run(db, run["id"], **(run_fields or dispatched()))
    return World(design, partner, run["id"])


def relogin(client: TestClient, partner: PartnerHandle) -> dict[str, str]:
    """Fresh partner bearer headers (after the frozen clock moved past the token's life)."""
    response = client.post(
        "/auth/partner/token", json={"email": partner.email, "password": partner.password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def admin_headers(client: TestClient) -> dict[str, str]:
    """Fresh admin bearer headers for the bootstrap admin."""
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    response = client.post(
        "/auth/admin/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
