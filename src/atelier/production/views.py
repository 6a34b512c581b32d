"""The admin's views of runs: list rows, and the detail (Core rows, encoded once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy.orm import Session

from atelier.platform.errors import not_found
from atelier.production import policy, repository, transitions
from atelier.production import repository_reads as reads
from atelier.production.lifecycle import RunStatus
from atelier.production.models import ProductionRun
from atelier.production.schemas import (
    ProductionRunRead,
    ProductionRunRow,
)
from atelier.tasks import service as tasks_service


def run_read(run: ProductionRun) -> ProductionRunRead:
    """The run as the API shows it (every field)."""
    return ProductionRunRead.model_validate(run)


def row_read(row: repository.RunRow) -> ProductionRunRow:
    return ProductionRunRow.model_validate(row.run).model_copy(
        update={
            "design_name": row.design_name,
            "partner_name": row.partner_name,
            "partner_handle": row.partner_handle,
        }
    )


def list_json(items: list[dict[str, Any]], count: int, *, limit: int, offset: int) -> bytes:
    """The ``ProductionRunList`` JSON of rows from ``repository.list_page``, serialised once
    (the bytes FastAPI would write for the validated model: same keys, order and values)."""
    return to_json({"production_runs": items, "count": count, "limit": limit, "offset": offset})


def rows_for(session: Session, runs: Sequence[ProductionRun]) -> list[ProductionRunRow]:
    """Runs with design and partner names, batched (two queries whatever the count)."""
    designs, partners = repository.names_for(
        session,
        [r.design_id for r in runs],
        [r.partner_id for r in runs if r.partner_id],
    )
    out = []
    for run in runs:
        name, handle = partners.get(run.partner_id or "", (None, None))
        out.append(row_read(repository.RunRow(run, designs.get(run.design_id), name, handle)))
    return out


def _partner_ref(partner_id: str | None, name: str | None, handle: str | None) -> Any:
    return None if partner_id is None else {"id": partner_id, "name": name, "handle": handle}


def _named(row: Any) -> dict[str, Any]:
    """A ``named_run`` row as a ``ProductionRunRow`` dict."""
    width = len(reads.RUN_SHAPE.names)
    out = reads.RUN_SHAPE.of(row)
    out["design_name"], out["partner_name"], out["partner_handle"] = row[width : width + 3]
    return out


def run_detail_body(session: Session, run_id: str) -> dict[str, Any]:
    """One run for the admin detail view (``ProductionRunDetail`` with Python values): names,
    parent, children, tasks, policy evaluation, reminders and the verbs the lifecycle allows
    now. A fixed number of statements whatever the number of children, tasks or comments."""
    row = reads.named_run(session, run_id)
    if row is None:
        raise not_found("production_run", run_id)
    width = len(reads.RUN_SHAPE.names)
    body = reads.RUN_SHAPE.of(row)
    design_name, name, handle, previous_name, previous_handle = row[width : width + 5]
    parent_id = body["parent_run_id"]
    family = [_named(r) for r in reads.family_of_run(session, run_id, parent_id)]
    parent = next((r for r in family if r["id"] == parent_id), None) if parent_id else None
    children = [r for r in family if r["parent_run_id"] == run_id]
    deps = body["depends_on_run_ids"]
    done = reads.statuses_of(session, deps)
    waiting = tuple(d for d in deps if done.get(d) != RunStatus.COMPLETED)
    partner = _partner_ref(body["partner_id"], name, handle)
    ref = policy.RunRef(body["status"], body["design_id"], body["partner_id"])
    body.update(
        design_name=design_name,
        partner=partner,
        partner_name=name if partner else None,
        previous_partner=_partner_ref(body["previous_partner_id"], previous_name, previous_handle),
        parent={k: parent[k] for k in reads.SUMMARY_SHAPE.names} if parent else None,
        children=children,
        waiting_on=list(waiting),
        tasks=tasks_service.task_tree(session, run_id),
        policy=policy.evaluate_run(session, ref).as_dict(),
        reminders=[reads.REMINDER_SHAPE.of(r) for r in reads.reminder_rows(session, run_id)],
        allowed_actions=transitions.allowed_by_facts(
            session, transitions.facts_from(body, waiting)
        ),
    )
    return body
