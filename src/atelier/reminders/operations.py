"""Flow operations of the reminder system: ``find_stalled_runs`` (the discoverer's one query
and classification, thresholds as options) and ``apply_reminder_policy`` (cadence, cap, parking,
escalation, digest). Both are step options of the seeded discoverer flow, so an operator edits
them with ``PUT /admin/flows/:id``, without a deploy."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

from pydantic import Field, field_validator

from atelier.flows.expressions import Expression
from atelier.flows.registry import Operation, OperationOptions, StepContext, operation
from atelier.platform.actors import Actor
from atelier.reminders import service
from atelier.reminders.policy import Policy, Thresholds

MAX_HOURS = 24 * 90


class FindStalledOptions(OperationOptions):
    assignment_pending_hours: float = Field(
        default=24, gt=0, le=MAX_HOURS, description="sent, not accepted, for longer than this"
    )
    not_started_hours: float = Field(
        default=24, gt=0, le=MAX_HOURS, description="accepted, not started, for longer than this"
    )
    idle_hours: float = Field(
        default=72, gt=0, le=MAX_HOURS, description="started, no real activity for this long"
    )


@operation
class FindStalledRuns(Operation[FindStalledOptions]):
    name = "find_stalled_runs"
    description = (
        "Read every active run (one query, no row cap) and bucket the overdue ones: "
        "assignment_pending, not_started, idle (from the last real activity). Runs without a "
        "partner, on hold or waiting on dependencies are counted and skipped."
    )
    Options = FindStalledOptions

    def run(self, ctx: StepContext, options: FindStalledOptions) -> dict[str, Any]:
        thresholds = Thresholds(
            assignment_pending=timedelta(hours=options.assignment_pending_hours),
            not_started=timedelta(hours=options.not_started_hours),
            idle=timedelta(hours=options.idle_hours),
        )
        return service.discover(ctx.session, ctx.now, thresholds).as_output()


class ApplyPolicyOptions(OperationOptions):
    candidates: Expression = Field(
        default="steps.find.stalled", description="expression giving the overdue runs"
    )
    cadence_days: list[int] = Field(
        default=[1, 3, 7],
        min_length=1,
        max_length=10,
        description="overdue days reminders go out on (day 1 = first overdue day)",
    )
    then_every_days: int = Field(default=7, ge=1, le=60, description="after the cadence")
    cap: int = Field(
        default=2,
        ge=1,
        le=20,
        description="delivered reminders per bucket before parking (unaccepted) or escalating",
    )
    escalate_every_days: int = Field(default=7, ge=1, le=60, description="repeat escalations")
    digest: bool = Field(default=False, description="one message per partner for several runs")
    digest_min_runs: int = Field(default=2, ge=2, le=100)

    @field_validator("cadence_days")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if value[0] < 1 or any(b <= a for a, b in pairwise(value)):
            raise ValueError("cadence_days must be increasing days, starting at 1 or later")
        return value


@operation
class ApplyReminderPolicy(Operation[ApplyPolicyOptions]):
    name = "apply_reminder_policy"
    description = (
        "Decide today's action per overdue run: remind (cadence day 1, 3, 7, then weekly; "
        "once per business day), wait, park an unaccepted run after `cap` delivered reminders, "
        "escalate an accepted one; optional per-partner digest. Only delivered sends count."
    )
    Options = ApplyPolicyOptions

    def run(self, ctx: StepContext, options: ApplyPolicyOptions) -> dict[str, Any]:
        candidates = ctx.evaluate(options.candidates) or []
        if not isinstance(candidates, list):
            raise ValueError("candidates must be a list of overdue runs")
        ctx.recorded_input["candidates"] = len(candidates)
        policy = Policy(
            cadence_days=tuple(options.cadence_days),
            then_every_days=options.then_every_days,
            cap=options.cap,
            escalate_every_days=options.escalate_every_days,
        )
        return service.apply_policy(
            ctx.session,
            ctx.now,
            candidates,
            policy,
            ctx.settings.zone,
            digest=service.DigestOptions(options.digest, options.digest_min_runs),
            actor=Actor.scheduler(),
        )
