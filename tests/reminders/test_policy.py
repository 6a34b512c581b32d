"""The pure decisions: bucket and overdue classification, cadence, cap, escalation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from atelier.reminders.policy import (
    Bucket,
    Decision,
    Policy,
    ReminderHistory,
    RunFacts,
    Skip,
    Thresholds,
    business_day,
    classify_run,
    decide_reminder,
    reminder_context_id,
)

NOW = datetime(2026, 11, 10, 4, 30, tzinfo=UTC)
H = timedelta(hours=1)


def facts(**changes: object) -> RunFacts:
    base: dict[str, object] = {
        "status": "sent_to_partner",
        "has_partner": True,
        "on_hold": False,
        "waiting_on_dependencies": False,
        "created_at": NOW - 100 * H,
        "dispatch_completed_at": NOW - 30 * H,
        "accepted_at": None,
        "started_at": None,
        "last_activity_at": None,
    }
    base.update(changes)
    return RunFacts(**base)  # type: ignore[arg-type]


class TestClassify:
    @pytest.mark.parametrize(
        ("run", "bucket", "skip"),
        [
            (facts(), Bucket.ASSIGNMENT_PENDING, None),
            (facts(dispatch_completed_at=NOW - 23 * H), Bucket.ASSIGNMENT_PENDING, Skip.NOT_DUE),
            (facts(has_partner=False), Bucket.ASSIGNMENT_PENDING, Skip.NO_PARTNER),
            (facts(on_hold=True), Bucket.ASSIGNMENT_PENDING, Skip.ON_HOLD),
            (
                facts(waiting_on_dependencies=True),
                Bucket.ASSIGNMENT_PENDING,
                Skip.WAITING_ON_DEPENDENCIES,
            ),
            (facts(status="in_progress", accepted_at=NOW - 25 * H), Bucket.NOT_STARTED, None),
            (
                facts(status="in_progress", accepted_at=NOW - 2 * H),
                Bucket.NOT_STARTED,
                Skip.NOT_DUE,
            ),
            (
                facts(status="in_progress", accepted_at=NOW - 99 * H, started_at=NOW - 73 * H),
                Bucket.IDLE,
                None,
            ),
            # Reporting progress daily is not idle, however long ago the run started.
            (
                facts(
                    status="in_progress",
                    accepted_at=NOW - 400 * H,
                    started_at=NOW - 300 * H,
                    last_activity_at=NOW - 20 * H,
                ),
                Bucket.IDLE,
                Skip.NOT_DUE,
            ),
            (
                facts(status="awaiting_reassignment", has_partner=False),
                Bucket.ASSIGNMENT_PENDING,
                None,
            ),
        ],
    )
    def test_table(self, run: RunFacts, bucket: Bucket, skip: Skip | None) -> None:
        verdict = classify_run(run, NOW, Thresholds())
        assert (verdict.bucket, verdict.skip) == (bucket, skip)

    def test_days_and_parked(self) -> None:
        assert classify_run(facts(), NOW, Thresholds()).days == 1
        parked = classify_run(facts(status="awaiting_reassignment"), NOW, Thresholds())
        assert parked.parked and parked.overdue

    def test_thresholds_apply_per_bucket(self) -> None:
        strict = Thresholds(assignment_pending=timedelta(hours=48))
        assert classify_run(facts(), NOW, strict).skip is Skip.NOT_DUE


D1 = date(2026, 11, 10)


def day(n: int) -> date:
    """Overdue day ``n`` (day 1 = D1)."""
    return D1 + timedelta(days=n - 1)


class TestDecide:
    policy = Policy()

    def test_first_overdue_day_sends(self) -> None:
        verdict = decide_reminder(
            Bucket.ASSIGNMENT_PENDING, False, ReminderHistory(), day(1), self.policy
        )
        assert verdict.decision is Decision.SEND and verdict.next_due_day == day(3)

    def test_cadence_day_1_3_7_then_weekly(self) -> None:
        policy = Policy(cap=10)
        sent: list[date] = []
        for n in range(1, 30):
            history = ReminderHistory(
                delivered=len(sent),
                last_delivered_day=sent[-1] if sent else None,
                last_attempt_day=sent[-1] if sent else None,
            )
            if (
                decide_reminder(Bucket.IDLE, False, history, day(n), policy).decision
                is Decision.SEND
            ):
                sent.append(day(n))
        assert sent == [day(1), day(3), day(7), day(14), day(21), day(28)]

    def test_once_per_day(self) -> None:
        history = ReminderHistory(last_attempt_day=day(1), in_flight=True)
        assert (
            decide_reminder(Bucket.IDLE, False, history, day(1), self.policy).decision
            is Decision.SENT_TODAY
        )

    def test_in_flight_waits(self) -> None:
        history = ReminderHistory(last_attempt_day=day(1), in_flight=True)
        assert (
            decide_reminder(Bucket.IDLE, False, history, day(2), self.policy).decision
            is Decision.IN_FLIGHT
        )

    def test_a_failed_send_is_retried_the_next_day(self) -> None:
        history = ReminderHistory(delivered=0, last_attempt_day=day(1))
        assert (
            decide_reminder(Bucket.IDLE, False, history, day(2), self.policy).decision
            is Decision.SEND
        )

    @pytest.mark.parametrize(
        ("bucket", "action"),
        [
            (Bucket.ASSIGNMENT_PENDING, Decision.PARK),
            (Bucket.NOT_STARTED, Decision.ESCALATE),
            (Bucket.IDLE, Decision.ESCALATE),
        ],
    )
    def test_cap_parks_or_escalates_on_the_next_cadence_day(
        self, bucket: Bucket, action: Decision
    ) -> None:
        history = ReminderHistory(delivered=2, last_delivered_day=day(3), last_attempt_day=day(3))
        assert (
            decide_reminder(bucket, False, history, day(6), self.policy).decision
            is Decision.NOT_DUE
        )
        verdict = decide_reminder(bucket, False, history, day(7), self.policy)
        assert verdict.decision is action and verdict.next_due_day == day(14)

    def test_escalations_repeat_weekly(self) -> None:
        history = ReminderHistory(delivered=2, last_delivered_day=day(3), escalated_day=day(7))
        assert (
            decide_reminder(Bucket.IDLE, False, history, day(13), self.policy).decision
            is Decision.WAIT_ESCALATION
        )
        assert (
            decide_reminder(Bucket.IDLE, False, history, day(14), self.policy).decision
            is Decision.ESCALATE
        )
        parked = ReminderHistory(escalated_day=day(7))
        assert (
            decide_reminder(Bucket.ASSIGNMENT_PENDING, True, parked, day(10), self.policy).decision
            is Decision.WAIT_ESCALATION
        )
        assert (
            decide_reminder(Bucket.ASSIGNMENT_PENDING, True, parked, day(14), self.policy).decision
            is Decision.ESCALATE
        )

    def test_policy_days(self) -> None:
        policy = Policy(cadence_days=(1, 2), then_every_days=3)
        assert [policy.day_of(n) for n in range(1, 6)] == [1, 2, 5, 8, 11]


def test_business_day_and_context_id() -> None:
    zone = ZoneInfo("Asia/Kolkata")
    late_utc = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)  # 01:30 on the 10th in Kolkata
    assert business_day(late_utc, zone) == date(2026, 11, 10)
    assert reminder_context_id("prod_run_1", date(2026, 11, 10)) == "prod_run_1:reminder:2026-11-10"
