"""The run status machine, exhaustively: every status x every action x every combination of the
facts a decision reads. The expected answers restate SPEC §3 independently of the implementation.
"""

from __future__ import annotations

import itertools

import pytest

from atelier.production.lifecycle import (
    ACTIVE,
    PARTNER_ACTIONS,
    TERMINAL,
    Action,
    LifecyclePolicy,
    RunFacts,
    RunStatus,
    allowed_actions,
    check,
)

S = RunStatus
A = Action

# SPEC §3 "allowed from" column (and the extra verbs the API has).
SPEC_ALLOWED_FROM: dict[Action, set[RunStatus]] = {
    A.APPROVE: {S.DRAFT, S.PENDING_REVIEW},
    A.DISPATCH: {S.APPROVED},
    A.CONFIRM_DISPATCH: {S.APPROVED},
    A.CANCEL_DISPATCH: set(ACTIVE),
    A.SEND_TO_PRODUCTION: {S.APPROVED},
    A.ACCEPT: {S.SENT_TO_PARTNER},
    A.START: {S.IN_PROGRESS},
    A.FINISH: {S.IN_PROGRESS},
    A.COMPLETE: {S.IN_PROGRESS},
    A.DECLINE: {S.APPROVED, S.SENT_TO_PARTNER, S.IN_PROGRESS},
    A.REASSIGN: {S.AWAITING_REASSIGNMENT, S.DRAFT, S.PENDING_REVIEW, S.APPROVED, S.SENT_TO_PARTNER},
    A.CANCEL: set(ACTIVE),
    A.EDIT: {S.DRAFT, S.PENDING_REVIEW, S.APPROVED, S.SENT_TO_PARTNER, S.AWAITING_REASSIGNMENT},
    A.ADD_TASKS: {S.SENT_TO_PARTNER, S.IN_PROGRESS},
    A.PROGRESS: {S.IN_PROGRESS},
    A.LOG_CONSUMPTION: {S.IN_PROGRESS},
    A.ATTACH_MEDIA: set(ACTIVE),
    A.HOLD: set(ACTIVE),
    A.RELEASE: set(ACTIVE),
}

# Start a dispatch (pause), confirm the pause, or dispatch in one step.
DISPATCHING = (A.DISPATCH, A.CONFIRM_DISPATCH, A.SEND_TO_PRODUCTION)

FACT_COMBINATIONS = [
    RunFacts(
        status=S.DRAFT,  # replaced per case
        has_partner=has_partner,
        accepted=accepted,
        started=started,
        finished=finished,
        dispatch_state=dispatch_state,
        waiting_on=waiting_on,
        on_hold=on_hold,
    )
    for has_partner, accepted, started, finished, dispatch_state, waiting_on, on_hold in (
        itertools.product(
            (False, True),
            (False, True),
            (False, True),
            (False, True),
            ("idle", "awaiting_templates", "completed"),
            ((), ("prod_run_dep",)),
            (False, True),
        )
    )
]


def expected(action: Action, facts: RunFacts) -> str:
    """The code SPEC §3 implies ("ok" when allowed)."""
    status = facts.status
    if status in TERMINAL:
        if action is A.COMPLETE and status is S.COMPLETED:
            return "already_completed"
        if action is A.CANCEL and status is S.CANCELLED:
            return "already_cancelled"
        return "run_terminal"
    if status not in SPEC_ALLOWED_FROM[action]:
        past_approval = status in {S.APPROVED, S.SENT_TO_PARTNER, S.IN_PROGRESS}
        if action is A.APPROVE and past_approval:
            return "already_approved"
        if action in DISPATCHING and status in {S.SENT_TO_PARTNER, S.IN_PROGRESS}:
            return "already_dispatched"
        if action in (A.ACCEPT, A.REASSIGN, A.EDIT) and facts.accepted:
            return "already_accepted"
        return "invalid_status"
    paused = facts.dispatch_state == "awaiting_templates"
    if action in (A.CONFIRM_DISPATCH, A.CANCEL_DISPATCH) and not paused:
        return "dispatch_not_pending"
    if action is A.CANCEL_DISPATCH:
        return "ok"
    if action in DISPATCHING:
        if not facts.has_partner:
            return "partner_required"
        if action is A.DISPATCH and paused:
            return "dispatch_pending"
        if facts.waiting_on:
            return "dependencies_pending"
    if action is A.ACCEPT and not facts.has_partner:
        return "partner_required"
    if action is A.START:
        if not facts.accepted:
            return "not_accepted"
        if facts.started:
            return "already_started"
    if action is A.FINISH:
        if not facts.started:
            return "not_started"
        if facts.finished:
            return "already_finished"
    if action is A.COMPLETE and not facts.finished:
        return "not_finished"
    if action is A.DECLINE and facts.started:
        return "already_started"
    if action in (A.REASSIGN, A.EDIT) and facts.accepted:
        return "already_accepted"
    if action in (A.PROGRESS, A.LOG_CONSUMPTION) and not facts.accepted:
        return "not_accepted"
    if action is A.HOLD and facts.on_hold:
        return "already_on_hold"
    if action is A.RELEASE and not facts.on_hold:
        return "not_on_hold"
    return "ok"


