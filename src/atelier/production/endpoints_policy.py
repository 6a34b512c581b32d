"""``/admin/production-run-policy``: the lifecycle table and auto-approval rules as data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.errors import Invalid
from atelier.platform.schemas import BodyInt, InputSchema, Metadata
from atelier.production import policy

router = APIRouter(prefix="/admin", tags=["production-runs"])

Version = Annotated[BodyInt, Field(ge=0, le=1_000_000_000)]


class PolicyUpdate(InputSchema):
    lifecycle: Metadata | None = None
    auto_approval: Metadata | None = None
    # Optimistic concurrency: the version the client read, per document; ``version`` applies to
    # every document sent when the per-document one is absent.
    version: Version | None = None
    lifecycle_version: Version | None = None
    auto_approval_version: Version | None = None


def _policy_out(session: DbSession) -> dict[str, Any]:
    stored = policy.read_policies(session)
    out: dict[str, Any] = {}
    for key, item in stored.items():
        out[key] = {
            **item.document,
            "version": item.version,
            "updated_at": item.updated_at.isoformat() if item.updated_at else None,
            "updated_by": item.updated_by,
        }
    out["route_definition"] = (
        "exactly one active partner linked to the design (or metadata.route.partner_id when "
        "require_single_partner_route is false) and template intent in "
        "metadata.route.template_names or metadata.default_templates"
    )
    return {"production_run_policy": out}


@router.get("/production-run-policy")
def get_policy(session: DbSession, admin: AdminPrincipal) -> Any:
    """The lifecycle allowed-from table and the auto-approval rules, with their versions."""
    return _policy_out(session)


@router.put("/production-run-policy")
def put_policy(body: PolicyUpdate, session: DbSession, admin: AdminPrincipal) -> Any:
    """Replace one or both documents; a stale ``version`` answers 409 and changes nothing."""
    documents = {
        policy.LIFECYCLE_KEY: (body.lifecycle, body.lifecycle_version),
        policy.AUTO_APPROVAL_KEY: (body.auto_approval, body.auto_approval_version),
    }
    given = {key: doc for key, doc in documents.items() if doc[0] is not None}
    if not given:
        raise Invalid("send lifecycle and/or auto_approval", code="policy_required")
    for key, (document, version) in given.items():
        assert document is not None
        policy.write_policy(
            session,
            key,
            document,
            expected_version=version if version is not None else body.version,
            updated_by=admin.user_id,
        )
    session.flush()
    return _policy_out(session)
