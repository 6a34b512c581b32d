"""What the portal pages show, assembled from the same services the partner API uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from atelier.audit import service as audit
from atelier.catalog import service as catalog
from atelier.inventory import consumption
from atelier.media import service as media
from atelier.platform import clock
from atelier.production import partner_views
from atelier.production.lifecycle import PARTNER_ACTIONS, Action, RunStatus, check
from atelier.production.models import ProductionRun
from atelier.production.transitions import facts_of, lifecycle_policy

# Started, not finished, and nothing recorded for this long: the run shows as idle.
IDLE_AFTER = timedelta(days=3)
PAGE_SIZE = 20
# Buttons the portal can show, in the order a run needs them: the partner's verbs.
PORTAL_ACTIONS = PARTNER_ACTIONS
# Needs-action kinds, most urgent first.
NEEDS = ("accept", "start", "idle", "complete")


@dataclass(frozen=True, slots=True)
class Attention:
    kind: str  # accept | start | idle | complete
    since: datetime
    days: int


def _parse(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def attention(run: dict[str, Any], now: datetime) -> Attention | None:
    """What the partner must do next on ``run`` (a serialised run), and since when."""
    status = run["status"]
    since: datetime | None
    if status == RunStatus.SENT_TO_PARTNER:
        kind, since = "accept", _parse(run.get("dispatch_completed_at") or run["updated_at"])
    elif status != RunStatus.IN_PROGRESS:
        return None
    elif run.get("started_at") is None:
        kind, since = "start", _parse(run.get("accepted_at") or run["updated_at"])
    elif run.get("finished_at") is not None:
        kind, since = "complete", _parse(run["finished_at"])
    else:
        marks = [
            _parse(run.get(key))
            for key in ("last_activity_at", "last_progress_at", "started_at")
            if run.get(key)
        ]
        since = max(m for m in marks if m is not None)
        if now - since < IDLE_AFTER:
            return None
        kind = "idle"
    assert since is not None
    return Attention(kind, since, max(0, (now - since).days))


def runs_page(
    session: Session,
    partner_id: str,
    *,
    run_type: str,
    status: str | None,
    offset: int,
) -> dict[str, Any]:
    """The runs list: what needs the partner first, then every run of the tab, paged."""
    now = clock.now()
    needs: list[tuple[int, float, dict[str, Any], Attention]] = []
    if offset == 0 and status is None:
        for open_status in (RunStatus.SENT_TO_PARTNER, RunStatus.IN_PROGRESS):
            rows = partner_views.list_partner_runs(
                session, partner_id, status=open_status, run_type=run_type, limit=200
            )["production_runs"]
            for run in rows:
                mark = attention(run, now)
                if mark is not None:
                    needs.append((NEEDS.index(mark.kind), -mark.days, run, mark))
        needs.sort(key=lambda item: (item[0], item[1], item[2]["id"]))
    listing = partner_views.list_partner_runs(
        session, partner_id, status=status, run_type=run_type, limit=PAGE_SIZE, offset=offset
    )
    return {
        "needs": [(run, mark) for _, _, run, mark in needs],
        "runs": [(run, attention(run, now)) for run in listing["production_runs"]],
        "count": listing["count"],
        "limit": PAGE_SIZE,
        "offset": offset,
    }


def allowed_actions(session: Session, run: ProductionRun) -> dict[str, bool]:
    """Which portal buttons work now: the same ``lifecycle.check`` the services run."""
    facts = facts_of(session, run)
    policy = lifecycle_policy(session)
    allowed = {action.value: bool(check(action, facts, policy)) for action in PORTAL_ACTIONS}
    # Decline is a choice before the work starts (the service refuses it after start).
    allowed[Action.DECLINE.value] = allowed[Action.DECLINE.value] and run.started_at is None
    return allowed


def run_page(session: Session, run_id: str, partner_id: str) -> dict[str, Any]:
    """Everything the run page shows; 404 for a run that is not the partner's."""
    detail = partner_views.partner_run_detail(session, run_id, partner_id)["production_run"]
    run = partner_views.visible_run(session, run_id, partner_id)
    snapshot = detail.get("snapshot") or {}
    design = detail.get("design") or {}
    current_bom = catalog.design_snapshot(session, catalog.get_design(session, run.design_id))[
        "bom"
    ]
    bom = current_bom or snapshot.get("bom") or []
    logs, _ = consumption.list_consumption(session, run_id=run.id, limit=200)
    files, _ = media.list_media(session, production_run_id=run.id, limit=50)
    events = audit.timeline(session, run.id, limit=50)
    items = {line["inventory_item_id"]: line for line in bom}
    return {
        "run": detail,
        "design": design,
        "snapshot": snapshot,
        "bom": bom,
        "tasks": detail["tasks"],
        "progress": detail["progress"],
        "related": detail["related"],
        "allowed": allowed_actions(session, run),
        "attention": attention(detail, clock.now()),
        "logs": [(log, items.get(log.inventory_item_id)) for log in logs],
        "media_files": files,
        "events": events,
    }
