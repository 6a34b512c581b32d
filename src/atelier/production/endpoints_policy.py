"""``/admin/production-run-policy``: the lifecycle table and auto-approval rules as data."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.errors import Invalid
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import BodyInt, InputSchema, Metadata, OutputSchema
from atelier.production import policy
from atelier.production.errors import ProductionCode

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


class StoredVersion(OutputSchema):
    """Which stored version a policy document is (0: the defaults, never stored)."""

    version: int
    updated_at: str | None
    updated_by: str | None


class LifecyclePolicyRead(StoredVersion):
    allowed_from: dict[str, list[str]]


class AutoApprovalPolicyRead(StoredVersion):
    enabled: bool
    design_statuses: list[str]
    require_single_partner_route: bool
    require_templates: bool


class PolicyRead(OutputSchema):
    lifecycle: LifecyclePolicyRead
    auto_approval: AutoApprovalPolicyRead
    route_definition: str


class PolicyEnvelope(OutputSchema):
    production_run_policy: PolicyRead


ROUTE_DEFINITION = (
    "exactly one active partner linked to the design (or metadata.route.partner_id when "
    "require_single_partner_route is false) and template intent in "
    "metadata.route.template_names or metadata.default_templates"
)


def _with_version(item: policy.StoredPolicy) -> dict[str, Any]:
    return {
        **item.document,
        "version": item.version,
        "updated_at": item.updated_at.isoformat() if item.updated_at else None,
        "updated_by": item.updated_by,
    }


def _policy_out(session: DbSession) -> PolicyEnvelope:
    stored = policy.read_policies(session)
    return PolicyEnvelope(
        production_run_policy=PolicyRead(
            lifecycle=LifecyclePolicyRead.model_validate(
                _with_version(stored[policy.LIFECYCLE_KEY])
            ),
            auto_approval=AutoApprovalPolicyRead.model_validate(
                _with_version(stored[policy.AUTO_APPROVAL_KEY])
            ),
            route_definition=ROUTE_DEFINITION,
        )
    )


@router.get("/production-run-policy", response_model=PolicyEnvelope)
def get_policy(session: DbSession, admin: AdminPrincipal) -> PolicyEnvelope:
    """The lifecycle allowed-from table and the auto-approval rules, with their versions."""
    return _policy_out(session)


@router.put("/production-run-policy", response_model=PolicyEnvelope)
def put_policy(body: PolicyUpdate, session: DbSession, admin: AdminPrincipal) -> PolicyEnvelope:
    """Replace one or both documents; a stale ``version`` answers 409 and changes nothing."""
    documents = {
        policy.LIFECYCLE_KEY: (body.lifecycle, body.lifecycle_version),
        policy.AUTO_APPROVAL_KEY: (body.auto_approval, body.auto_approval_version),
    }
    given = {key: doc for key, doc in documents.items() if doc[0] is not None}
    if not given:
        raise Invalid("send lifecycle and/or auto_approval", code=ProductionCode.POLICY_REQUIRED)
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
