"""The run status machine as one pure function.

``check(action, facts, policy)`` answers *allowed* or a refusal with a stable ``code`` and a
``detail`` that says why. The allowed-from sets come from the stored policy (admins can change
them); the facts a transition needs (accepted before start, started before finish, ...) are not
configurable, because breaking them would corrupt the run's history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from atelier.production.errors import ProductionCode


class RunStatus(StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    SENT_TO_PARTNER = "sent_to_partner"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    AWAITING_REASSIGNMENT = "awaiting_reassignment"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.CANCELLED})
ACTIVE = frozenset(set(RunStatus) - TERMINAL)
# Work is with the partner (what reminders and gate deadlines look at).
WITH_PARTNER = frozenset({RunStatus.SENT_TO_PARTNER, RunStatus.IN_PROGRESS})


class Action(StrEnum):
    APPROVE = "approve"
    DISPATCH = "dispatch"  # start a dispatch: pause in awaiting_templates until confirmed
    CONFIRM_DISPATCH = "confirm_dispatch"  # confirm the paused dispatch with templates
    CANCEL_DISPATCH = "cancel_dispatch"  # abandon the paused dispatch
    SEND_TO_PRODUCTION = "send_to_production"  # dispatch in one step (paused or not)
    ACCEPT = "accept"
    START = "start"
    FINISH = "finish"
    COMPLETE = "complete"
    DECLINE = "decline"
    REASSIGN = "reassign"
    CANCEL = "cancel"
    EDIT = "edit"
    ADD_TASKS = "add_tasks"
    PROGRESS = "progress"
    LOG_CONSUMPTION = "log_consumption"
    ATTACH_MEDIA = "attach_media"
    HOLD = "hold"
    RELEASE = "release"


S = RunStatus
DEFAULT_ALLOWED_FROM: dict[Action, frozenset[RunStatus]] = {
    Action.APPROVE: frozenset({S.DRAFT, S.PENDING_REVIEW}),
    Action.DISPATCH: frozenset({S.APPROVED}),
    Action.CONFIRM_DISPATCH: frozenset({S.APPROVED}),
    # Leaving a pause is always possible while the run is open (the pause itself is the guard).
    Action.CANCEL_DISPATCH: ACTIVE,
    Action.SEND_TO_PRODUCTION: frozenset({S.APPROVED}),
    Action.ACCEPT: frozenset({S.SENT_TO_PARTNER}),
    Action.START: frozenset({S.IN_PROGRESS}),
    Action.FINISH: frozenset({S.IN_PROGRESS}),
    Action.COMPLETE: frozenset({S.IN_PROGRESS}),
    Action.DECLINE: frozenset({S.APPROVED, S.SENT_TO_PARTNER, S.IN_PROGRESS}),
    Action.REASSIGN: frozenset(
        {S.AWAITING_REASSIGNMENT, S.DRAFT, S.PENDING_REVIEW, S.APPROVED, S.SENT_TO_PARTNER}
    ),
    Action.CANCEL: ACTIVE,
    Action.EDIT: frozenset(
        {S.DRAFT, S.PENDING_REVIEW, S.APPROVED, S.SENT_TO_PARTNER, S.AWAITING_REASSIGNMENT}
    ),
    Action.ADD_TASKS: frozenset({S.SENT_TO_PARTNER, S.IN_PROGRESS}),
    Action.PROGRESS: frozenset({S.IN_PROGRESS}),
    Action.LOG_CONSUMPTION: frozenset({S.IN_PROGRESS}),
    Action.ATTACH_MEDIA: ACTIVE,
    Action.HOLD: ACTIVE,
    Action.RELEASE: ACTIVE,
}
del S

# Actions whose allowed-from set may never include a terminal status, whatever the policy says.
_NEVER_FROM_TERMINAL = frozenset(Action)

# The verbs a partner performs on its own run (what a partner's view of a run offers).
PARTNER_ACTIONS = (
    Action.ACCEPT,
    Action.DECLINE,
    Action.START,
    Action.PROGRESS,
    Action.FINISH,
    Action.COMPLETE,
    Action.LOG_CONSUMPTION,
    Action.ATTACH_MEDIA,
)

# The dispatch verbs share one family of refusals; messages name them all "dispatch".
_DISPATCH_FAMILY = frozenset(
    {
        Action.DISPATCH,
        Action.CONFIRM_DISPATCH,
        Action.CANCEL_DISPATCH,
        Action.SEND_TO_PRODUCTION,
    }
)


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """Allowed-from sets per action; built from the stored ``lifecycle`` policy document."""

    allowed_from: Mapping[Action, frozenset[RunStatus]]

    @classmethod
    def default(cls) -> LifecyclePolicy:
        return cls(dict(DEFAULT_ALLOWED_FROM))

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> LifecyclePolicy:
        """Parse ``{"allowed_from": {action: [status, ...]}}``; missing actions keep defaults."""
        allowed = dict(DEFAULT_ALLOWED_FROM)
        raw = document.get("allowed_from", {})
        if not isinstance(raw, Mapping):
            raise ValueError("allowed_from must be an object of action -> [status]")
        for name, statuses in raw.items():
            try:
                action = Action(name)
            except ValueError as exc:
                raise ValueError(f"unknown action {name!r}") from exc
            if not isinstance(statuses, Sequence) or isinstance(statuses, str):
                raise ValueError(f"allowed_from.{name} must be a list of statuses")
            parsed = set()
            for status in statuses:
                try:
                    parsed.add(RunStatus(status))
                except ValueError as exc:
                    raise ValueError(f"unknown status {status!r} in allowed_from.{name}") from exc
            if parsed & TERMINAL and action in _NEVER_FROM_TERMINAL:
                raise ValueError(f"{name} cannot be allowed from a terminal status")
            if not parsed:
                raise ValueError(f"allowed_from.{name} must not be empty")
            allowed[action] = frozenset(parsed)
        return cls(allowed)

    def to_document(self) -> dict[str, Any]:
        return {
            "allowed_from": {
                action.value: sorted(s.value for s in self.allowed_from[action])
                for action in Action
            }
        }


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the decision needs to know about a run, and nothing else."""

    status: RunStatus
    has_partner: bool = False
    accepted: bool = False
    started: bool = False
    finished: bool = False
    dispatch_state: str = "idle"
    waiting_on: tuple[str, ...] = field(default=())
    on_hold: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    code: str = "ok"
    detail: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def _refuse(code: str, detail: str) -> Decision:
    return Decision(False, code, detail)


