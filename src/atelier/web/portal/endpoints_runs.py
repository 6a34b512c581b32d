"""Portal pages: the runs list and one run, and every action a partner takes on a run.

Each action posts a plain form (it works without JavaScript), calls the same service the
partner API calls with channel ``web``, and redirects back to the run (post → redirect → get).
A refusal renders the run page again with the service's message next to the form and the
values the partner typed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Form, Query, Request, Response
from sqlalchemy.orm import Session

from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.platform.actors import Actor, Channel
from atelier.platform.deps import DbSession, Principal
from atelier.platform.errors import Invalid, PlatformCode, not_found
from atelier.production import consumption, interventions, milestones, task_work
from atelier.production.completion import RejectionReason
from atelier.production.lifecycle import RunStatus
from atelier.production.models import RunType
from atelier.production.schemas import DeclineReason
from atelier.tasks import service as tasks
from atelier.web.portal import views
from atelier.web.portal.common import N_, page, translator
from atelier.web.portal.common import portal_router as _portal_router
from atelier.web.shared.render import FormError, redirect, service_errors
from atelier.web.shared.session import WebPartner

router = _portal_router()

Text = Annotated[str, Form(max_length=4000)]
Number = Annotated[str, Form(max_length=32)]


def _partner_id(principal: Principal) -> str:
    assert principal.partner_id is not None
    return principal.partner_id


def web_actor(principal: Principal) -> Actor:
    """The partner as an actor on channel ``web`` (also when signed in from a WhatsApp link)."""
    return dataclasses.replace(principal, channel=Channel.WEB).actor


def run_url(run_id: str, anchor: str = "") -> str:
    return f"/portal/runs/{run_id}" + (f"#{anchor}" if anchor else "")


@router.get("")
def runs_list(
    request: Request,
    session: DbSession,
    partner: WebPartner,
    type_: Annotated[RunType, Query(alias="type")] = RunType.PRODUCTION,
    status: RunStatus | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """Runs of one tab (Production / Sample): what needs the partner first, then all of them."""
    listing = views.runs_page(
        session, _partner_id(partner), run_type=type_, status=status, offset=offset
    )
    context = {
        **listing,
        "run_type": type_.value,
        "status": status.value if status else None,
        "statuses": [s.value for s in RunStatus],
        "query_args": {"type": type_.value, "status": status.value if status else None},
    }
    return page(request, session, "portal/runs.html", context, principal=partner)


def _run_page(
    request: Request,
    session: Session,
    partner: Principal,
    run_id: str,
    *,
    error: FormError | None = None,
    form: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> Response:
    context = {
        **views.run_page(session, run_id, _partner_id(partner)),
        "error": error,
        "error_form": form,
        "values": dict(values or {}),
        "decline_reasons": [r.value for r in DeclineReason],
        "rejection_reasons": [r.value for r in RejectionReason],
    }
    status_code = error.status_code if error else 200
    return page(
        request, session, "portal/run.html", context, principal=partner, status_code=status_code
    )


@router.get("/runs/{run_id}")
def run_detail(run_id: str, request: Request, session: DbSession, partner: WebPartner) -> Response:
    """One run: design, status, the buttons the lifecycle allows now, tasks, activity."""
    return _run_page(request, session, partner, run_id)


def _act(
    request: Request,
    session: Session,
    partner: Principal,
    run_id: str,
    form: str,
    call: Callable[[], Done],
    values: Mapping[str, Any] | None = None,
) -> Response:
    """Run ``call``; redirect to the run with its notice, or show the refusal inline."""
    with service_errors(session) as outcome:
        done = call()
    if outcome.error is not None:
        return _run_page(
            request, session, partner, run_id, error=outcome.error, form=form, values=values
        )
    words = translator(request, session, partner)
    notice = words.gettext(done.message, **done.values)
    return redirect(request, run_url(run_id, form), notice=notice)


@dataclasses.dataclass(frozen=True, slots=True)
class Done:
    """The notice after an action: a catalogue message id and its values."""

    message: str
    values: dict[str, Any] = dataclasses.field(default_factory=dict)


def _int(value: str | None, field: str, *, required: bool = False) -> int | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise Invalid(
                f"{field.replace('_', ' ')} is required", code=PlatformCode.VALIDATION_ERROR
            )
        return None
    if not text.isdigit() or len(text) > 9:
        raise Invalid(
            f"{field.replace('_', ' ')} must be a whole number", code=PlatformCode.VALIDATION_ERROR
        )
    return int(text)


def _float(value: str, field: str) -> float:
    try:
        number = float(value.strip())
    except ValueError as exc:
        raise Invalid(f"{field} must be a number", code=PlatformCode.VALIDATION_ERROR) from exc
    if number != number or number in (float("inf"), float("-inf")) or number <= 0:
        raise Invalid(f"{field} must be a positive number", code=PlatformCode.VALIDATION_ERROR)
    return number


@router.post("/runs/{run_id}/accept")
def accept(run_id: str, request: Request, session: DbSession, partner: WebPartner) -> Response:
    def call() -> Done:
        milestones.accept_run(
            session, run_id, actor=web_actor(partner), partner_id=_partner_id(partner)
        )
        return Done(N_("Run accepted. Start when the work begins."))

    return _act(request, session, partner, run_id, "actions", call)


@router.post("/runs/{run_id}/decline")
def decline(
    run_id: str,
    request: Request,
    session: DbSession,
    partner: WebPartner,
    reason: Annotated[str, Form(max_length=64)] = "",
    notes: Text = "",
) -> Response:
    def call() -> Done:
        if reason not in {r.value for r in DeclineReason}:
            raise Invalid("choose a reason", code=PlatformCode.VALIDATION_ERROR)
        interventions.decline_run(
            session,
            run_id,
            partner_id=_partner_id(partner),
            reason=reason,
            notes=notes.strip() or None,
            actor=web_actor(partner),
        )
        return Done(N_("Run handed back to the brand."))

    return _act(
        request, session, partner, run_id, "decline", call, {"reason": reason, "notes": notes}
    )


@router.post("/runs/{run_id}/start")
def start(run_id: str, request: Request, session: DbSession, partner: WebPartner) -> Response:
    def call() -> Done:
        milestones.start_run(
            session, run_id, actor=web_actor(partner), partner_id=_partner_id(partner)
        )
        return Done(N_("Work started."))

    return _act(request, session, partner, run_id, "actions", call)


@router.post("/runs/{run_id}/progress")
def progress(
    run_id: str,
    request: Request,
    session: DbSession,
    partner: WebPartner,
    produced_quantity: Number = "",
) -> Response:
    def call() -> Done:
        produced = _int(produced_quantity, "produced_quantity", required=True)
        assert produced is not None
        milestones.record_progress(
            session,
            run_id,
            actor=web_actor(partner),
            produced_quantity=produced,
            partner_id=_partner_id(partner),
        )
        return Done(N_("Progress saved: %(produced)s pieces made so far."), {"produced": produced})

    values = {"produced_quantity": produced_quantity}
    return _act(request, session, partner, run_id, "progress", call, values)


@router.post("/runs/{run_id}/finish")
def finish(
    run_id: str,
    request: Request,
    session: DbSession,
    partner: WebPartner,
    notes: Text = "",
    complete_tasks: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    def call() -> Done:
        milestones.finish_run(
            session,
            run_id,
            actor=web_actor(partner),
            partner_id=_partner_id(partner),
            notes=notes.strip() or None,
            complete_tasks=complete_tasks == "on",
        )
        return Done(N_("Work finished. Now record what you produced to complete the run."))

    return _act(request, session, partner, run_id, "finish", call, {"notes": notes})


@router.post("/runs/{run_id}/complete")
def complete(
    run_id: str,
    request: Request,
    session: DbSession,
    partner: WebPartner,
    produced_quantity: Number = "",
    rejected_quantity: Number = "",
    rejection_reason: Annotated[str, Form(max_length=64)] = "",
    rejection_notes: Text = "",
    shortfall_explanation: Text = "",
    notes: Text = "",
    item_id: Annotated[list[str] | None, Form(max_length=100)] = None,
    item_quantity: Annotated[list[str] | None, Form(max_length=100)] = None,
) -> Response:
    """Close the run with its yield and the material used (one line per BOM item filled in)."""
    item_ids, quantities = item_id or [], item_quantity or []

    def call() -> Done:
        produced = _int(produced_quantity, "produced_quantity", required=True)
        rejected = _int(rejected_quantity, "rejected_quantity") or 0
        if rejection_reason and rejection_reason not in {r.value for r in RejectionReason}:
            raise Invalid(
                "choose a rejection reason from the list", code=PlatformCode.VALIDATION_ERROR
            )
        lines = [
            ConsumptionCreate(inventory_item_id=iid, quantity=_float(qty, "quantity used"))
            for iid, qty in zip(item_ids, quantities, strict=False)
            if qty.strip()
        ]
        explanation = shortfall_explanation.strip()
        all_notes = "\n".join(p for p in (notes.strip(), explanation) if p) or None
        milestones.complete(
            session,
            run_id,
            actor=web_actor(partner),
            partner_id=_partner_id(partner),
            produced_quantity=produced,
            rejected_quantity=rejected,
            rejection_reason=rejection_reason or None,
            rejection_notes=rejection_notes.strip() or None,
            notes=all_notes,
            allow_shortfall=bool(explanation),
            consumptions=lines,
        )
        return Done(N_("Run completed. Thank you!"))

    values = {
        "produced_quantity": produced_quantity,
        "rejected_quantity": rejected_quantity,
        "rejection_reason": rejection_reason,
        "rejection_notes": rejection_notes,
        "shortfall_explanation": shortfall_explanation,
        "notes": notes,
        "items": dict(zip(item_ids, quantities, strict=False)),
    }
    return _act(request, session, partner, run_id, "complete", call, values)


@router.post("/runs/{run_id}/consumption")
def log_consumption(
    run_id: str,
    request: Request,
    session: DbSession,
    partner: WebPartner,
    inventory_item_id: Annotated[str, Form(max_length=64)] = "",
    quantity: Number = "",
    consumption_type: Annotated[str, Form(max_length=32)] = "production",
    notes: Text = "",
) -> Response:
    """Log material used while the run is in progress (stock moves when the run completes)."""

    def call() -> Done:
        body = ConsumptionCreate.model_validate(
            {
                "inventory_item_id": inventory_item_id,
                "quantity": _float(quantity, "quantity"),
                "consumption_type": consumption_type,
                "notes": notes.strip() or None,
            }
        )
        run = milestones.owned_run(session, run_id, _partner_id(partner))
        consumption.log_consumption(session, run, body, actor=web_actor(partner), locked=True)
        return Done(N_("Material use recorded."))

    values = {"inventory_item_id": inventory_item_id, "quantity": quantity, "notes": notes}
    return _act(request, session, partner, run_id, "consumption", call, values)


@router.post("/runs/{run_id}/tasks/{task_id}/finish")
def finish_task(
    run_id: str, task_id: str, request: Request, session: DbSession, partner: WebPartner
) -> Response:
    def call() -> Done:
        _task_of_run(session, task_id, run_id, partner)
        task_work.finish_task(session, task_id, web_actor(partner), partner_id=_partner_id(partner))
        return Done(N_("Task completed."))

    return _act(request, session, partner, run_id, f"task-{task_id}", call)


@router.post("/runs/{run_id}/tasks/{task_id}/subtasks/{subtask_id}/complete")
def complete_subtask(
    run_id: str,
    task_id: str,
    subtask_id: str,
    request: Request,
    session: DbSession,
    partner: WebPartner,
) -> Response:
    def call() -> Done:
        _task_of_run(session, task_id, run_id, partner)
        task_work.complete_subtask(
            session, task_id, subtask_id, web_actor(partner), partner_id=_partner_id(partner)
        )
        return Done(N_("Step completed."))

    return _act(request, session, partner, run_id, f"task-{task_id}", call)


@router.post("/runs/{run_id}/tasks/{task_id}/comments")
def add_comment(
    run_id: str,
    task_id: str,
    request: Request,
    session: DbSession,
    partner: WebPartner,
    body: Text = "",
) -> Response:
    def call() -> Done:
        _task_of_run(session, task_id, run_id, partner)
        task_work.add_comment(
            session, task_id, body, web_actor(partner), partner_id=_partner_id(partner)
        )
        return Done(N_("Comment added."))

    return _act(
        request, session, partner, run_id, f"task-{task_id}", call, {f"comment-{task_id}": body}
    )


def _task_of_run(session: Session, task_id: str, run_id: str, partner: Principal) -> None:
    """404 unless the task is the partner's and belongs to this run."""
    task = tasks.visible_task(session, task_id, _partner_id(partner))
    if task.production_run_id != run_id:
        raise not_found("task", task_id)
