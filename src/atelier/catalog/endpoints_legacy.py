"""Retired legacy routes, answered with a pointer to their replacement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from atelier.platform.deps import AdminPrincipal
from atelier.platform.errors import Gone

router = APIRouter(tags=["legacy"])


@router.post(
    "/admin/designs/{design_id}/send-to-partner",
    status_code=410,
    responses={410: {"description": "retired; use POST /admin/designs/:id/production-runs"}},
)
def send_to_partner(
    design_id: Annotated[str, Path(min_length=1, max_length=64)], _admin: AdminPrincipal
) -> None:
    """Retired: send a design to partners by creating production runs instead."""
    replacement = f"/admin/designs/{design_id}/production-runs"
    raise Gone(
        "send-to-partner is retired: create production runs with "
        f"POST {replacement} (body: {{assignments: [{{partner_id, quantity, template_names}}]}})",
        code="send_to_partner_retired",
        extra={"replacement": {"method": "POST", "path": replacement}},
    )
