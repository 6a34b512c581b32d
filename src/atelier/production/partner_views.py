"""What a partner sees of its runs: the list and the detail view.

Every read is batched (designs for a page in one query, task progress for a page in one query,
parent + siblings in one query), so the number of queries does not grow with the page size or
the number of tasks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.catalog.models import Design
from atelier.platform.errors import not_found
from atelier.production import repository, transitions
from atelier.production.lifecycle import PARTNER_ACTIONS, RunStatus
from atelier.production.models import ProductionRun
from atelier.production.schemas import ProductionRunRead
from atelier.tasks import service as tasks


def progress_of(completed: int, total: int) -> dict[str, int]:
    percent = round(100 * completed / total) if total else 0
    return {"completed": completed, "total": total, "percent": percent}


def _run_fields(run: ProductionRun) -> dict[str, Any]:
    return ProductionRunRead.model_validate(run).model_dump(mode="json")


def _related_brief(run: ProductionRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "role": run.role,
        "run_type": run.run_type,
        "quantity": run.quantity,
        "sequence": run.sequence,
        "depends_on_run_ids": list(run.depends_on_run_ids or []),
    }


def list_partner_runs(
    session: Session,
    partner_id: str,
    *,
    status: str | None = None,
    run_type: str | None = None,
    role: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """The partner's runs, newest first, each with design name/thumbnail and task progress."""
    rows, count = repository.partner_runs_page(
        session,
        partner_id,
        status=status,
        run_type=run_type,
        role=role,
        limit=limit,
        offset=offset,
    )
    progress = tasks.run_task_progress(session, [run.id for run, _, _ in rows]) if rows else {}
    out = []
    for run, name, thumbnail in rows:
        item = _run_fields(run)
        item["design"] = {"id": run.design_id, "name": name, "thumbnail_url": thumbnail}
        item["progress"] = progress_of(*progress.get(run.id, (0, 0)))
        out.append(item)
    return {"production_runs": out, "count": int(count), "limit": limit, "offset": offset}


def visible_run(session: Session, run_id: str, partner_id: str) -> ProductionRun:
    """The run when it belongs to the partner; 404 otherwise (foreign or partner-less)."""
    run = session.get(ProductionRun, run_id)
    if run is None or run.partner_id is None or run.partner_id != partner_id:
        raise not_found("production_run", run_id)
    return run


def related_runs(session: Session, run: ProductionRun) -> dict[str, Any]:
    """Parent (id, status), siblings, sibling dependents and the runs this one waits on."""
    relatives = repository.family_of(session, run.parent_run_id) if run.parent_run_id else []
    by_id = {r.id: r for r in relatives}
    parent = by_id.get(run.parent_run_id) if run.parent_run_id else None
    siblings = [r for r in relatives if r.parent_run_id == run.parent_run_id and r.id != run.id]
    dependents = [r for r in siblings if run.id in (r.depends_on_run_ids or [])]
    deps = list(run.depends_on_run_ids or [])
    missing = [d for d in deps if d not in by_id]
    by_id.update({r.id: r for r in repository.runs_by_ids(session, missing)})
    waiting_on = [
        {"id": d, "status": by_id[d].status if d in by_id else None}
        for d in deps
        if d not in by_id or by_id[d].status != RunStatus.COMPLETED
    ]
    return {
        "parent": {"id": parent.id, "status": parent.status} if parent else None,
        "siblings": [_related_brief(r) for r in siblings],
        "dependents": [_related_brief(r) for r in dependents],
        "waiting_on": waiting_on,
    }


def design_view(design: Design) -> dict[str, Any]:
    return {
        "id": design.id,
        "name": design.name,
        "description": design.description,
        "status": design.status,
        "thumbnail_url": design.thumbnail_url,
        "specifications": design.specifications or {},
        "colors": design.colors or [],
        "sizes": design.sizes or [],
        "media_files": design.media_files or [],
    }


def partner_run_detail(session: Session, run_id: str, partner_id: str) -> dict[str, Any]:
    """The partner's view of one run: run, design, snapshot, tasks, progress, related runs."""
    run = visible_run(session, run_id, partner_id)
    design = catalog.get_design(session, run.design_id)
    task_rows = tasks.tasks_for_run(session, run.id)
    live = [t for t in task_rows if t.status != "cancelled"]
    completed = sum(1 for t in live if t.status == "completed")
    body = _run_fields(run)
    body["design"] = design_view(design)
    body["snapshot"] = run.snapshot or {}
    body["tasks"] = tasks.serialize_tasks(task_rows)
    body["progress"] = progress_of(completed, len(live))
    body["related"] = related_runs(session, run)
    body["allowed_actions"] = transitions.allowed_actions(session, run, PARTNER_ACTIONS)
    return {"production_run": body}
