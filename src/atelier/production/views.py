"""The admin's views of runs (list rows, detail with relations) as response models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy.orm import Session

from atelier.production import policy, reminder_state, repository, transitions
from atelier.production.models import ProductionRun
from atelier.production.schemas import (
    AutoApprovalRead,
    PartnerRef,
    ProductionRunDetail,
    ProductionRunRead,
    ProductionRunRow,
    RunReminderRead,
    RunSummary,
)
from atelier.tasks import service as tasks_service
from atelier.tasks.schemas import TaskRead


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


def _summary(run: ProductionRun) -> RunSummary:
    return RunSummary.model_validate(run)


def run_detail(session: Session, run_id: str) -> ProductionRunDetail:
    """One run for the admin detail view: names, parent, children, tasks, policy evaluation,
    and the verbs the lifecycle allows now."""
    run = transitions.get_run(session, run_id)
    parent = transitions.get_run(session, run.parent_run_id) if run.parent_run_id else None
    children = repository.children_of(session, run.id)
    partner_ids = [p for p in (run.partner_id, run.previous_partner_id) if p]
    designs, partners = repository.names_for(session, [run.design_id], partner_ids)
    partner = _partner(partners, run.partner_id)
    tasks = tasks_service.tasks_for_run(session, run.id)
    return ProductionRunDetail.model_validate(
        {
            **run_read(run).model_dump(),
            "design_name": designs.get(run.design_id),
            "partner": partner,
            "partner_name": partner.name if partner else None,
            "previous_partner": _partner(partners, run.previous_partner_id),
            "parent": _summary(parent) if parent else None,
            "children": rows_for(session, children),
            "waiting_on": list(transitions.waiting_on(session, run)),
            "tasks": [TaskRead.model_validate(t) for t in tasks],
            "policy": AutoApprovalRead.model_validate(policy.evaluate_run(session, run).as_dict()),
            "reminders": [
                RunReminderRead.model_validate(state)
                for state in reminder_state.reminder_states(session, run.id)
            ],
            "allowed_actions": transitions.allowed_actions(session, run),
        }
    )


def _partner(partners: dict[str, tuple[str, str]], partner_id: str | None) -> PartnerRef | None:
    if partner_id is None:
        return None
    name, handle = partners.get(partner_id, (None, None))
    return PartnerRef(id=partner_id, name=name, handle=handle)
