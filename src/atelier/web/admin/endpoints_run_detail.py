"""Run detail page and its actions. Each action builds the JSON API's own request schema from the
form, calls the same service function, and on a refusal shows the page again with the message
next to the form and the values the admin typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from atelier.partners import service as partners
from atelier.platform.db import Database
from atelier.platform.deps import DbSession, Principal, get_database
from atelier.production import dispatch as dispatching
from atelier.production import milestones, service, transitions
from atelier.production.completion import RejectionReason
from atelier.production.endpoints_admin import assignment_specs
from atelier.production.endpoints_costs import consumption_csv
from atelier.production.lifecycle_schemas import CompleteRequest, FinishRequest, ProgressRequest
from atelier.production.schemas import (
    ApproveRequest,
    CancelRequest,
    NoteRequest,
    ProductionRunDependencies,
    ReassignRequest,
)
from atelier.tasks import service as tasks
from atelier.tasks.schemas import RedoTasksCreate, TemplateSelection
from atelier.web.admin.common import admin_router, page
from atelier.web.admin.run_view import FormState, run_page
from atelier.web.shared.forms import Form, flag, text, texts
from atelier.web.shared.render import redirect, render, service_errors
from atelier.web.shared.session import WebAdmin

router = admin_router()

FORMS = (
    "approve",
    "dispatch",
    "redo",
    "reassign",
    "accept",
    "start",
    "progress",
    "finish",
    "complete",
    "cancel",
    "note",
    "relink",
)
MAX_ASSIGNMENT_ROWS = 20


def show_run(
    request: Request,
    session: Session,
    run_id: str,
    *,
    state: FormState | None = None,
) -> Response:
    """The detail page; with ``state`` the refused form is open with its message and values."""
    context = run_page(session, run_id)
    context["forms"] = {name: None for name in FORMS}
    context["rejection_reasons"] = [r.value for r in RejectionReason]
    context["max_assignment_rows"] = MAX_ASSIGNMENT_ROWS
    status_code = 200
    if state is not None:
        context["forms"][state.form] = state
        status_code = state.error.status_code
    return page(
        request, session, "admin/run.html", context, section="runs", status_code=status_code
    )


def _act(
    request: Request,
    session: Session,
    run_id: str,
    form_name: str,
    values: dict[str, Any],
    action: Callable[[], str],
) -> Response:
    """Run ``action`` (returns the notice); a refusal re-renders the page with the form open."""
    with service_errors(session) as outcome:
        notice = action()
    if outcome.error is not None:
        return show_run(request, session, run_id, state=FormState(form_name, outcome.error, values))
    return redirect(request, f"/app/runs/{run_id}", notice=notice)


@router.get("/runs/{run_id}")
def run_detail(request: Request, session: DbSession, admin: WebAdmin, run_id: str) -> Response:
    """Status, design, partner, relations, snapshot, tasks, logs, media, costs, timeline."""
    return show_run(request, session, run_id)


@router.get("/runs/{run_id}/assignment-row")
def assignment_row(
    request: Request,
    session: DbSession,
    admin: WebAdmin,
    run_id: str,
    index: Annotated[int, Query(ge=0, lt=MAX_ASSIGNMENT_ROWS)] = 0,
) -> Response:
    """One more empty partner row for the approve form (htmx appends it)."""
    transitions.get_run(session, run_id)
    partner_rows, _ = partners.list_partners(session, status=None, q=None, limit=500, offset=0)
    templates, _ = tasks.list_templates(session, limit=500)
    context = {
        "index": index,
        "run_id": run_id,
        "oob": True,
        "max_rows": MAX_ASSIGNMENT_ROWS,
        "row": {},
        "partners": sorted(
            (p for p in partner_rows if p.status != "inactive"), key=lambda p: p.name.lower()
        ),
        "templates": sorted(templates, key=lambda t: t.name.lower()),
    }
    return render(request, "admin/_assignment_row.html", context)


def _assignment_rows(form: FormData) -> list[dict[str, Any]]:
    rows = []
    for i in range(MAX_ASSIGNMENT_ROWS):
        row = {
            "partner_id": text(form, f"a{i}-partner_id"),
            "quantity": text(form, f"a{i}-quantity"),
            "role": text(form, f"a{i}-role"),
            "order": text(form, f"a{i}-order"),
            "template_names": texts(form, f"a{i}-template_names"),
        }
        if f"a{i}-partner_id" not in form:
            break
        rows.append(row)
    return rows


@router.post("/runs/{run_id}/approve")
def approve(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Approve as is, or split across the partners filled in."""
    rows = _assignment_rows(form)
    filled = [r for r in rows if r["partner_id"]]

    def act() -> str:
        body = ApproveRequest.model_validate(
            {
                "assignments": [
                    {k: v for k, v in r.items() if v not in (None, "", [])} for r in filled
                ]
                or None
            }
        )
        result = service.approve_run(
            session, run_id, actor=admin.actor, assignments=assignment_specs(body.assignments)
        )
        if result.children:
            sent = len(result.dispatch.dispatched)
            return f"Approved and split into {len(result.children)} runs ({sent} dispatched)."
        return "Approved."

    return _act(request, session, run_id, "approve", {"rows": rows or [{}, {}]}, act)