_ALREADY: dict[Action, tuple[str, str]] = {
    Action.APPROVE: (ProductionCode.ALREADY_APPROVED, "the run is already approved"),
    Action.ACCEPT: (ProductionCode.ALREADY_ACCEPTED, "the run was already accepted"),
    **dict.fromkeys(
        _DISPATCH_FAMILY - {Action.CANCEL_DISPATCH},
        (ProductionCode.ALREADY_DISPATCHED, "the run was already dispatched"),
    ),
    # Outside the allowed-from set because the partner accepted: say that, not just the status.
    Action.REASSIGN: (
        ProductionCode.ALREADY_ACCEPTED,
        "the partner has accepted the run; it can no longer be reassigned",
    ),
    Action.EDIT: (
        ProductionCode.ALREADY_ACCEPTED,
        "the partner has accepted the run; it can no longer be edited",
    ),
}


def check(action: Action, facts: RunFacts, policy: LifecyclePolicy | None = None) -> Decision:
    """Allowed, or the reason ``action`` may not happen to a run with ``facts``."""
    policy = policy or LifecyclePolicy.default()
    status = facts.status
    if status in TERMINAL:
        if action is Action.COMPLETE and status is RunStatus.COMPLETED:
            return _refuse(ProductionCode.ALREADY_COMPLETED, "the run is already completed")
        if action is Action.CANCEL and status is RunStatus.CANCELLED:
            return _refuse(ProductionCode.ALREADY_CANCELLED, "the run is already cancelled")
        return _refuse(
            ProductionCode.RUN_TERMINAL,
            f"the run is {status.value}; no further changes are allowed",
        )

    if status not in policy.allowed_from[action]:
        if action in _ALREADY and _is_past(action, facts):
            code, detail = _ALREADY[action]
            return _refuse(code, detail)
        allowed = ", ".join(sorted(s.value for s in policy.allowed_from[action]))
        verb = "dispatch" if action in _DISPATCH_FAMILY else action.value.replace("_", " ")
        return _refuse(
            ProductionCode.INVALID_STATUS,
            f"cannot {verb} a run that is {status.value} (allowed from: {allowed})",
        )
    return _check_facts(action, facts)


