"""Everything the run detail page shows, read through the domains' services.

The actions offered come from ``transitions.decisions`` (the same ``lifecycle.check`` every
service runs before it changes the run); a refused action is listed with the lifecycle's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from atelier.audit import service as audit
from atelier.auth import service as auth
from atelier.catalog import service as catalog
from atelier.inventory.consumption import list_consumption
from atelier.media import service as media
from atelier.notifications import feed
from atelier.partners import service as partners
from atelier.platform.rows import jsonable
from atelier.production import costs, transitions, views
from atelier.production.lifecycle import Action, Decision, RunStatus
from atelier.production.models import ProductionRun
from atelier.tasks import service as tasks
from atelier.web.shared.render import FormError

# What the page offers, in the order it shows them.
PAGE_ACTIONS = (
    Action.APPROVE,
    Action.DISPATCH,
    Action.ADD_TASKS,
    Action.REASSIGN,
    Action.ACCEPT,
    Action.START,
    Action.PROGRESS,
    Action.FINISH,
    Action.COMPLETE,
    Action.CANCEL,
)
_LIST_LIMIT = 200


@dataclass
class FormState:
    """A refused form: its error and the values the admin typed, to show them again."""

    form: str
    error: FormError
    values: dict[str, Any] = field(default_factory=dict)


def _actor_names(
    session: Session, events: list[Any], partner_names: dict[str, str]
) -> dict[str, str]:
    admin_ids = [e.actor_id for e in events if e.actor_type == "admin" and e.actor_id]
    names = auth.admin_names(session, admin_ids)
    names.update({k: v for k, v in partner_names.items() if k})
    return names


def _dependencies(session: Session, run: ProductionRun) -> list[dict[str, Any]]:
    """Each run this one depends on, its status, and whether this run still waits on it."""
    deps = list(run.depends_on_run_ids or [])
    if not deps:
        return []
    found = {r.id: r for r in _runs_by_id(session, deps)}
    out = []
    for dep_id in deps:
        dep = found.get(dep_id)
        status = dep.status if dep else None
        out.append(
            {
                "id": dep_id,
                "status": status,
                "role": dep.role if dep else None,
                "waiting": status != RunStatus.COMPLETED,
                "cancelled": status == RunStatus.CANCELLED,
            }
        )
    return out


def _runs_by_id(session: Session, run_ids: list[str]) -> list[ProductionRun]:
    return [r for r in (session.get(ProductionRun, rid) for rid in run_ids) if r is not None]


def run_page(session: Session, run_id: str) -> dict[str, Any]:
    """The detail page's context (404 when the run is unknown)."""
    detail = jsonable(views.run_detail_body(session, run_id))
    run = transitions.get_run(session, run_id)
    design = catalog.get_design(session, run.design_id)
    events = audit.timeline(session, run.id, limit=_LIST_LIMIT)
    logs, log_count = list_consumption(session, run_id=run.id, limit=_LIST_LIMIT)
    media_rows, media_count = media.list_media(session, production_run_id=run.id, limit=50)
    summary = costs.run_costs(session, run.id)
    decisions: dict[Action, Decision] = transitions.decisions(session, run, PAGE_ACTIONS)
    children = detail["children"]
    partner_ids = {run.partner_id, run.previous_partner_id}
    partner_ids |= {e.actor_id for e in events if e.actor_type == "partner"}
    partner_ids |= {c.get("partner_id") for c in children}
    partner_names = {
        pid: info["name"]
        for pid, info in partners.partner_display(session, [p for p in partner_ids if p]).items()
    }
    task_rows = tasks.tasks_for_run(session, run.id)
    live = [t for t in task_rows if t.status != "cancelled"]
    done = sum(1 for t in live if t.status == "completed")
    dependencies = _dependencies(session, run)
    all_partners, _ = partners.list_partners(session, status=None, q=None, limit=500, offset=0)
    templates, _ = tasks.list_templates(session, limit=500)
    categories, _ = tasks.list_categories(session, limit=200)
    run_feed = feed.list_feed(session, run_id=run.id, limit=20)
    return {
        "run": run,
        "detail": detail,
        "design": design,
        "snapshot": run.snapshot or {},
        "events": events,
        "actor_names": _actor_names(session, events, partner_names),
        "partner_names": partner_names,
        "logs": logs,
        "log_count": log_count,
        "media": media_rows,
        "media_count": media_count,
        "costs": summary,
        "decisions": {a.value: d for a, d in decisions.items()},
        "dispatch_paused": run.dispatch_state == "awaiting_templates",
        "tasks": task_rows,
        "progress": {
            "completed": done,
            "total": len(live),
            "percent": round(100 * done / len(live)) if live else 0,
        },
        "dependencies": dependencies,
        "cancelled_dependencies": [d for d in dependencies if d["cancelled"]],
        "children": children,
        "partners": sorted(
            (p for p in all_partners if p.status != "inactive"), key=lambda p: p.name.lower()
        ),
        "templates": sorted(templates, key=lambda t: t.name.lower()),
        "categories": sorted(categories, key=lambda c: c.name.lower()),
        "feed_entries": run_feed.entries,
        "forms": {},
    }