def _with_status(facts: RunFacts, status: RunStatus) -> RunFacts:
    return RunFacts(
        status=status,
        has_partner=facts.has_partner,
        accepted=facts.accepted,
        started=facts.started,
        finished=facts.finished,
        dispatch_state=facts.dispatch_state,
        waiting_on=facts.waiting_on,
        on_hold=facts.on_hold,
    )


class TestExhaustiveTable:
    @pytest.mark.parametrize("action", list(Action), ids=str)
    @pytest.mark.parametrize("status", list(RunStatus), ids=str)
    def test_every_fact_combination(self, status: RunStatus, action: Action) -> None:
        policy = LifecyclePolicy.default()
        for base in FACT_COMBINATIONS:
            facts = _with_status(base, status)
            decision = check(action, facts, policy)
            want = expected(action, facts)
            assert decision.code == want, (action, facts, decision)
            assert decision.allowed is (want == "ok"), (action, facts, decision)
            if not decision.allowed:
                assert decision.detail, "a refusal must say why"

    def test_default_policy_matches_spec(self) -> None:
        policy = LifecyclePolicy.default()
        for action in Action:
            assert set(policy.allowed_from[action]) == SPEC_ALLOWED_FROM[action], action


class TestSpecRows:
    """One allowed and one refused case per row of SPEC §3, with the detail that says why."""

    @pytest.mark.parametrize(
        ("action", "facts"),
        [
            (A.APPROVE, RunFacts(S.PENDING_REVIEW)),
            (A.APPROVE, RunFacts(S.DRAFT)),
            (A.DISPATCH, RunFacts(S.APPROVED, has_partner=True)),
            (A.ACCEPT, RunFacts(S.SENT_TO_PARTNER, has_partner=True)),
            (A.START, RunFacts(S.IN_PROGRESS, has_partner=True, accepted=True)),
            (A.FINISH, RunFacts(S.IN_PROGRESS, accepted=True, started=True)),
            (A.COMPLETE, RunFacts(S.IN_PROGRESS, accepted=True, started=True, finished=True)),
            (A.DECLINE, RunFacts(S.SENT_TO_PARTNER, has_partner=True)),
            (A.DECLINE, RunFacts(S.IN_PROGRESS, has_partner=True, accepted=True)),
            (A.REASSIGN, RunFacts(S.AWAITING_REASSIGNMENT)),
            (A.REASSIGN, RunFacts(S.SENT_TO_PARTNER, has_partner=True)),
            (A.CANCEL, RunFacts(S.IN_PROGRESS, accepted=True, started=True)),
        ],
    )
    def test_allowed(self, action: Action, facts: RunFacts) -> None:
        assert check(action, facts).allowed

    @pytest.mark.parametrize(
        "action", [A.CONFIRM_DISPATCH, A.CANCEL_DISPATCH, A.SEND_TO_PRODUCTION], ids=str
    )
    def test_a_paused_dispatch_can_be_confirmed_cancelled_or_sent(self, action: Action) -> None:
        paused = RunFacts(S.APPROVED, has_partner=True, dispatch_state="awaiting_templates")
        assert check(action, paused).allowed
        assert check(A.DISPATCH, paused).code == "dispatch_pending"


