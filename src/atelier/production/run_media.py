"""What media needs from a run: the partner's run checked for ``attach_media``, and the record
of files uploaded or attached on it (activity, audit). Media sits above production and calls
these; it never writes the run itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import not_found
from atelier.production import transitions
from atelier.production.lifecycle import Action
from atelier.production.models import ProductionRun


def partner_run(session: Session, run_id: str, partner_id: str, *, lock: bool) -> ProductionRun:
    """The partner's run (locked when ``lock``); 404 when it is unknown, foreign or partner-less."""
    run = transitions.lock_run(session, run_id) if lock else transitions.get_run(session, run_id)
    # A foreign run, or one with no partner, is indistinguishable from an unknown one.
    if run.partner_id is None or run.partner_id != partner_id:
        raise not_found("production_run", run_id)
    return run


def run_taking_media(
    session: Session, run_id: str, partner_id: str, *, lock: bool
) -> ProductionRun:
    """The partner's run when it still takes media; 404 as :func:`partner_run`, else 409."""
    run = partner_run(session, run_id, partner_id, lock=lock)
    transitions.require(session, run, Action.ATTACH_MEDIA)
    return run


def record_media(
    session: Session, run: ProductionRun, kind: str, actor: Actor, data: dict[str, Any]
) -> None:
    """Audit ``kind`` (``media_uploaded``/``media_attached``) on the locked run; bumps its
    activity."""
    run.last_activity_at = clock.now()
    transitions.record_change(session, run, kind, actor, data=data)
