"""Every statement of the hot reads uses an index on a seeded database with planner statistics.

A few thousand runs and tens of thousands of tasks (most top-level, so ``parent_task_id`` is
mostly NULL) are bulk-inserted beside a rich split run built through the API; ``ANALYZE`` gives
the planner its statistics. Each case in ``CASES`` requests a real endpoint through the app;
every SELECT it sent is captured with its parameters and explained (SQLite ``EXPLAIN QUERY
PLAN``, PostgreSQL ``EXPLAIN``). A full scan of ``production_runs`` or ``tasks`` fails the test.

The same reads are explained again on a database that was never analysed (a bulk load before
the statistics job's first run, autovacuum off): the plans must not depend on estimates.

To guard another read, add a ``Case``: a name, the path (``{first}``, ``{second}``,
``{parent}``, ``{design}``, ``{partner}`` and ``{big}``, a run of 20 tasks, are filled with the
seeded ids) and who asks.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, insert
from sqlalchemy.engine import Connection

from atelier.catalog.models import Design
from atelier.partners.models import Partner
from atelier.platform.db import Database
from atelier.platform.ids import new_id
from atelier.production.models import ProductionRun
from atelier.tasks.models import Task, TaskComment
from tests.production.lifecycle_helpers import dispatched
from tests.production.read_support import Split, as_partner, rich_split

RUNS = 3_000
TASKS_PER_RUN = 10  # 30k tasks, all top-level: the subtasks are the API-built runs' few
PARTNERS = 40
DESIGNS = 100
# Without statistics, 150 of the noise runs are the cutter's: its list reads pages of 50 runs,
# whose task progress is the statement the planner got wrong. (With statistics and only 3,000
# runs, PostgreSQL rightly hashes such a page against the whole runs table, as for the admin
# list's search below; at 100k it looks the runs up.)
BUSY_EVERY = 20
BIG_TABLES = ("production_runs", "tasks")


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    path: str
    who: str  # "admin", "cutter" or "tailor"


CASES = [
    Case("partner run detail", "/partners/production-runs/{first}", "cutter"),
    Case("partner run detail, waiting on siblings", "/partners/production-runs/{second}", "tailor"),
    Case("partner runs list", "/partners/production-runs", "cutter"),
    Case("partner runs list, filtered", "/partners/production-runs?status=in_progress", "cutter"),
    Case("admin run detail (child)", "/admin/production-runs/{first}", "admin"),
    Case("admin run detail (parent)", "/admin/production-runs/{parent}", "admin"),
    Case("admin design read", "/admin/designs/{design}", "admin"),
    # The list's search by word: names looked up, runs read from the design/partner indexes.
    # (Pages of 10: with only 3,000 runs PostgreSQL rightly hashes a page of 50 against the
    # whole table instead of looking its runs up; at 100k it looks them up.)
    Case(
        "admin list q, two statuses",
        "/admin/production-runs?q=noise+7&status=approved,in_progress&limit=10",
        "admin",
    ),
    Case(
        "admin list q, all runs, oldest first",
        "/admin/production-runs?q=NOISE+7&include_children=true&sort=created_at&limit=10",
        "admin",
    ),
    Case(
        "admin list q, a page past the end", "/admin/production-runs?q=noise+7&offset=5000", "admin"
    ),
    Case(
        "admin list q, two letters",
        "/admin/production-runs?q=oi&status=completed&limit=10",
        "admin",
    ),
    Case(
        "admin list q and a partner",
        "/admin/production-runs?q=noise&partner_id={partner}&sort=quantity",
        "admin",
    ),
    Case("partner run detail, 20 tasks", "/partners/production-runs/{big}", "cutter"),
    Case("admin run detail, 20 tasks", "/admin/production-runs/{big}", "admin"),
]


def _bulk(conn: Connection, table: Any, rows: Iterator[dict[str, Any]], batch: int = 5_000) -> None:
    while chunk := list(itertools.islice(rows, batch)):
        conn.execute(insert(table), chunk)


def seed_noise(db: Database, *, busy_partner: str | None = None, analyse: bool = True) -> None:
    """Runs, tasks (mostly top-level) and comments of other partners and designs (and every
    :data:`BUSY_EVERY`-th run ``busy_partner``'s, so its list pages are full); then ``ANALYZE``
    unless ``analyse`` is false."""
    rng = random.Random(14)
    partner_ids = [new_id("partner") for _ in range(PARTNERS)]
    design_ids = [new_id("design") for _ in range(DESIGNS)]
    run_ids = [new_id("prod_run") for _ in range(RUNS)]
    statuses = ["pending_review", "approved", "sent_to_partner", "in_progress", "completed"]
    with db.engine.begin() as conn:
        partners = enumerate(partner_ids)
        rows = ({"id": p, "name": f"Noise {i}", "handle": f"noise-{i}"} for i, p in partners)
        _bulk(conn, Partner.__table__, rows)
        _bulk(conn, Design.__table__, iter({"id": d, "name": f"Design {d}"} for d in design_ids))
        _bulk(
            conn,
            ProductionRun.__table__,
            iter(
                {
                    "id": run_id,
                    "status": rng.choice(statuses),
                    "design_id": rng.choice(design_ids),
                    "partner_id": (
                        busy_partner
                        if busy_partner and index % BUSY_EVERY == 0
                        else rng.choice(partner_ids)
                    ),
                    "quantity": 10,
                }
                for index, run_id in enumerate(run_ids)
            ),
        )

        def tasks() -> Iterator[dict[str, Any]]:
            for run_id in run_ids:
                for position in range(TASKS_PER_RUN):
                    task_id = new_id("task")
                    yield {
                        "id": task_id,
                        "title": f"step {position}",
                        "production_run_id": run_id,
                        "position": position,
                        "status": "pending",
                    }

        _bulk(conn, Task.__table__, tasks())
    with db.engine.begin() as conn:
        some = [r[0] for r in conn.exec_driver_sql("SELECT id FROM tasks LIMIT 3000")]
        _bulk(
            conn,
            TaskComment.__table__,
            iter({"task_id": t, "author_type": "partner", "body": "noise"} for t in some),
        )
        if analyse:
            conn.exec_driver_sql("ANALYZE")
        else:
            _forget_statistics(conn)


def _forget_statistics(conn: Connection) -> None:
    """No planner statistics for the big tables. A fresh SQLite file has none; a PostgreSQL
    test database keeps the column statistics of an earlier test's ANALYZE across TRUNCATE, so
    they are deleted (the test role is a superuser; otherwise the test is skipped)."""
    if conn.dialect.name == "sqlite":
        found = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).first()
        assert found is None, "the SQLite template was analysed"
        return
    if not conn.exec_driver_sql(
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    ).scalar():
        pytest.skip("forgetting PostgreSQL statistics needs a superuser")
    conn.exec_driver_sql(
        "DELETE FROM pg_statistic"
        " WHERE starelid IN ('production_runs'::regclass, 'tasks'::regclass)"
    )


def _explain(conn: Connection, statement: str, parameters: Any, postgres: bool) -> list[str]:
    prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    # SQLite: (id, parent, notused, detail); PostgreSQL: one text column per plan line.
    return [str(row[-1]).strip() for row in rows]


_SQLITE_SCAN = re.compile(rf"^SCAN ({'|'.join(BIG_TABLES)})(_\d+)?$")
_PG_SCAN = re.compile(rf"Seq Scan on ({'|'.join(BIG_TABLES)})\b")


def full_scans(plan: list[str], postgres: bool) -> list[str]:
    """The plan lines that read a whole big table (an index walk is not one)."""
    if postgres:
        return [line for line in plan if _PG_SCAN.search(line)]
    return [line for line in plan if _SQLITE_SCAN.match(line)]


def test_the_scan_detector() -> None:
    assert full_scans(["SCAN tasks"], postgres=False) == ["SCAN tasks"]
    assert full_scans(["SCAN production_runs_1"], postgres=False)
    assert not full_scans(["SCAN tasks USING INDEX ix_tasks_run_status"], postgres=False)
    search = "SEARCH tasks USING INDEX ix_tasks_run_status (production_run_id=?)"
    assert not full_scans([search], postgres=False)
    assert not full_scans(["SCAN designs"], postgres=False)
    assert full_scans(["->  Seq Scan on tasks  (cost=0.00..1.00 rows=1 width=8)"], postgres=True)
    assert not full_scans(["Index Scan using pk_tasks on tasks"], postgres=True)


def _seed(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database, *, analyse: bool
) -> tuple[Split, str]:
    """The rich split, a run of 20 tasks with subtasks for the same partner, and the noise."""
    split = rich_split(admin, client, app)
    big = dispatched(admin, client, partner=split.cutter, tasks=20, subtasks=2)
    busy = None if analyse else split.cutter.id
    seed_noise(db, busy_partner=busy, analyse=analyse)
    return split, big.id


@pytest.fixture
def seeded(app: FastAPI, admin: TestClient, client: TestClient, db: Database) -> tuple[Split, str]:
    return _seed(app, admin, client, db, analyse=True)


@pytest.fixture
def unanalysed(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> tuple[Split, str]:
    return _seed(app, admin, client, db, analyse=False)


def _captured(db: Database, client: TestClient, path: str) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def _record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        response = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)
    assert response.status_code == 200, (path, response.text)
    return seen


def test_hot_reads_use_indexes(
    app: FastAPI, admin: TestClient, db: Database, seeded: tuple[Split, str]
) -> None:
    _assert_indexed(app, admin, db, *seeded)


def test_hot_reads_use_indexes_without_statistics(
    app: FastAPI, admin: TestClient, db: Database, unanalysed: tuple[Split, str]
) -> None:
    _assert_indexed(app, admin, db, *unanalysed)


def _assert_indexed(app: FastAPI, admin: TestClient, db: Database, split: Split, big: str) -> None:
    postgres = db.engine.dialect.name == "postgresql"
    ids = {
        "first": split.first,
        "second": split.second,
        "parent": split.parent["id"],
        "design": split.design["id"],
        "partner": split.cutter.id,
        "big": big,
    }
    clients = {
        "admin": admin,
        "cutter": as_partner(app, split.cutter),
        "tailor": as_partner(app, split.tailor),
    }
    problems: list[str] = []
    explained = 0
    for case in CASES:
        captured = _captured(db, clients[case.who], case.path.format(**ids))
        assert captured, case.name
        with db.engine.connect() as conn:
            for statement, parameters in captured:
                plan = _explain(conn, statement, parameters, postgres)
                explained += 1
                for line in full_scans(plan, postgres):
                    problems.append(f"{case.name}: {line}\n  {statement}\n  plan: {plan}")
    assert explained >= len(CASES)
    assert not problems, "\n\n".join(problems)
