"""What a partner sees of its runs: the list and the detail view.

Both are built from Core rows (``repository_reads``), a fixed number of statements per request
whatever the number of runs, tasks, subtasks, comments and related runs: the detail is the run
with its design, the run's tasks (subtasks by run id), their comments, the relatives (parent,
siblings and dependencies in one statement) and the lifecycle policy. The dicts hold Python
values; the endpoints encode them once (``platform.rows.json_response``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from atelier.platform.errors import not_found
from atelier.platform.rows import jsonable
from atelier.production import repository_reads as reads
from atelier.production import transitions
from atelier.production.lifecycle import PARTNER_ACTIONS, RunStatus
from atelier.production.models import ProductionRun
from atelier.tasks import service as tasks


def progress_of(completed: int, total: int) -> dict[str, int]:
    percent = round(100 * completed / total) if total else 0
    return {"completed": completed, "total": total, "percent": percent}


def partner_runs_body(
    session: Session,
    partner_id: str,
    *,
    status: str | None = None,
    run_type: str | None = None,
    role: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """The partner's runs, newest first, each with design name/thumbnail and task progress
    (``PartnerRunList`` with Python values; three statements)."""
    rows, count = reads.partner_runs_rows(
        session,
        partner_id,
        status=status,
        run_type=run_type,
        role=role,
        limit=limit,
        offset=offset,
    )
    progress = tasks.run_task_progress(session, [row.id for row in rows]) if rows else {}
    width = len(reads.RUN_SHAPE.names)
    out = []
    for row in rows:
        item = reads.RUN_SHAPE.of(row)
        name, thumbnail = row[width], row[width + 1]
        item["design"] = {"id": item["design_id"], "name": name, "thumbnail_url": thumbnail}
        item["progress"] = progress_of(*progress.get(item["id"], (0, 0)))
        out.append(item)
    return {"production_runs": out, "count": count, "limit": limit, "offset": offset}


def list_partner_runs(session: Session, partner_id: str, **filters: Any) -> dict[str, Any]:
    """``partner_runs_body`` with JSON values (datetimes as strings), for the portal pages."""
    body: dict[str, Any] = jsonable(partner_runs_body(session, partner_id, **filters))
    return body


def visible_run(session: Session, run_id: str, partner_id: str) -> ProductionRun:
    """The run when it belongs to the partner; 404 otherwise (foreign or partner-less)."""
    run = session.get(ProductionRun, run_id)
    if run is None or run.partner_id is None or run.partner_id != partner_id:
        raise not_found("production_run", run_id)
    return run


def _related(run: dict[str, Any], relatives: list[dict[str, Any]]) -> dict[str, Any]:
    """Parent (id, status), siblings, sibling dependents and the runs this one waits on."""
    by_id = {r["id"]: r for r in relatives}
    parent_id = run["parent_run_id"]
    parent = by_id.get(parent_id) if parent_id else None
    siblings = (
        [r for r in relatives if r["parent_run_id"] == parent_id and r["id"] != run["id"]]
        if parent_id
        else []
    )
    dependents = [r for r in siblings if run["id"] in (r["depends_on_run_ids"] or [])]
    waiting_on = [
        {"id": d, "status": by_id[d]["status"] if d in by_id else None}
        for d in run["depends_on_run_ids"]
        if d not in by_id or by_id[d]["status"] != RunStatus.COMPLETED
    ]
    return {
        "parent": {"id": parent["id"], "status": parent["status"]} if parent else None,
        "siblings": [_brief(r) for r in siblings],
        "dependents": [_brief(r) for r in dependents],
        "waiting_on": waiting_on,
    }


def _brief(relative: dict[str, Any]) -> dict[str, Any]:
    return {name: relative[name] for name in reads.RELATIVE_SHAPE.names}


def partner_run_body(session: Session, run_id: str, partner_id: str) -> dict[str, Any]:
    """The partner's view of one run (``PartnerRunEnvelope`` with Python values): run, design,
    snapshot, tasks, progress, related runs and the verbs the lifecycle allows the partner now.
    404 for a run that is unknown or not the partner's."""
    row = reads.partner_run_row(session, run_id, partner_id)
    if row is None:
        raise not_found("production_run", run_id)
    body = reads.RUN_SHAPE.of(row)
    body["design"] = reads.DESIGN_SHAPE.of(row, len(reads.RUN_SHAPE.names))
    task_rows = tasks.task_tree(session, run_id)
    live = [t for t in task_rows if t["status"] != "cancelled"]
    completed = sum(1 for t in live if t["status"] == "completed")
    body["tasks"] = task_rows
    body["progress"] = progress_of(completed, len(live))
    width = len(reads.RELATIVE_SHAPE.names)
    relatives = [
        {**reads.RELATIVE_SHAPE.of(r), "parent_run_id": r[width]}
        for r in reads.relatives(session, body["parent_run_id"], body["depends_on_run_ids"])
    ]
    body["related"] = _related(body, relatives)
    waiting = tuple(ref["id"] for ref in body["related"]["waiting_on"])
    facts = transitions.facts_from(body, waiting)
    body["allowed_actions"] = transitions.allowed_by_facts(session, facts, PARTNER_ACTIONS)
    return {"production_run": body}


def partner_run_detail(session: Session, run_id: str, partner_id: str) -> dict[str, Any]:
    """``partner_run_body`` with JSON values (datetimes as strings), for the portal pages."""
    body: dict[str, Any] = jsonable(partner_run_body(session, run_id, partner_id))
    return body
