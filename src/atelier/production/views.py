"""Serialisation helpers for admin views of runs (list rows, detail with relations)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from atelier.production import policy, reminder_state, repository, transitions
from atelier.production.models import ProductionRun
from atelier.production.schemas import (
    ProductionRunRead,
    ProductionRunRow,
    RunEventRead,
    RunReminderRead,
)


def run_dict(run: ProductionRun) -> dict[str, Any]:
    """The run as the API shows it (every field; JSON-ready)."""
    return ProductionRunRead.model_validate(run).model_dump(mode="json")


def row_dict(row: repository.RunRow) -> dict[str, Any]:
    data = ProductionRunRow.model_validate(row.run).model_dump(mode="json")
    data.update(
        design_name=row.design_name,
        partner_name=row.partner_name,
        partner_handle=row.partner_handle,
    )
    return data


def rows_for(session: Session, runs: Sequence[ProductionRun]) -> list[dict[str, Any]]:
    """Runs with design and partner names, batched (two queries whatever the count)."""
    designs, partners = repository.names_for(
        session,
        [r.design_id for r in runs],
        [r.partner_id for r in runs if r.partner_id],
    )
    out = []
    for run in runs:
        name, handle = partners.get(run.partner_id or "", (None, None))
        out.append(row_dict(repository.RunRow(run, designs.get(run.design_id), name, handle)))
    return out


def _summary(run: ProductionRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "run_type": run.run_type,
        "quantity": run.quantity,
        "role": run.role,
        "partner_id": run.partner_id,
        "design_id": run.design_id,
    }


def _tasks(session: Session, run_id: str) -> list[dict[str, Any]]:
    try:
        tasks = importlib.import_module("atelier.tasks.service")
    except ModuleNotFoundError:
        return []
    loaded = tasks.tasks_for_run(session, run_id)
    result: list[dict[str, Any]] = tasks.serialize_tasks(loaded)
    return result


def run_detail(session: Session, run_id: str) -> dict[str, Any]:
    """One run for the admin detail view: names, parent, children, tasks, policy evaluation."""
    run = transitions.get_run(session, run_id)
    parent = transitions.get_run(session, run.parent_run_id) if run.parent_run_id else None
    children = repository.children_of(session, run.id)
    partner_ids = [p for p in (run.partner_id, run.previous_partner_id) if p]
    designs, partners = repository.names_for(session, [run.design_id], partner_ids)
    data = run_dict(run)
    data["design_name"] = designs.get(run.design_id)
    data["partner"] = _partner(partners, run.partner_id)
    data["partner_name"] = data["partner"]["name"] if data["partner"] else None
    data["previous_partner"] = _partner(partners, run.previous_partner_id)
    data["parent"] = _summary(parent) if parent else None
    data["children"] = rows_for(session, children)
    data["waiting_on"] = list(transitions.waiting_on(session, run))
    data["tasks"] = _tasks(session, run.id)
    data["policy"] = policy.evaluate_run(session, run).as_dict()
    data["reminders"] = [
        RunReminderRead.model_validate(state).model_dump(mode="json")
        for state in reminder_state.reminder_states(session, run.id)
    ]
    return data


def _partner(partners: dict[str, tuple[str, str]], partner_id: str | None) -> dict[str, Any] | None:
    if partner_id is None:
        return None
    name, handle = partners.get(partner_id, (None, None))
    return {"id": partner_id, "name": name, "handle": handle}


def events_list(events: Iterable[Any]) -> list[dict[str, Any]]:
    return [RunEventRead.model_validate(e).model_dump(mode="json") for e in events]
