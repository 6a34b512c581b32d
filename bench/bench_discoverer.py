"""One reminder-discoverer pass over 1M runs (100k active) on SQLite or PostgreSQL.

Times (median of ``--passes``) the discoverer's ``find_stalled_runs`` step alone (the one
query + classification) and the whole seeded discoverer flow through the real executor (find,
policy, bulk emit of the due reminders, log), rolling each pass back so every pass sees the same
data. Not part of the test run.

.venv/bin/python -m bench.bench_discoverer [--database-url postgresql+psycopg://...]
    [--runs 1000000] [--active 100000] [--overdue 0.02] [--passes 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.common import fresh_database

NOW = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
TERMINAL = ["completed", "cancelled", "pending_review", "approved"]


def seed(url: str, total: int, active: int, overdue: float) -> dict[str, int]:
    """``total`` runs: ``active`` with a partner-side status, the rest terminal or pre-dispatch.
    A fraction ``overdue`` of the active ones are past their bucket's threshold."""
    from atelier.catalog.models import Design
    from atelier.partners.models import Partner
    from atelier.platform.db import Database
    from atelier.platform.ids import new_id
    from atelier.production.models import ProductionRun

    rng = random.Random(11)
    db = Database(url)
    counts = {"active": 0, "overdue": 0}
    try:
        with db.session() as session:
            designs = [{"id": new_id("design"), "name": f"Design {i}"} for i in range(200)]
            partners = [
                {"id": new_id("partner"), "name": f"Works {i}", "handle": f"works-{i}"}
                for i in range(300)
            ]
            session.execute(insert(Design), [{**d, "status": "Approved"} for d in designs])
            session.execute(insert(Partner), partners)
            active_every = max(1, total // max(active, 1))
            chunk: list[dict[str, Any]] = []
            for i in range(total):
                is_active = i % active_every == 0 and counts["active"] < active
                created = NOW - timedelta(days=rng.randint(5, 400))
                row: dict[str, Any] = {
                    "id": new_id("prod_run"),
                    "design_id": rng.choice(designs)["id"],
                    "partner_id": rng.choice(partners)["id"],
                    "quantity": rng.randint(1, 500),
                    "created_at": created,
                    "updated_at": created,
                }
                if is_active:
                    counts["active"] += 1
                    late = rng.random() < overdue
                    counts["overdue"] += int(late)
                    age = timedelta(hours=rng.randint(100, 400) if late else rng.randint(1, 20))
                    kind = rng.choice(("pending", "not_started", "idle", "idle"))
                    row["dispatch_completed_at"] = NOW - age - timedelta(days=2)
                    if kind == "pending":
                        row["status"] = "sent_to_partner"
                        row["dispatch_completed_at"] = NOW - age
                    else:
                        row["status"] = "in_progress"
                        row["accepted_at"] = NOW - age - timedelta(days=1)
                        if kind == "not_started":
                            row["accepted_at"] = NOW - age
                        else:
                            row["started_at"] = NOW - age - timedelta(hours=12)
                            row["last_activity_at"] = NOW - age
                else:
                    row["status"] = rng.choice(TERMINAL)
                chunk.append(row)
                if len(chunk) == 10_000:
                    session.execute(insert(ProductionRun), chunk)
                    chunk = []
            if chunk:
                session.execute(insert(ProductionRun), chunk)
    finally:
        db.dispose()
    return counts


def timed_passes(url: str, passes: int) -> dict[str, Any]:
    from atelier.app import load_operations
    from atelier.flows import executor
    from atelier.flows.schemas import FlowCreate
    from atelier.flows.seeds import DISCOVERER
    from atelier.flows.service import create_flow
    from atelier.platform import clock
    from atelier.platform.clock import FrozenClock
    from atelier.platform.db import Database
    from atelier.platform.settings import Settings
    from atelier.reminders import service
    from atelier.reminders.policy import Thresholds

    load_operations()
    clock.use_clock(FrozenClock(NOW))
    settings = Settings(database_url=url)
    db = Database(url)
    find_times: list[float] = []
    flow_times: list[float] = []
    result: dict[str, Any] = {}
    try:
        with db.session() as session:
            flow = create_flow(session, FlowCreate.model_validate(DISCOVERER), settings)
            flow_id = flow.id
        for _ in range(passes):
            session = db.new_session(write=False)
            try:
                started = time.perf_counter()
                found = service.discover(session, NOW, Thresholds())
                find_times.append(time.perf_counter() - started)
                result["inspected"] = found.inspected
                result["overdue"] = len(found.stalled)
            finally:
                session.rollback()
                session.close()
        for _ in range(passes):
            session = db.new_session(write=True)
            try:
                flow = session.get(type(flow), flow_id)
                started = time.perf_counter()
                execution = executor.execute(session, flow, settings, triggered_by="manual:bench")
                session.flush()
                flow_times.append(time.perf_counter() - started)
                assert execution is not None and execution.status == "succeeded", execution
            finally:
                session.rollback()  # every pass sees the same runs and no reminder state
                session.close()
    finally:
        db.dispose()
    result["find_median_s"] = statistics.median(find_times)
    result["flow_median_s"] = statistics.median(flow_times)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--active", type=int, default=100_000)
    parser.add_argument("--overdue", type=float, default=0.02)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database_url, Path(tmp))
        started = time.perf_counter()
        counts = seed(url, args.runs, args.active, args.overdue)
        print(
            f"seeded {args.runs} runs ({counts['active']} active, {counts['overdue']} overdue) "
            f"in {time.perf_counter() - started:.0f} s"
        )
        result = timed_passes(url, args.passes)
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"{backend}: inspected {result['inspected']} active runs, {result['overdue']} overdue; "
        f"find step {result['find_median_s']:.2f} s, whole discoverer flow "
        f"(find + policy + emit {result['overdue']} events + log) {result['flow_median_s']:.2f} s "
        f"(median of {args.passes})"
    )


if __name__ == "__main__":
    main()
