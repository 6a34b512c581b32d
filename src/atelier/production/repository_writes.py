"""SQL of the milestone writes (accept, start, finish, progress), without the ORM's unit of work.

Two statements, built once at import: the run's row (the ``ProductionRunRead`` columns, the
paused gate time and the stored lifecycle policy document, locked ``FOR UPDATE`` on
PostgreSQL), and an UPDATE of the run guarded by the facts the lifecycle decided on, so it
changes nothing when they moved under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Boolean, Table, bindparam, select, update
from sqlalchemy.orm import Session

from atelier.platform.rows import read_rows
from atelier.production.models import PolicySetting, ProductionRun
from atelier.production.repository_reads import RUN_SHAPE

_RUNS = cast(Table, ProductionRun.__table__)

# The policy rides the run's statement (an outer join on its key: one row or none), and only
# the run is locked.
_RUN_ROW = (
    select(*RUN_SHAPE.columns, ProductionRun.gate_paused_seconds, PolicySetting.value)
    .outerjoin(PolicySetting, PolicySetting.key == bindparam("policy_key"))
    .where(ProductionRun.id == bindparam("run_id"))
    .with_for_update(of=ProductionRun)
)
_WIDTH = len(RUN_SHAPE.names)


def locked_run_row(
    session: Session, run_id: str, policy_key: str
) -> tuple[dict[str, Any], int, dict[str, Any] | None] | None:
    """The run as the ``ProductionRunRead`` dict, its ``gate_paused_seconds`` and the policy
    document stored under ``policy_key`` (``None`` when none is), in one statement that locks
    the run for the rest of the transaction; ``None`` when the run is unknown."""
    row = read_rows(session, _RUN_ROW, run_id=run_id, policy_key=policy_key).first()
    if row is None:
        return None
    return RUN_SHAPE.of(row), row[_WIDTH], row[_WIDTH + 1]


_c = _RUNS.c
# The SET clause is the parameters named like columns (see ``update_if_unchanged``); the
# guard's parameters are prefixed so they never name a column.
_GUARDED_UPDATE = update(_RUNS).where(
    _c.id == bindparam("guard_id"),
    _c.status == bindparam("guard_status"),
    _c.partner_id.is_not_distinct_from(bindparam("guard_partner_id")),
    _c.accepted_at.is_(None) == bindparam("guard_no_accepted_at", type_=Boolean),
    _c.started_at.is_(None) == bindparam("guard_no_started_at", type_=Boolean),
    _c.finished_at.is_(None) == bindparam("guard_no_finished_at", type_=Boolean),
    _c.dispatch_state == bindparam("guard_dispatch_state"),
    _c.on_hold == bindparam("guard_on_hold", type_=Boolean),
)


def update_if_unchanged(
    session: Session, run_id: str, seen: Mapping[str, Any], changes: Mapping[str, Any]
) -> bool:
    """Write ``changes`` (column → value) to the run when the lifecycle's facts are still the
    ones in ``seen`` (status, partner, accepted/started/finished or not, dispatch state, hold);
    whether a row changed."""
    params = {
        "guard_id": run_id,
        "guard_status": seen["status"],
        "guard_partner_id": seen["partner_id"],
        "guard_no_accepted_at": seen["accepted_at"] is None,
        "guard_no_started_at": seen["started_at"] is None,
        "guard_no_finished_at": seen["finished_at"] is None,
        "guard_dispatch_state": seen["dispatch_state"],
        "guard_on_hold": bool(seen["on_hold"]),
        **changes,
    }
    result = session.connection().execute(_GUARDED_UPDATE, params)
    return bool(result.rowcount)
