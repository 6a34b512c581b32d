"""The discoverer and the reminder policy, with their I/O: candidates come from production in
one query, decisions from ``reminders.policy``, delivery facts from notifications; state rows,
parking and escalations are written through production's ``reminder_state`` module and the
admin feed. Services never commit: the flow execution's transaction does.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from atelier.notifications import context_status
from atelier.notifications.feed import add_feed_entry
from atelier.platform.actors import Actor
from atelier.production import reminder_state
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
    digest_context_id,
    reminder_context_id,
    start_of_day,
)

log = logging.getLogger(__name__)

# Message statuses that mean the partner got it (count toward the cap) or never will.
DELIVERED = frozenset({"sent", "delivered", "read"})
FAILED = frozenset({"failed", "skipped_no_recipient"})
# A reminder still queued after this many days is treated as failed (so it is retried).
IN_FLIGHT_DAYS = 2
MAX_ATTEMPTS_KEPT = 20
RUN_CONTEXT = "production_run"
DIGEST_CONTEXT = "partner"


# --- discovery ------------------------------------------------------------------------------


@dataclass
class Discovery:
    inspected: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    stalled: list[dict[str, Any]] = field(default_factory=list)

    def as_output(self) -> dict[str, Any]:
        return {
            "inspected": self.inspected,
            "counts": {bucket.value: self.counts.get(bucket.value, 0) for bucket in Bucket},
            "parked": self.counts.get("parked", 0),
            "skipped_no_partner": self.skipped.get(Skip.NO_PARTNER, 0),
            "skipped_on_hold": self.skipped.get(Skip.ON_HOLD, 0),
            "skipped_waiting_on_dependencies": self.skipped.get(Skip.WAITING_ON_DEPENDENCIES, 0),
            "skipped_not_due": self.skipped.get(Skip.NOT_DUE, 0),
            "stalled": self.stalled,
        }


def _state_dict(state: reminder_state.ReminderState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "state_id": state.state_id,
        "anchor_at": state.anchor_at,
        "count": state.count,
        "attempts": state.attempts,
        "escalated_at": state.escalated_at,
        "escalations": state.escalations,
        "parked_at": state.parked_at,
    }


def discover(session: Session, now: datetime, thresholds: Thresholds) -> Discovery:
    """Categorise every active run in one statement (no row cap); keep the overdue ones.

    The database counts each category and returns only overdue and parked runs in full; each of
    those is classified again by ``classify_run`` (the pure, tested decision), which has the
    last word on whether it is overdue."""
    cutoffs = {bucket.value: now - thresholds.for_bucket(bucket) for bucket in Bucket}
    result = reminder_state.reminder_candidates(session, cutoffs)
    found = Discovery()
    for (category, _bucket), n in result.counts.items():
        found.inspected += n
        if category not in ("overdue", "parked"):
            found.skipped[Skip(category)] += n
    for run in result.candidates:
        facts = RunFacts(
            status=run.status,
            has_partner=run.partner_id is not None,
            on_hold=run.on_hold,
            waiting_on_dependencies=run.waiting_on_dependencies,
            created_at=run.created_at,
            dispatch_completed_at=run.dispatch_completed_at,
            accepted_at=run.accepted_at,
            started_at=run.started_at,
            last_activity_at=run.last_activity_at,
        )
        verdict = classify_run(facts, now, thresholds)
        if verdict.skip is not None or verdict.bucket is None:
            found.skipped[verdict.skip or Skip.NOT_DUE] += 1
            continue
        found.counts["parked" if verdict.parked else verdict.bucket.value] += 1
        found.stalled.append(
            {
                "production_run_id": run.id,
                "partner_id": run.partner_id,
                "design_id": run.design_id,
                "status": run.status,
                "bucket": verdict.bucket.value,
                "days": verdict.days,
                "anchor_at": verdict.anchor_at,
                "parked": verdict.parked,
                "quantity": run.quantity,
                "produced_quantity": run.produced_quantity,
                "state": _state_dict(run.state),
            }
        )
    log.info(
        "reminder discovery",
        extra={
            "inspected": found.inspected,
            "overdue": len(found.stalled),
            "skipped": {str(k): v for k, v in found.skipped.items()},
        },
    )
    return found


# --- the policy -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestOptions:
    enabled: bool = False
    min_runs: int = 2


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _reconcile(
    attempts: list[dict[str, Any]], statuses: Mapping[tuple[str, str], list[str]], today: date
) -> list[dict[str, Any]]:
    """Each attempt's delivery as known now: delivered, failed, or pending (in flight)."""
    out = []
    for attempt in attempts:
        found = statuses.get((attempt.get("context_type", RUN_CONTEXT), attempt["context_id"]))
        day = date.fromisoformat(attempt["day"])
        if found and any(s in DELIVERED for s in found):
            status = "delivered"
        elif found and all(s in FAILED or s == "deduplicated" for s in found):
            status = "failed"
        elif found:  # queued: the provider is still trying
            status = "pending" if (today - day).days < IN_FLIGHT_DAYS else "failed"
        else:  # no message: not sent yet today, or never (no template, dispatcher in draft)
            status = "pending" if day >= today else "failed"
        out.append({**attempt, "status": status})
    return out