@router.post("/runs/{run_id}/dispatch")
def dispatch(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Create the tasks (from the approval's templates, a category, or chosen templates)."""
    mode = text(form, "mode") or "category"
    values = {
        "mode": mode,
        "category": text(form, "category"),
        "template_names": texts(form, "template_names"),
    }

    def act() -> str:
        selection = TemplateSelection.model_validate(
            {"category": values["category"]}
            if mode == "category"
            else {"template_names": values["template_names"] or None}
            if mode == "templates"
            else {}
        )
        _run, created = dispatching.send_to_production(
            session,
            run_id,
            actor=admin.actor,
            template_names=selection.template_names,
            template_ids=selection.template_ids,
            category=selection.category,
        )
        return f"Dispatched with {len(created)} task{'' if len(created) == 1 else 's'}."

    return _act(request, session, run_id, "dispatch", values, act)


@router.post("/runs/{run_id}/dispatch/cancel")
def abandon_dispatch(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str
) -> Response:
    """Leave a paused dispatch (the run stays approved)."""

    def act() -> str:
        dispatching.cancel_pending_dispatch(session, run_id, actor=admin.actor)
        return "The paused dispatch was abandoned."

    return _act(request, session, run_id, "dispatch", {}, act)


@router.post("/runs/{run_id}/redo")
def redo(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Add redo tasks from templates; they block completion until done."""
    values = {"template_names": texts(form, "template_names")}

    def act() -> str:
        body = RedoTasksCreate.model_validate({"template_names": values["template_names"] or None})
        created = dispatching.add_tasks(
            session,
            run_id,
            actor=admin.actor,
            template_names=body.template_names,
            template_ids=body.template_ids,
        )
        return f"Added {len(created)} redo task{'' if len(created) == 1 else 's'}."

    return _act(request, session, run_id, "redo", values, act)


@router.post("/runs/{run_id}/reassign")
def reassign(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Give the run to another partner (→ approved, dispatch reset)."""
    values = {"partner_id": text(form, "partner_id"), "note": text(form, "note")}

    def act() -> str:
        body = ReassignRequest.model_validate(values)
        result = service.reassign_run(
            session, run_id, partner_id=body.partner_id, actor=admin.actor, note=body.note
        )
        if result.same_partner:
            return "The run already belongs to that partner."
        return "Reassigned."

    return _act(request, session, run_id, "reassign", values, act)


def _milestone(
    request: Request, session: Session, admin: Principal, run_id: str, name: str
) -> Response:
    verbs = {"accept": milestones.accept_run, "start": milestones.start_run}

    def act() -> str:
        _run, message = verbs[name](session, run_id, actor=admin.actor)
        return str(message)

    return _act(request, session, run_id, name, {}, act)


@router.post("/runs/{run_id}/accept")
def accept(request: Request, session: DbSession, admin: WebAdmin, run_id: str) -> Response:
    """Accept on the partner's behalf."""
    return _milestone(request, session, admin, run_id, "accept")


@router.post("/runs/{run_id}/start")
def start(request: Request, session: DbSession, admin: WebAdmin, run_id: str) -> Response:
    """Start on the partner's behalf."""
    return _milestone(request, session, admin, run_id, "start")


@router.post("/runs/{run_id}/progress")
def progress(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Pieces produced so far, on the partner's behalf."""
    values = {"produced_quantity": text(form, "produced_quantity")}

    def act() -> str:
        body = ProgressRequest.model_validate(values)
        _run, message = milestones.record_progress(
            session, run_id, actor=admin.actor, produced_quantity=body.produced_quantity
        )
        return str(message)

    return _act(request, session, run_id, "progress", values, act)


@router.post("/runs/{run_id}/finish")
def finish(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Finish on the partner's behalf."""
    values = {"notes": text(form, "notes"), "complete_tasks": flag(form, "complete_tasks")}

    def act() -> str:
        body = FinishRequest.model_validate(values)
        _run, message = milestones.finish_run(
            session,
            run_id,
            actor=admin.actor,
            notes=body.notes,
            complete_tasks=body.complete_tasks,
        )
        return str(message)

    return _act(request, session, run_id, "finish", values, act)


@router.post("/runs/{run_id}/complete")
def complete(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Complete on the partner's behalf, with the yield."""
    values = {
        "produced_quantity": text(form, "produced_quantity"),
        "rejected_quantity": text(form, "rejected_quantity") or "0",
        "rejection_reason": text(form, "rejection_reason"),
        "notes": text(form, "notes"),
        "allow_shortfall": flag(form, "allow_shortfall"),
    }

    def act() -> str:
        body = CompleteRequest.model_validate(values)
        result = milestones.complete(
            session,
            run_id,
            actor=admin.actor,
            partner_id=None,
            produced_quantity=body.produced_quantity,
            rejected_quantity=body.rejected_quantity,
            rejection_reason=body.rejection_reason,
            rejection_notes=body.rejection_notes,
            notes=body.notes,
            allow_shortfall=body.allow_shortfall,
            consumptions=body.consumptions,
        )
        return str(result.message)

    return _act(request, session, run_id, "complete", values, act)


@router.post("/runs/{run_id}/cancel")
def cancel(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Cancel the run, its open tasks and unfinished children."""
    values = {"reason": text(form, "reason")}

    def act() -> str:
        body = CancelRequest.model_validate(values)
        _run, children, message = service.cancel_run(session, run_id, admin.actor, body.reason)
        if children:
            return f"{message}, with {len(children)} child run{'' if len(children) == 1 else 's'}."
        return f"{message}."

    return _act(request, session, run_id, "cancel", values, act)


@router.post("/runs/{run_id}/notes")
def add_note(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """A note on the run's timeline."""
    values = {"note": text(form, "note") or ""}

    def act() -> str:
        body = NoteRequest.model_validate(values)
        service.add_note(session, run_id, note=body.note, actor=admin.actor)
        return "Note added."

    return _act(request, session, run_id, "note", values, act)


@router.post("/runs/{run_id}/dependencies")
def relink(
    request: Request, session: DbSession, admin: WebAdmin, run_id: str, form: Form
) -> Response:
    """Re-link: replace the runs this run waits on (a cancelled dependency can be dropped)."""
    ids = list(dict.fromkeys(texts(form, "depends_on_run_ids")))
    values = {"depends_on_run_ids": ids, "add": ""}

    def act() -> str:
        body = ProductionRunDependencies.model_validate({"depends_on_run_ids": ids})
        service.relink_run(
            session, run_id, depends_on_run_ids=body.depends_on_run_ids, actor=admin.actor
        )
        return "Dependencies saved."

    return _act(request, session, run_id, "relink", values, act)


@router.get("/runs/{run_id}/consumption-logs.csv")
def consumption_logs_csv(
    session: DbSession,
    admin: WebAdmin,
    run_id: str,
    database: Annotated[Database, Depends(get_database)],
) -> StreamingResponse:
    """The run's consumption logs as CSV (the same export as the API's)."""
    transitions.get_run(session, run_id)
    return consumption_csv(database, run_id=run_id, design_id=None)
