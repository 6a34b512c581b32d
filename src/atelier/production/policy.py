"""Stored production-run policies: the lifecycle table and the auto-approval rules.

Both are documents in ``policy_settings`` (keys ``lifecycle`` and ``auto_approval``) that admins
read and replace through ``/admin/production-run-policy``. ``decide_auto_approval`` is the pure
rule; ``evaluate_run`` gathers the facts for one run.

A design has a *deterministic partner route* when

* exactly one partner is linked to it (``DesignPartner``), or -- if ``require_single_partner_route``
  is off -- ``design.metadata.route.partner_id`` names one of its linked partners; that partner
  must be ``active``; and
* it carries template intent: ``design.metadata.route.template_names`` or
  ``design.metadata.default_templates`` (a list of task-template names), every one of which
  exists, when ``require_templates`` is on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.catalog.models import Design, DesignPartner, DesignStatus
from atelier.partners.models import Partner, PartnerStatus
from atelier.platform import clock
from atelier.platform.errors import Conflict, Invalid, not_found
from atelier.production import repository, transitions
from atelier.production.errors import ProductionCode
from atelier.production.lifecycle import LifecyclePolicy, RunStatus
from atelier.production.models import PolicySetting, ProductionRun
from atelier.tasks import service as tasks_service

AUTO_APPROVAL_KEY = "auto_approval"
LIFECYCLE_KEY = transitions.LIFECYCLE_POLICY_KEY
AUTO_APPROVABLE_STATUSES = frozenset({RunStatus.PENDING_REVIEW, RunStatus.DRAFT})


# --- auto-approval rules (pure) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AutoApprovalRules:
    enabled: bool = True
    design_statuses: tuple[str, ...] = (DesignStatus.COMMERCE_READY.value,)
    require_single_partner_route: bool = True
    require_templates: bool = True

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> AutoApprovalRules:
        """Parse the stored document; missing keys keep their defaults; ValueError when bad."""
        if not isinstance(document, Mapping):
            raise ValueError("auto_approval must be an object")
        known = {"enabled", "design_statuses", "require_single_partner_route", "require_templates"}
        unknown = sorted(set(document) - known)
        if unknown:
            raise ValueError(f"unknown auto_approval keys: {', '.join(unknown)}")
        default = cls()
        flags: dict[str, bool] = {}
        for name in ("enabled", "require_single_partner_route", "require_templates"):
            value = document.get(name, getattr(default, name))
            if not isinstance(value, bool):
                raise ValueError(f"auto_approval.{name} must be true or false")
            flags[name] = value
        statuses = document.get("design_statuses", list(default.design_statuses))
        if not isinstance(statuses, Sequence) or isinstance(statuses, str):
            raise ValueError("auto_approval.design_statuses must be a list of design statuses")
        parsed: list[str] = []
        for status in statuses:
            try:
                parsed.append(DesignStatus(status).value)
            except ValueError as exc:
                raise ValueError(f"unknown design status {status!r}") from exc
        return cls(design_statuses=tuple(dict.fromkeys(parsed)), **flags)

    def to_document(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "design_statuses": list(self.design_statuses),
            "require_single_partner_route": self.require_single_partner_route,
            "require_templates": self.require_templates,
        }


@dataclass(frozen=True, slots=True)
class AutoApprovalFacts:
    """What the auto-approval decision reads about a run and its design."""

    run_status: str
    design_status: str
    # (partner_id, status) for every partner linked to the design.
    linked_partners: tuple[tuple[str, str], ...] = ()
    route_partner_id: str | None = None
    template_names: tuple[str, ...] = ()
    unknown_templates: tuple[str, ...] = ()
    has_partner: bool = False


@dataclass(frozen=True, slots=True)
class AutoApprovalDecision:
    auto_approvable: bool
    reasons: tuple[str, ...] = ()
    partner_id: str | None = None
    template_names: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "auto_approvable": self.auto_approvable,
            "reasons": list(self.reasons),
            "partner_id": self.partner_id,
            "template_names": list(self.template_names),
        }


def decide_auto_approval(
    rules: AutoApprovalRules, facts: AutoApprovalFacts
) -> AutoApprovalDecision:
    """Whether a waiting run may be approved (and dispatched) without an admin, and why not."""
    reasons: list[str] = []
    if not rules.enabled:
        reasons.append("auto-approval is disabled by policy")
    if facts.run_status not in AUTO_APPROVABLE_STATUSES:
        reasons.append(f"the run is {facts.run_status}; only pending runs are auto-approved")
    if facts.design_status not in rules.design_statuses:
        allowed = ", ".join(rules.design_statuses) or "none"
        reasons.append(
            f"the design is {facts.design_status}; auto-approval needs one of: {allowed}"
        )
    partner_id = _route_partner(rules, facts, reasons)
    if partner_id is not None:
        status = dict(facts.linked_partners)[partner_id]
        if status != PartnerStatus.ACTIVE:
            reasons.append(f"the route partner {partner_id} is {status}, not active")
    if rules.require_templates:
        if not facts.template_names:
            reasons.append(
                "the design has no template intent (metadata.default_templates or "
                "metadata.route.template_names)"
            )
        elif facts.unknown_templates:
            reasons.append("unknown task templates: " + ", ".join(facts.unknown_templates))
    return AutoApprovalDecision(
        auto_approvable=not reasons,
        reasons=tuple(reasons),
        partner_id=partner_id,
        template_names=facts.template_names,
    )


def _route_partner(
    rules: AutoApprovalRules, facts: AutoApprovalFacts, reasons: list[str]
) -> str | None:
    linked = [pid for pid, _ in facts.linked_partners]
    if facts.route_partner_id is not None and facts.route_partner_id not in linked:
        reasons.append(
            f"metadata.route.partner_id {facts.route_partner_id} is not linked to the design"
        )
        return None
    if len(linked) == 1:
        return linked[0]
    if rules.require_single_partner_route or facts.route_partner_id is None:
        reasons.append(
            f"the design has {len(linked)} linked partners; a deterministic route needs exactly one"
        )
        return None
    return facts.route_partner_id


# --- stored documents -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    document: dict[str, Any]
    version: int
    updated_at: Any
    updated_by: str | None


def _stored(session: Session, key: str, default: dict[str, Any]) -> StoredPolicy:
    row = session.get(PolicySetting, key)
    if row is None:
        return StoredPolicy(default, 0, None, None)
    return StoredPolicy(dict(row.value), row.version, row.updated_at, row.updated_by)


def auto_approval_rules(session: Session) -> AutoApprovalRules:
    """The stored auto-approval rules (defaults when none are stored)."""
    document = repository.policy_document(session, AUTO_APPROVAL_KEY)
    return (
        AutoApprovalRules.from_document(document) if document is not None else AutoApprovalRules()
    )


def read_policies(session: Session) -> dict[str, StoredPolicy]:
    """Both policy documents with their versions (0 = defaults, never stored)."""
    lifecycle = _stored(session, LIFECYCLE_KEY, LifecyclePolicy.default().to_document())
    lifecycle = StoredPolicy(
        LifecyclePolicy.from_document(lifecycle.document).to_document(),
        lifecycle.version,
        lifecycle.updated_at,
        lifecycle.updated_by,
    )
    auto = _stored(session, AUTO_APPROVAL_KEY, AutoApprovalRules().to_document())
    auto = StoredPolicy(
        AutoApprovalRules.from_document(auto.document).to_document(),
        auto.version,
        auto.updated_at,
        auto.updated_by,
    )
    return {LIFECYCLE_KEY: lifecycle, AUTO_APPROVAL_KEY: auto}


def normalise(key: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a policy document; 422 with the reason when it is not acceptable."""
    try:
        if key == LIFECYCLE_KEY:
            unknown = sorted(set(document) - {"allowed_from"})
            if unknown:
                raise ValueError(f"unknown lifecycle keys: {', '.join(unknown)}")
            return LifecyclePolicy.from_document(document).to_document()
        return AutoApprovalRules.from_document(document).to_document()
    except ValueError as exc:
        raise Invalid(f"{key}: {exc}", code=ProductionCode.INVALID_POLICY) from exc