class TestAllowedActions:
    """``allowed_actions`` is ``check`` over every verb: what a UI may show as buttons."""

    @pytest.mark.parametrize("status", list(RunStatus), ids=str)
    def test_is_exactly_what_check_allows(self, status: RunStatus) -> None:
        for base in FACT_COMBINATIONS:
            facts = _with_status(base, status)
            want = [a for a in Action if expected(a, facts) == "ok"]
            assert allowed_actions(facts) == want, facts

    def test_among_limits_the_verbs(self) -> None:
        facts = RunFacts(S.SENT_TO_PARTNER, has_partner=True)
        assert allowed_actions(facts, among=PARTNER_ACTIONS) == [
            A.ACCEPT,
            A.DECLINE,
            A.ATTACH_MEDIA,
        ]

    def test_a_terminal_run_offers_nothing(self) -> None:
        assert allowed_actions(RunFacts(S.COMPLETED, has_partner=True, accepted=True)) == []

    @pytest.mark.parametrize(
        ("action", "facts", "code", "says"),
        [
            (A.APPROVE, RunFacts(S.APPROVED), "already_approved", "already approved"),
            (A.APPROVE, RunFacts(S.AWAITING_REASSIGNMENT), "invalid_status", "allowed from"),
            (A.DISPATCH, RunFacts(S.APPROVED), "partner_required", "partner"),
            (
                A.DISPATCH,
                RunFacts(S.APPROVED, has_partner=True, waiting_on=("prod_run_x",)),
                "dependencies_pending",
                "prod_run_x",
            ),
            (A.DISPATCH, RunFacts(S.PENDING_REVIEW), "invalid_status", "pending_review"),
            (A.ACCEPT, RunFacts(S.APPROVED, has_partner=True), "invalid_status", "approved"),
            (
                A.ACCEPT,
                RunFacts(S.IN_PROGRESS, has_partner=True, accepted=True),
                "already_accepted",
                "already accepted",
            ),
            (A.START, RunFacts(S.IN_PROGRESS), "not_accepted", "accepted before"),
            (
                A.START,
                RunFacts(S.IN_PROGRESS, accepted=True, started=True),
                "already_started",
                "already started",
            ),
            (A.FINISH, RunFacts(S.IN_PROGRESS, accepted=True), "not_started", "started before"),
            (
                A.COMPLETE,
                RunFacts(S.IN_PROGRESS, accepted=True, started=True),
                "not_finished",
                "finished before",
            ),
            (A.COMPLETE, RunFacts(S.COMPLETED), "already_completed", "already completed"),
            (
                A.DECLINE,
                RunFacts(S.IN_PROGRESS, accepted=True, started=True),
                "already_started",
                "started run cannot be declined",
            ),
            (A.DECLINE, RunFacts(S.PENDING_REVIEW), "invalid_status", "decline"),
            (
                A.REASSIGN,
                RunFacts(S.IN_PROGRESS, has_partner=True, accepted=True),
                "already_accepted",
                "no longer be reassigned",
            ),
            (A.REASSIGN, RunFacts(S.IN_PROGRESS), "invalid_status", "in_progress"),
            (
                A.REASSIGN,
                RunFacts(S.SENT_TO_PARTNER, has_partner=True, accepted=True),
                "already_accepted",
                "accepted",
            ),
            (A.CANCEL, RunFacts(S.COMPLETED), "run_terminal", "completed"),
            (A.CANCEL, RunFacts(S.CANCELLED), "already_cancelled", "already cancelled"),
            (
                A.CONFIRM_DISPATCH,
                RunFacts(S.APPROVED, has_partner=True),
                "dispatch_not_pending",
                "start with POST .../dispatch",
            ),
            (
                A.CONFIRM_DISPATCH,
                RunFacts(S.SENT_TO_PARTNER, has_partner=True),
                "already_dispatched",
                "already dispatched",
            ),
            (A.CANCEL_DISPATCH, RunFacts(S.APPROVED), "dispatch_not_pending", "not waiting"),
            (
                A.SEND_TO_PRODUCTION,
                RunFacts(S.PENDING_REVIEW, has_partner=True),
                "invalid_status",
                "cannot dispatch a run that is pending_review",
            ),
        ],
    )
    def test_refused(self, action: Action, facts: RunFacts, code: str, says: str) -> None:
        decision = check(action, facts)
        assert not decision.allowed
        assert decision.code == code
        assert says in decision.detail


class TestStoredPolicy:
    def test_policy_narrows_allowed_from(self) -> None:
        policy = LifecyclePolicy.from_document({"allowed_from": {"approve": ["pending_review"]}})
        decision = check(A.APPROVE, RunFacts(S.DRAFT), policy)
        assert decision.code == "invalid_status"
        assert "allowed from: pending_review" in decision.detail
        assert check(A.APPROVE, RunFacts(S.PENDING_REVIEW), policy).allowed

    def test_policy_cannot_skip_facts(self) -> None:
        policy = LifecyclePolicy.from_document({"allowed_from": {"start": ["sent_to_partner"]}})
        assert check(A.START, RunFacts(S.SENT_TO_PARTNER), policy).code == "not_accepted"

    def test_missing_actions_keep_defaults(self) -> None:
        policy = LifecyclePolicy.from_document({"allowed_from": {}})
        assert policy.to_document() == LifecyclePolicy.default().to_document()

    def test_document_round_trips(self) -> None:
        document = LifecyclePolicy.default().to_document()
        assert LifecyclePolicy.from_document(document).to_document() == document

    @pytest.mark.parametrize(
        ("document", "message"),
        [
            ({"allowed_from": []}, "allowed_from must be an object"),
            ({"allowed_from": {"fly": ["draft"]}}, "unknown action 'fly'"),
            ({"allowed_from": {"approve": "draft"}}, "must be a list"),
            ({"allowed_from": {"approve": ["nowhere"]}}, "unknown status 'nowhere'"),
            ({"allowed_from": {"approve": []}}, "must not be empty"),
            ({"allowed_from": {"cancel": ["completed"]}}, "terminal status"),
            ({"allowed_from": {"approve": ["cancelled", "draft"]}}, "terminal status"),
        ],
    )
    def test_bad_documents_are_refused(self, document: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            LifecyclePolicy.from_document(document)

    def test_terminal_statuses_stay_terminal_whatever_the_policy(self) -> None:
        for action in Action:
            for status in TERMINAL:
                assert not check(action, RunFacts(status, has_partner=True, accepted=True))
