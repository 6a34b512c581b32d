"""Pure decisions of the reminder system: which bucket a run is in, whether it is overdue, and
what to do about it today (remind, wait, park, escalate). No I/O; table-tested.

Days are calendar days in the business time zone: "day 1" is the first day a run is overdue,
and "once per day" means once per business date, whatever the hour of the pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Bucket(StrEnum):
    ASSIGNMENT_PENDING = "assignment_pending"  # sent, not accepted
    NOT_STARTED = "not_started"  # accepted, not started
    IDLE = "idle"  # started, no real activity


class Skip(StrEnum):
    NO_PARTNER = "no_partner"
    ON_HOLD = "on_hold"
    WAITING_ON_DEPENDENCIES = "waiting_on_dependencies"
    NOT_DUE = "not_due"


class Decision(StrEnum):
    SEND = "send"
    NOT_DUE = "not_due"  # the cadence says a later day
    SENT_TODAY = "sent_today"  # per-day dedup: this business day already has its reminder
    IN_FLIGHT = "in_flight"  # the last reminder's delivery is not known yet
    PARK = "park"  # cap reached, not accepted: → awaiting_reassignment
    ESCALATE = "escalate"  # cap reached (accepted) or parked: tell the admins
    WAIT_ESCALATION = "wait_escalation"  # escalated; the next one is a week later


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How long a run may sit in a bucket before it is overdue."""

    assignment_pending: timedelta = timedelta(hours=24)
    not_started: timedelta = timedelta(hours=24)
    idle: timedelta = timedelta(hours=72)

    def for_bucket(self, bucket: Bucket) -> timedelta:
        return {
            Bucket.ASSIGNMENT_PENDING: self.assignment_pending,
            Bucket.NOT_STARTED: self.not_started,
            Bucket.IDLE: self.idle,
        }[bucket]


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What classification needs to know about a run."""

    status: str
    has_partner: bool
    on_hold: bool
    waiting_on_dependencies: bool
    created_at: datetime
    dispatch_completed_at: datetime | None
    accepted_at: datetime | None
    started_at: datetime | None
    last_activity_at: datetime | None


@dataclass(frozen=True, slots=True)
class Classification:
    bucket: Bucket | None
    skip: Skip | None
    anchor_at: datetime | None = None  # when the stall began (sent / accepted / last activity)
    days: int = 0  # whole days since the anchor
    parked: bool = False

    @property
    def overdue(self) -> bool:
        return self.bucket is not None and self.skip is None


def bucket_of(facts: RunFacts) -> Bucket:
    if facts.status in ("sent_to_partner", "awaiting_reassignment"):
        return Bucket.ASSIGNMENT_PENDING
    if facts.started_at is None:
        return Bucket.NOT_STARTED
    return Bucket.IDLE


def anchor_of(bucket: Bucket, facts: RunFacts) -> datetime:
    """When the stall in ``bucket`` began. Idle counts from the last real activity (progress,
    task update, consumption, media, comment), not merely from ``started_at``."""
    if bucket is Bucket.ASSIGNMENT_PENDING:
        return facts.dispatch_completed_at or facts.created_at
    if bucket is Bucket.NOT_STARTED:
        return facts.accepted_at or facts.created_at
    candidates = [t for t in (facts.started_at, facts.last_activity_at) if t is not None]
    return max(candidates) if candidates else facts.created_at


def classify_run(facts: RunFacts, now: datetime, thresholds: Thresholds) -> Classification:
    """The run's bucket, or why it is skipped (no partner, waiting on the brand, not overdue)."""
    bucket = bucket_of(facts)
    if facts.status == "awaiting_reassignment":
        # Parked by the reminders: only the weekly escalation to admins remains.
        anchor = anchor_of(bucket, facts)
        return Classification(bucket, None, anchor, _days(anchor, now), parked=True)
    if not facts.has_partner:
        return Classification(bucket, Skip.NO_PARTNER)
    if facts.on_hold:
        return Classification(bucket, Skip.ON_HOLD)
    if facts.waiting_on_dependencies:
        return Classification(bucket, Skip.WAITING_ON_DEPENDENCIES)
    anchor = anchor_of(bucket, facts)
    if now - anchor < thresholds.for_bucket(bucket):
        return Classification(bucket, Skip.NOT_DUE, anchor, _days(anchor, now))
    return Classification(bucket, None, anchor, _days(anchor, now))