def _history(
    attempts: list[dict[str, Any]], escalated_at: datetime | None, zone: ZoneInfo
) -> ReminderHistory:
    delivered = [a for a in attempts if a["status"] == "delivered"]
    return ReminderHistory(
        delivered=len(delivered),
        last_delivered_day=max((date.fromisoformat(a["day"]) for a in delivered), default=None),
        last_attempt_day=max((date.fromisoformat(a["day"]) for a in attempts), default=None),
        in_flight=any(a["status"] == "pending" for a in attempts),
        escalated_day=business_day(escalated_at, zone) if escalated_at else None,
    )


@dataclass
class _Work:
    """One overdue run going through the policy."""

    item: dict[str, Any]
    bucket: Bucket
    anchor_at: datetime
    state_id: int | None
    fresh: bool  # no state for this episode yet
    attempts: list[dict[str, Any]]
    escalated_at: datetime | None
    escalations: int
    parked_at: datetime | None
    changed: bool = False
    next_due_at: datetime | None = None
    last_sent_at: datetime | None = None


def _work_for(item: Mapping[str, Any]) -> _Work:
    state = item.get("state") or None
    anchor = _moment(item["anchor_at"])
    assert anchor is not None
    same_episode = bool(state and (item.get("parked") or _moment(state.get("anchor_at")) == anchor))
    return _Work(
        item=dict(item),
        bucket=Bucket(item["bucket"]),
        anchor_at=_moment(state["anchor_at"]) or anchor if same_episode and state else anchor,
        state_id=state.get("state_id") if state else None,
        fresh=not same_episode,
        attempts=list(state.get("attempts") or []) if same_episode and state else [],
        escalated_at=_moment(state.get("escalated_at")) if same_episode and state else None,
        escalations=int(state.get("escalations") or 0) if same_episode and state else 0,
        parked_at=_moment(state.get("parked_at")) if same_episode and state else None,
        changed=not same_episode,
    )


def _statuses(session: Session, works: Iterable[_Work]) -> dict[tuple[str, str], list[str]]:
    wanted: dict[str, set[str]] = {}
    for work in works:
        for attempt in work.attempts:
            if attempt.get("status") in ("pending", "delivered"):
                kind = attempt.get("context_type", RUN_CONTEXT)
                wanted.setdefault(kind, set()).add(attempt["context_id"])
    out: dict[tuple[str, str], list[str]] = {}
    for kind, ids in wanted.items():
        for context_id, found in context_status.statuses_by_context(session, kind, ids).items():
            out[(kind, context_id)] = found
    return out