def allowed_actions(
    facts: RunFacts, policy: LifecyclePolicy | None = None, among: Sequence[Action] = tuple(Action)
) -> list[Action]:
    """The actions of ``among`` that ``check`` allows now (what a UI may offer as buttons)."""
    return [action for action in among if check(action, facts, policy)]


def _is_past(action: Action, facts: RunFacts) -> bool:
    past_approval = {RunStatus.APPROVED, RunStatus.SENT_TO_PARTNER, RunStatus.IN_PROGRESS}
    if action is Action.APPROVE:
        return facts.status in past_approval
    if action in _DISPATCH_FAMILY:
        return facts.status in {RunStatus.SENT_TO_PARTNER, RunStatus.IN_PROGRESS}
    if action in (Action.ACCEPT, Action.REASSIGN, Action.EDIT):
        return facts.accepted
    return False


_AWAITING_TEMPLATES = "awaiting_templates"


def _check_dispatch(action: Action, facts: RunFacts) -> Decision:
    paused = facts.dispatch_state == _AWAITING_TEMPLATES
    if action in (Action.CONFIRM_DISPATCH, Action.CANCEL_DISPATCH) and not paused:
        detail = "the run is not waiting for templates"
        if action is Action.CONFIRM_DISPATCH:
            detail += "; start with POST .../dispatch"
        return _refuse(ProductionCode.DISPATCH_NOT_PENDING, detail)
    if action is Action.CANCEL_DISPATCH:
        return ALLOW
    if not facts.has_partner:
        return _refuse(
            ProductionCode.PARTNER_REQUIRED, "assign a partner before dispatching the run"
        )
    if action is Action.DISPATCH and paused:
        return _refuse(
            ProductionCode.DISPATCH_PENDING,
            "dispatch already started and waits for templates; confirm or cancel it",
        )
    if facts.waiting_on:
        waiting = ", ".join(facts.waiting_on)
        return _refuse(
            ProductionCode.DEPENDENCIES_PENDING,
            f"the run waits on runs that are not completed yet: {waiting}",
        )
    return ALLOW


def _check_facts(action: Action, facts: RunFacts) -> Decision:
    if action in _DISPATCH_FAMILY:
        return _check_dispatch(action, facts)
    match action:
        case Action.ACCEPT:
            if not facts.has_partner:
                return _refuse(
                    ProductionCode.PARTNER_REQUIRED, "the run has no partner to accept it"
                )
        case Action.START:
            if not facts.accepted:
                return _refuse(
                    ProductionCode.NOT_ACCEPTED, "the run must be accepted before it is started"
                )
            if facts.started:
                return _refuse(ProductionCode.ALREADY_STARTED, "the run was already started")
        case Action.FINISH:
            if not facts.started:
                return _refuse(
                    ProductionCode.NOT_STARTED, "the run must be started before it is finished"
                )
            if facts.finished:
                return _refuse(ProductionCode.ALREADY_FINISHED, "the run was already finished")
        case Action.COMPLETE:
            if not facts.finished:
                return _refuse(
                    ProductionCode.NOT_FINISHED, "the run must be finished before it is completed"
                )
        case Action.DECLINE:
            if facts.started:
                return _refuse(ProductionCode.ALREADY_STARTED, "a started run cannot be declined")
        case Action.REASSIGN | Action.EDIT:
            if facts.accepted:
                return _refuse(
                    ProductionCode.ALREADY_ACCEPTED,
                    f"the partner has accepted the run; it can no longer be {_past(action)}",
                )
        case Action.PROGRESS | Action.LOG_CONSUMPTION:
            if not facts.accepted:
                return _refuse(ProductionCode.NOT_ACCEPTED, "the run must be accepted first")
        case Action.HOLD:
            if facts.on_hold:
                return _refuse(
                    ProductionCode.ALREADY_ON_HOLD, "the run is already on hold; release it first"
                )
        case Action.RELEASE:
            if not facts.on_hold:
                return _refuse(ProductionCode.NOT_ON_HOLD, "the run is not on hold")
        case _:
            pass
    return ALLOW


def _past(action: Action) -> str:
    return {Action.REASSIGN: "reassigned", Action.EDIT: "edited"}.get(action, action.value)
