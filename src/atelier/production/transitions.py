"""The one way a run changes state: lock, check the lifecycle, mutate, audit, emit.

Services call ``lock_run`` then ``require(action, ...)``, change fields, then ``record_change``;
all of it rides the caller's transaction. On PostgreSQL the run row is locked ``FOR UPDATE``; on
SQLite the write session already holds the database write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from atelier.audit import service as audit
from atelier.platform import outbox
from atelier.platform.actors import Actor, ActorType, Channel
from atelier.platform.errors import Conflict, not_found
from atelier.production import repository
from atelier.production.gates import refresh_gate
from atelier.production.lifecycle import (
    Action,
    Decision,
    LifecyclePolicy,
    RunFacts,
    RunStatus,
    check,
)
from atelier.production.models import ProductionRun

LIFECYCLE_POLICY_KEY = "lifecycle"
_POLICY_CACHE = "atelier_lifecycle_policy"


# Built once: every state change starts here (no statement construction per call).
_LOCK_RUN = (
    select(ProductionRun)
    .where(ProductionRun.id == bindparam("run_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_run(session: Session, run_id: str) -> ProductionRun:
    """The run, locked for the rest of the transaction; 404 when unknown."""
    run = session.scalars(_LOCK_RUN, {"run_id": run_id}).one_or_none()
    if run is None:
        raise not_found("production_run", run_id)
    return run


def get_run(session: Session, run_id: str) -> ProductionRun:
    run = session.get(ProductionRun, run_id)
    if run is None:
        raise not_found("production_run", run_id)
    return run


def lifecycle_policy(session: Session) -> LifecyclePolicy:
    """The stored lifecycle policy (defaults when none is stored); cached per transaction."""
    cached = session.info.get(_POLICY_CACHE)
    if isinstance(cached, LifecyclePolicy):
        return cached
    return cache_policy(session, repository.policy_document(session, LIFECYCLE_POLICY_KEY))


def cache_policy(session: Session, document: dict[str, Any] | None) -> LifecyclePolicy:
    """The lifecycle policy of the stored ``document`` (defaults for ``None``), cached for the
    transaction; a policy already cached in it wins (the document was read in the same
    transaction)."""
    cached = session.info.get(_POLICY_CACHE)
    if isinstance(cached, LifecyclePolicy):
        return cached
    policy = (
        LifecyclePolicy.from_document(document)
        if document is not None
        else LifecyclePolicy.default()
    )
    session.info[_POLICY_CACHE] = policy
    return policy


def forget_cached_policy(session: Session) -> None:
    session.info.pop(_POLICY_CACHE, None)


def waiting_on(session: Session, run: ProductionRun) -> tuple[str, ...]:
    """Ids of the runs ``run`` depends on that are not completed yet."""
    if not run.depends_on_run_ids:
        return ()
    rows = session.execute(
        select(ProductionRun.id, ProductionRun.status).where(
            ProductionRun.id.in_(run.depends_on_run_ids)
        )
    ).all()
    done = {rid for rid, status in rows if status == RunStatus.COMPLETED}
    return tuple(rid for rid in run.depends_on_run_ids if rid not in done)


def facts_of(session: Session, run: ProductionRun, *, with_dependencies: bool = False) -> RunFacts:
    return facts_from(
        {name: getattr(run, name) for name in FACT_FIELDS},
        waiting_on(session, run) if with_dependencies else (),
    )


# The run fields the lifecycle decides on (besides what the run waits on).
FACT_FIELDS = (
    "status",
    "partner_id",
    "accepted_at",
    "started_at",
    "finished_at",
    "dispatch_state",
    "on_hold",
)


def facts_from(fields: Mapping[str, Any], waiting: tuple[str, ...] = ()) -> RunFacts:
    """The lifecycle's facts from a run's ``FACT_FIELDS`` (an ORM run's or a read's row)."""
    return RunFacts(
        status=RunStatus(fields["status"]),
        has_partner=fields["partner_id"] is not None,
        accepted=fields["accepted_at"] is not None,
        started=fields["started_at"] is not None,
        finished=fields["finished_at"] is not None,
        dispatch_state=fields["dispatch_state"],
        waiting_on=waiting,
        on_hold=bool(fields["on_hold"]),
    )


def decisions(
    session: Session, run: ProductionRun, actions: Iterable[Action]
) -> dict[Action, Decision]:
    """What the lifecycle says about each of ``actions`` for ``run`` now (the web app offers an
    action only when it is allowed, and shows the refusal's reason otherwise)."""
    facts = facts_of(session, run, with_dependencies=True)
    policy = lifecycle_policy(session)
    return {action: check(action, facts, policy) for action in actions}


# The verbs whose decision reads the run's dependencies (one more query).
_READS_DEPENDENCIES = frozenset(
    {Action.DISPATCH, Action.CONFIRM_DISPATCH, Action.SEND_TO_PRODUCTION}
)


def require(session: Session, run: ProductionRun, action: Action) -> None:
    """Raise 409 with the lifecycle's reason unless ``action`` is allowed now."""
    facts = facts_of(session, run, with_dependencies=action in _READS_DEPENDENCIES)
    decision = check(action, facts, lifecycle_policy(session))
    if not decision:
        raise Conflict(decision.detail, code=decision.code)


def allowed_actions(
    session: Session, run: ProductionRun, among: Sequence[Action] = tuple(Action)
) -> list[str]:
    """What ``require`` would allow on the run now, among ``among`` (the buttons a UI shows)."""
    return [action.value for action, decision in decisions(session, run, among).items() if decision]


def allowed_by_facts(
    session: Session, facts: RunFacts, among: Sequence[Action] = tuple(Action)
) -> list[str]:
    """``allowed_actions`` for facts a read already has (no query but the cached policy)."""
    policy = lifecycle_policy(session)
    return [action.value for action in among if check(action, facts, policy)]


class RunHead(Protocol):
    """What an event payload names of a run (a run, or a row inserted without the ORM)."""

    @property
    def id(self) -> str: ...
    @property
    def partner_id(self) -> str | None: ...
    @property
    def design_id(self) -> str: ...
    @property
    def parent_run_id(self) -> str | None: ...
    @property
    def run_type(self) -> str: ...
    @property
    def status(self) -> str: ...


def event_payload(run: RunHead, actor: Actor, **extra: Any) -> dict[str, Any]:
    """The common shape of every ``production_run.*`` event."""
    head = {name: getattr(run, name) for name in HEAD_FIELDS}
    return event_payload_of(head, actor, **extra)


# What every ``production_run.*`` event names of its run (``RunHead``).
HEAD_FIELDS = ("id", "partner_id", "design_id", "parent_run_id", "run_type", "status")


def event_payload_of(head: Mapping[str, Any], actor: Actor, **extra: Any) -> dict[str, Any]:
    """``event_payload`` for a run given as its columns (a Core row's dict)."""
    payload: dict[str, Any] = {
        "production_run_id": head["id"],
        "partner_id": head["partner_id"],
        "design_id": head["design_id"],
        "parent_run_id": head["parent_run_id"],
        "run_type": head["run_type"],
        "status": head["status"],
        "actor_type": actor.type.value,
        "actor_id": actor.id,
        "channel": actor.channel.value,
    }
    payload.update(extra)
    return payload


def actor_of(payload: dict[str, Any]) -> Actor:
    """The actor an ``event_payload`` names (a reaction acts on behalf of the same actor)."""
    return Actor(
        ActorType(payload["actor_type"]),
        payload.get("actor_id"),
        Channel(payload.get("channel") or Channel.API),
    )


def record_change(
    session: Session,
    run: ProductionRun,
    kind: str,
    actor: Actor,
    *,
    from_status: str | None = None,
    data: dict[str, Any] | None = None,
    event: str | None = None,
) -> None:
    """Audit ``kind`` on the run and, when ``event`` is given, queue ``production_run.<event>``.

    ``from_status`` is the status before the change (``None`` when it did not change).
    """
    refresh_gate(run)  # keep current_gate/gate_deadline_at in step with every change
    head = {name: getattr(run, name) for name in HEAD_FIELDS}
    record_change_of(session, head, kind, actor, from_status=from_status, data=data, event=event)


def record_change_of(
    session: Session,
    head: Mapping[str, Any],
    kind: str,
    actor: Actor,
    *,
    from_status: str | None = None,
    data: dict[str, Any] | None = None,
    event: str | None = None,
) -> None:
    """``record_change`` for a run written without the ORM: ``head`` holds its ``HEAD_FIELDS``
    after the change (its gate columns were written with it)."""
    status = head["status"]
    to_status = status if from_status is not None and from_status != status else None
    # The audit row and the event are inserted at once, each by one statement, not tracked by the
    # unit of work (the run's pending change is flushed first, so rows keep their order).
    audit.record_many(
        session,
        [head["id"]],
        kind,
        actor,
        from_status=from_status if to_status else None,
        to_status=to_status,
        data=data,
    )
    if event:
        payload = event_payload_of(head, actor, **(data or {}))
        outbox.emit_many(session, f"production_run.{event}", [payload])