def write_policy(
    session: Session,
    key: str,
    document: Mapping[str, Any],
    *,
    expected_version: int | None,
    updated_by: str | None,
) -> int:
    """Replace a policy document, bumping its version; 409 when ``expected_version`` is stale.

    The version check is a conditional UPDATE (or a keyed INSERT for the first write), so two
    concurrent writers cannot both win.
    """
    value = normalise(key, document)
    now = clock.now()
    current = session.get(PolicySetting, key)
    current_version = current.version if current else 0
    if expected_version is not None and expected_version != current_version:
        raise _stale(key, expected_version, current_version)
    if current is None:
        try:
            with session.begin_nested():
                session.add(
                    PolicySetting(
                        key=key, value=value, version=1, updated_at=now, updated_by=updated_by
                    )
                )
                session.flush()
        except IntegrityError as exc:
            raise _stale(key, expected_version or 0, None) from exc
        new_version = 1
    else:
        result = session.execute(
            update(PolicySetting)
            .where(PolicySetting.key == key, PolicySetting.version == current_version)
            .values(value=value, version=current_version + 1, updated_at=now, updated_by=updated_by)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise _stale(key, expected_version or current_version, None)
        session.expire(current)
        new_version = current_version + 1
    transitions.forget_cached_policy(session)
    return new_version


def _stale(key: str, expected: int, current: int | None) -> Conflict:
    now = f" (current version {current})" if current is not None else ""
    return Conflict(
        f"the {key} policy changed since version {expected}{now}; reload and retry",
        code=ProductionCode.POLICY_VERSION_CONFLICT,
    )


# --- evaluating a run -------------------------------------------------------------------------


def route_templates(metadata: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Template intent a design declares for auto-dispatch."""
    metadata = metadata or {}
    route = metadata.get("route")
    names: Any = None
    if isinstance(route, Mapping):
        names = route.get("template_names")
    if not names:
        names = metadata.get("default_templates")
    if not isinstance(names, list):
        return ()
    return tuple(dict.fromkeys(str(n) for n in names if isinstance(n, str) and n.strip()))


def _route_partner_id(metadata: Mapping[str, Any] | None) -> str | None:
    route = (metadata or {}).get("route")
    if isinstance(route, Mapping) and isinstance(route.get("partner_id"), str):
        return str(route["partner_id"])
    return None


@dataclass(frozen=True, slots=True)
class RunRef:
    """What the evaluation reads of a run (a read that has no ORM run passes this)."""

    status: str
    design_id: str
    partner_id: str | None


@dataclass(frozen=True, slots=True)
class DesignFacts:
    """What the evaluation reads of a design (when the caller has no ORM design at hand)."""

    id: str
    status: str
    metadata_: Mapping[str, Any] | None


def evaluate_run(
    session: Session,
    run: ProductionRun | RunRef,
    rules: AutoApprovalRules | None = None,
    *,
    design: Design | None = None,
) -> AutoApprovalDecision:
    """Gather the facts about ``run`` and decide whether it may be auto-approved.

    ``design`` is the run's design when the caller has just read it (else it is read here).
    """
    designs = {design.id: design} if design is not None else {}
    return evaluate_runs(session, [run], rules, designs=designs)[0]


def evaluate_runs(
    session: Session,
    runs: Sequence[ProductionRun | RunRef],
    rules: AutoApprovalRules | None = None,
    *,
    designs: Mapping[str, Design] | None = None,
) -> list[AutoApprovalDecision]:
    """``evaluate_run`` for each of ``runs``, in order: the linked partners of all their designs
    in one statement and their template names in one more, however many designs.

    ``designs`` are designs the caller has just read (the others are read here, together).
    """
    rules = rules or auto_approval_rules(session)
    known: dict[str, Design | DesignFacts] = dict(designs or {})
    missing = list(dict.fromkeys(run.design_id for run in runs if run.design_id not in known))
    if missing:
        # What the decision reads of a design, in one plain statement (no ORM objects).
        for design_id, status, metadata in session.execute(
            select(Design.id, Design.status, Design.metadata_).where(Design.id.in_(missing))
        ):
            known[design_id] = DesignFacts(design_id, status, metadata)
        for design_id in missing:
            if design_id not in known:
                raise not_found("design", design_id)
    wanted = list(dict.fromkeys(run.design_id for run in runs))
    linked: dict[str, list[tuple[str, str]]] = {design_id: [] for design_id in wanted}
    if wanted:
        rows = session.execute(
            select(DesignPartner.design_id, Partner.id, Partner.status)
            .join(DesignPartner, DesignPartner.partner_id == Partner.id)
            .where(DesignPartner.design_id.in_(wanted))
            .order_by(Partner.id)
        )
        for design_id, partner_id, status in rows:
            linked[design_id].append((partner_id, status))
    names = {design_id: route_templates(known[design_id].metadata_) for design_id in wanted}
    unknown: dict[str, tuple[str, ...]] = {}
    if rules.require_templates:
        named = [design_id for design_id in wanted if names[design_id]]
        found = tasks_service.unresolved_template_names(session, [names[d] for d in named])
        unknown = dict(zip(named, found, strict=True))
    decisions = []
    for run in runs:
        design = known[run.design_id]
        facts = AutoApprovalFacts(
            run_status=run.status,
            design_status=design.status,
            linked_partners=tuple(linked[run.design_id]),
            route_partner_id=_route_partner_id(design.metadata_),
            template_names=names[run.design_id],
            unknown_templates=unknown.get(run.design_id, ()),
            has_partner=run.partner_id is not None,
        )
        decisions.append(decide_auto_approval(rules, facts))
    return decisions
