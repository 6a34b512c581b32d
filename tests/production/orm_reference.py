"""The ORM read paths the hot reads replaced (issue 14), kept as the reference their JSON is
compared against: ORM objects → dicts/pydantic models → ``model_dump(mode="json")``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.catalog.models import Design, DesignPartner
from atelier.catalog.schemas import DesignEnvelope
from atelier.production import transitions
from atelier.production.lifecycle import PARTNER_ACTIONS, RunStatus
from atelier.production.lifecycle_schemas import PartnerRunEnvelope, PartnerRunList
from atelier.production.models import ProductionRun
from atelier.production.schemas import ProductionRunRead
from atelier.tasks import service as tasks


def _dump(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return out


def _progress(completed: int, total: int) -> dict[str, int]:
    percent = round(100 * completed / total) if total else 0
    return {"completed": completed, "total": total, "percent": percent}


def _run_fields(run: ProductionRun) -> dict[str, Any]:
    return ProductionRunRead.model_validate(run).model_dump(mode="json")


def partner_runs(session: Session, partner_id: str) -> dict[str, Any]:
    """``GET /partners/production-runs`` (no filters, first page of 50) the ORM way."""
    rows = session.execute(
        select(ProductionRun, Design.name, Design.thumbnail_url)
        .join(Design, Design.id == ProductionRun.design_id)
        .where(ProductionRun.partner_id == partner_id)
        .order_by(ProductionRun.created_at.desc(), ProductionRun.id.desc())
        .limit(50)
    ).all()
    progress = tasks.run_task_progress(session, [run.id for run, _, _ in rows])
    out = []
    for run, name, thumbnail in rows:
        item = _run_fields(run)
        item["design"] = {"id": run.design_id, "name": name, "thumbnail_url": thumbnail}
        item["progress"] = _progress(*progress.get(run.id, (0, 0)))
        out.append(item)
    listing = {"production_runs": out, "count": len(out), "limit": 50, "offset": 0}
    return _dump(PartnerRunList.model_validate(listing))


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


def _related_runs(session: Session, run: ProductionRun) -> dict[str, Any]:
    relatives: list[ProductionRun] = []
    if run.parent_run_id:
        relatives = list(
            session.scalars(
                select(ProductionRun)
                .where(
                    or_(
                        ProductionRun.id == run.parent_run_id,
                        ProductionRun.parent_run_id == run.parent_run_id,
                    )
                )
                .order_by(ProductionRun.sequence, ProductionRun.created_at, ProductionRun.id)
            )
        )
    by_id = {r.id: r for r in relatives}
    parent = by_id.get(run.parent_run_id) if run.parent_run_id else None
    siblings = [r for r in relatives if r.parent_run_id == run.parent_run_id and r.id != run.id]
    dependents = [r for r in siblings if run.id in (r.depends_on_run_ids or [])]
    deps = list(run.depends_on_run_ids or [])
    for dep in deps:
        found = session.get(ProductionRun, dep)
        if dep not in by_id and found is not None:
            by_id[dep] = found
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


def partner_run(session: Session, run_id: str) -> dict[str, Any]:
    """``GET /partners/production-runs/:id`` the ORM way."""
    run = session.get(ProductionRun, run_id)
    assert run is not None
    design = catalog.get_design(session, run.design_id)
    task_rows = tasks.tasks_for_run(session, run.id)
    live = [t for t in task_rows if t.status != "cancelled"]
    completed = sum(1 for t in live if t.status == "completed")
    body = _run_fields(run)
    body["design"] = {
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
    body["snapshot"] = run.snapshot or {}
    body["tasks"] = [tasks.serialize_task(t) for t in task_rows]
    body["progress"] = _progress(completed, len(live))
    body["related"] = _related_runs(session, run)
    body["allowed_actions"] = transitions.allowed_actions(session, run, PARTNER_ACTIONS)
    return _dump(PartnerRunEnvelope.model_validate({"production_run": body}))


def design(session: Session, design_id: str) -> dict[str, Any]:
    """``GET /admin/designs/:id`` the ORM way."""
    from atelier.catalog import repository
    from atelier.partners import service as partners_service

    found = catalog.get_design(session, design_id)
    partner_ids = list(
        session.scalars(
            select(DesignPartner.partner_id)
            .where(DesignPartner.design_id == design_id)
            .order_by(DesignPartner.created_at, DesignPartner.partner_id)
        )
    )
    display = partners_service.partner_display(session, partner_ids)
    detail = {
        "id": found.id,
        "name": found.name,
        "description": found.description,
        "status": found.status,
        "thumbnail_url": found.thumbnail_url,
        "media_files": found.media_files,
        "specifications": found.specifications,
        "colors": found.colors,
        "sizes": found.sizes,
        "moodboard": found.moodboard,
        "output_inventory_item_id": found.output_inventory_item_id,
        "metadata_": found.metadata_,
        "created_at": found.created_at,
        "updated_at": found.updated_at,
        "bom": repository.bom_lines(session, found.id),
        "partners": [display[pid] for pid in partner_ids if pid in display],
    }
    return _dump(DesignEnvelope.model_validate({"design": detail}))


def admin_run(session: Session, run_id: str) -> dict[str, Any]:
    """``GET /admin/production-runs/:id`` the ORM way."""
    from atelier.production import policy, reminder_state, repository, views
    from atelier.production.schemas import (
        AutoApprovalRead,
        PartnerRef,
        ProductionRunDetail,
        ProductionRunDetailEnvelope,
        RunReminderRead,
        RunSummary,
    )
    from atelier.tasks.schemas import TaskRead

    def ref(partners: dict[str, tuple[str, str]], pid: str | None) -> PartnerRef | None:
        if pid is None:
            return None
        name, handle = partners.get(pid, (None, None))  # type: ignore[arg-type]
        return PartnerRef(id=pid, name=name, handle=handle)

    run = transitions.get_run(session, run_id)
    parent = transitions.get_run(session, run.parent_run_id) if run.parent_run_id else None
    children = repository.children_of(session, run.id)
    partner_ids = [p for p in (run.partner_id, run.previous_partner_id) if p]
    designs, partners = repository.names_for(session, [run.design_id], partner_ids)
    partner = ref(partners, run.partner_id)
    detail = ProductionRunDetail.model_validate(
        {
            **views.run_read(run).model_dump(),
            "design_name": designs.get(run.design_id),
            "partner": partner,
            "partner_name": partner.name if partner else None,
            "previous_partner": ref(partners, run.previous_partner_id),
            "parent": RunSummary.model_validate(parent) if parent else None,
            "children": views.rows_for(session, children),
            "waiting_on": list(transitions.waiting_on(session, run)),
            "tasks": [TaskRead.model_validate(t) for t in tasks.tasks_for_run(session, run.id)],
            "policy": AutoApprovalRead.model_validate(policy.evaluate_run(session, run).as_dict()),
            "reminders": [
                RunReminderRead.model_validate(state)
                for state in reminder_state.reminder_states(session, run.id)
            ],
            "allowed_actions": transitions.allowed_actions(session, run),
        }
    )
    return _dump(ProductionRunDetailEnvelope(production_run=detail))