def _days(anchor: datetime, now: datetime) -> int:
    return max(0, int((now - anchor).total_seconds() // 86400))


@dataclass(frozen=True, slots=True)
class Policy:
    """Cadence, cap and escalation; the discoverer's step options (editable without a deploy).

    ``cadence_days`` are the overdue days reminders go out on (day 1, 3, 7), then one every
    ``then_every_days``. After ``cap`` delivered reminders in a bucket, the next due day parks
    an unaccepted run (→ awaiting reassignment) or escalates an accepted one to admins; parked
    and escalated runs are escalated again every ``escalate_every_days``.
    """

    cadence_days: tuple[int, ...] = (1, 3, 7)
    then_every_days: int = 7
    cap: int = 2
    escalate_every_days: int = 7

    def gap_after(self, sent: int) -> int:
        """Days between reminder number ``sent`` (1-based, already delivered) and the next."""
        return self.day_of(sent + 1) - self.day_of(sent)

    def day_of(self, number: int) -> int:
        """The overdue day reminder ``number`` (1-based) is due on."""
        if number <= len(self.cadence_days):
            return self.cadence_days[number - 1]
        return self.cadence_days[-1] + self.then_every_days * (number - len(self.cadence_days))


@dataclass(frozen=True, slots=True)
class ReminderHistory:
    """This episode's reminders as far as the decision needs them (business dates)."""

    delivered: int = 0
    last_delivered_day: date | None = None
    last_attempt_day: date | None = None
    in_flight: bool = False
    escalated_day: date | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    next_due_day: date | None


def decide_reminder(
    bucket: Bucket, parked: bool, history: ReminderHistory, today: date, policy: Policy
) -> Verdict:
    """What to do today for an overdue run (level-triggered: a missed day is not a lost one)."""
    every = timedelta(days=policy.escalate_every_days)
    if parked:
        return _escalation(history, today, every)
    if history.last_attempt_day == today:
        return Verdict(Decision.SENT_TODAY, _next_day(history, policy, today))
    if history.in_flight:
        return Verdict(Decision.IN_FLIGHT, today + timedelta(days=1))
    due = _next_day(history, policy, today)
    if history.delivered >= policy.cap:
        if history.escalated_day is not None:
            return _escalation(history, today, every)
        if today < due:
            return Verdict(Decision.NOT_DUE, due)
        action = Decision.PARK if bucket is Bucket.ASSIGNMENT_PENDING else Decision.ESCALATE
        return Verdict(action, today + every)
    if today < due:
        return Verdict(Decision.NOT_DUE, due)
    return Verdict(Decision.SEND, today + timedelta(days=policy.gap_after(history.delivered + 1)))


def _next_day(history: ReminderHistory, policy: Policy, today: date) -> date:
    if history.delivered == 0 or history.last_delivered_day is None:
        return today if history.last_attempt_day != today else today + timedelta(days=1)
    return history.last_delivered_day + timedelta(days=policy.gap_after(history.delivered))


def _escalation(history: ReminderHistory, today: date, every: timedelta) -> Verdict:
    if history.escalated_day is None or today >= history.escalated_day + every:
        return Verdict(Decision.ESCALATE, today + every)
    return Verdict(Decision.WAIT_ESCALATION, history.escalated_day + every)


def business_day(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar date of ``moment`` in the business time zone."""
    return moment.astimezone(zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in ``zone`` (an aware datetime)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def reminder_context_id(run_id: str, day: date) -> str:
    """The per-day dedup key of a run reminder: ``<run_id>:reminder:<YYYY-MM-DD>``."""
    return f"{run_id}:reminder:{day.isoformat()}"


def digest_context_id(partner_id: str, day: date) -> str:
    """The per-day dedup key of a partner digest (the send operation uses the same)."""
    return f"{partner_id}:digest:{day.isoformat()}"