def apply_policy(
    session: Session,
    now: datetime,
    stalled: Iterable[Mapping[str, Any]],
    policy: Policy,
    zone: ZoneInfo,
    *,
    digest: DigestOptions = DigestOptions(),
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Decide today's action for every overdue run; record attempts, park, escalate.

    Returns the step output: ``items`` (one per reminder to send), ``digests`` (one per
    partner when the digest is on), ``parked``/``escalated`` run ids and counts per decision.
    """
    actor = actor or Actor.scheduler()
    today = business_day(now, zone)
    works = [_work_for(item) for item in stalled]
    statuses = _statuses(session, works)
    decisions: Counter[str] = Counter()
    sends: list[_Work] = []
    parked: list[str] = []
    escalated: list[str] = []
    for work in works:
        before = [a.get("status") for a in work.attempts]
        if statuses or work.attempts:
            work.attempts = _reconcile(work.attempts, statuses, today)
        if [a.get("status") for a in work.attempts] != before:
            work.changed = True
        history = _history(work.attempts, work.escalated_at, zone)
        verdict = decide_reminder(
            work.bucket, bool(work.item.get("parked")), history, today, policy
        )
        decisions[verdict.decision.value] += 1
        delivered = [a for a in work.attempts if a["status"] == "delivered"]
        work.last_sent_at = _moment(max((a["at"] for a in delivered), default=None))
        next_due = start_of_day(verdict.next_due_day, zone) if verdict.next_due_day else None
        if next_due != work.next_due_at:
            work.next_due_at = next_due
            work.changed = (
                work.changed
                or work.state_id is None
                or verdict.decision
                in (
                    Decision.SEND,
                    Decision.PARK,
                    Decision.ESCALATE,
                )
            )
        if verdict.decision is Decision.SEND:
            sends.append(work)
        elif verdict.decision is Decision.PARK:
            if _park(session, work, now, today, actor):
                parked.append(work.item["production_run_id"])
        elif verdict.decision is Decision.ESCALATE:
            _escalate(session, work, now, today, actor)
            escalated.append(work.item["production_run_id"])
    items, digests = _plan_sends(sends, now, today, digest)
    _save(session, works, now)
    not_due = sum(
        decisions.get(d.value, 0)
        for d in (
            Decision.NOT_DUE,
            Decision.SENT_TODAY,
            Decision.IN_FLIGHT,
            Decision.WAIT_ESCALATION,
        )
    )
    return {
        "reminder_day": today.isoformat(),
        "items": items,
        "digests": digests,
        "parked": parked,
        "escalated": escalated,
        "decisions": {d.value: decisions.get(d.value, 0) for d in Decision},
        "skipped_not_due": not_due,
        "to_send": len(items) + sum(len(d["runs"]) for d in digests),
    }


def _plan_sends(
    sends: list[_Work], now: datetime, today: date, digest: DigestOptions
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    by_partner: dict[str, list[_Work]] = {}
    for work in sends:
        by_partner.setdefault(work.item["partner_id"], []).append(work)
    items: list[dict[str, Any]] = []
    digests: list[dict[str, Any]] = []
    for partner_id, group in by_partner.items():
        if digest.enabled and len(group) >= digest.min_runs:
            context_id = digest_context_id(partner_id, today)
            runs = []
            for work in group:
                _attempt(work, DIGEST_CONTEXT, context_id, now, today)
                runs.append(_payload(work, context_id, today))
            digests.append(
                {
                    "partner_id": partner_id,
                    "context_id": context_id,
                    "reminder_day": today.isoformat(),
                    "run_count": len(runs),
                    "counts": dict(Counter(r["reminder_kind"] for r in runs)),
                    "runs": runs,
                }
            )
            continue
        for work in group:
            context_id = reminder_context_id(work.item["production_run_id"], today)
            _attempt(work, RUN_CONTEXT, context_id, now, today)
            items.append(_payload(work, context_id, today))
    return items, digests


def _payload(work: _Work, context_id: str, today: date) -> dict[str, Any]:
    item = work.item
    return {
        "production_run_id": item["production_run_id"],
        "partner_id": item["partner_id"],
        "design_id": item["design_id"],
        "reminder_kind": work.bucket.value,
        "bucket": work.bucket.value,
        "days": item["days"],
        "reminder_number": sum(1 for a in work.attempts if a["status"] != "failed"),
        "context_id": context_id,
        "reminder_day": today.isoformat(),
        "quantity": item.get("quantity"),
        "produced_quantity": item.get("produced_quantity"),
    }


def _attempt(work: _Work, context_type: str, context_id: str, now: datetime, today: date) -> None:
    work.attempts = [
        *work.attempts,
        {
            "context_type": context_type,
            "context_id": context_id,
            "day": today.isoformat(),
            "at": now.isoformat(),
            "status": "pending",
        },
    ][-MAX_ATTEMPTS_KEPT:]
    work.changed = True


def _park(session: Session, work: _Work, now: datetime, today: date, actor: Actor) -> bool:
    run_id = work.item["production_run_id"]
    data = {
        "bucket": work.bucket.value,
        "reminders_delivered": sum(1 for a in work.attempts if a["status"] == "delivered"),
        "days": work.item["days"],
    }
    run = reminder_state.park_unaccepted_run(session, run_id, actor=actor, data=data)
    if run is None:
        return False
    add_feed_entry(
        session,
        "production_run.reminder_parked",
        f"Run {run_id} needs a new partner: reminders went unanswered",
        body=(
            f"{data['reminders_delivered']} reminders over {data['days']} days got no answer. "
            "The run is awaiting reassignment; assign another partner."
        ),
        run_id=run_id,
        partner_id=work.item["partner_id"],
        data=data,
        dedup_key=f"{run_id}:reminder_parked:{today.isoformat()}",
    )
    work.parked_at = now
    work.escalated_at = now
    work.escalations += 1
    work.changed = True
    return True


def _escalate(session: Session, work: _Work, now: datetime, today: date, actor: Actor) -> None:
    run_id = work.item["production_run_id"]
    parked = bool(work.item.get("parked"))
    data = {
        "bucket": work.bucket.value,
        "days": work.item["days"],
        "escalation": work.escalations + 1,
        "parked": parked,
        "reminders_delivered": sum(1 for a in work.attempts if a["status"] == "delivered"),
    }
    reminder_state.record_escalation(session, run_id, actor=actor, data=data)
    title = (
        f"Run {run_id} is still waiting for a new partner"
        if parked
        else f"Run {run_id} is stalled ({work.bucket.value.replace('_', ' ')}, {data['days']} days)"
    )
    add_feed_entry(
        session,
        "production_run.reminder_escalated",
        title,
        body="Reminders did not move it; follow up with the partner or reassign the run.",
        run_id=run_id,
        partner_id=work.item.get("partner_id"),
        data=data,
        dedup_key=f"{run_id}:reminder_escalated:{work.bucket.value}:{today.isoformat()}",
    )
    work.escalated_at = now
    work.escalations += 1
    work.changed = True


def _save(session: Session, works: list[_Work], now: datetime) -> None:
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for work in works:
        if not work.changed:
            continue
        delivered = sum(1 for a in work.attempts if a["status"] == "delivered")
        attempted = [a for a in work.attempts if a["status"] != "failed"]
        values = {
            "anchor_at": work.anchor_at,
            "count": delivered,
            "attempts": work.attempts,
            "last_attempt_at": _moment(max((a["at"] for a in attempted), default=None)),
            "last_sent_at": work.last_sent_at,
            "next_due_at": work.next_due_at,
            "escalated_at": work.escalated_at,
            "escalations": work.escalations,
            "parked_at": work.parked_at,
            "updated_at": now,
        }
        if work.state_id is not None:
            updates.append({"id": work.state_id, **values})
        else:
            inserts.append(
                {"run_id": work.item["production_run_id"], "bucket": work.bucket.value, **values}
            )
    reminder_state.save_reminder_states(session, updates, inserts)
