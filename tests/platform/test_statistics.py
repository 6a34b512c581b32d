"""SQLite planner statistics follow the tables' growth: analysed when missing or outgrown."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from atelier.platform import clock
from atelier.platform.db import Database
from atelier.platform.ids import new_id
from atelier.platform.models import OutboxEvent
from atelier.platform.scheduler import registry
from atelier.platform.settings import Settings
from atelier.platform.statistics import (
    MIN_ROWS,
    REFRESH_JOB,
    refresh,
    refresh_at_startup,
    table_sizes,
)

Grow = Callable[[int], None]


@pytest.fixture
def grow(db: Database) -> Grow:
    def add_events(count: int) -> None:
        now = clock.now()
        rows = [
            {"id": new_id("evt"), "name": "bench.grown", "payload": {}, "available_at": now}
            for _ in range(count)
        ]
        with db.session() as session:
            session.execute(insert(OutboxEvent), rows)

    return add_events


def analysed(db: Database, table: str) -> int | None:
    with db.session(write=False) as session:
        sizes = {size.table: size for size in table_sizes(session.connection())}
    return sizes[table].analysed_rows


class TestOnSqlite:
    @pytest.fixture(autouse=True)
    def _sqlite(self, db: Database) -> None:
        if not db.is_sqlite:
            pytest.skip("SQLite statistics; PostgreSQL's autovacuum analyses its tables")

    def test_small_tables_are_left_alone(self, db: Database, grow: Grow) -> None:
        grow(MIN_ROWS - 10)
        assert refresh_at_startup(db) == []
        assert analysed(db, "outbox_events") is None

    def test_full_text_shadow_tables_are_not_sized(self, db: Database) -> None:
        """An FTS5 index's ``_data`` table numbers its rows by segment (~1.6e12 for a few rows):
        sized by ``max(rowid)`` it always looked outgrown and was analysed at every pass."""
        from sqlalchemy import text

        from atelier.production.search_index import FTS_TABLE

        with db.session() as session:
            names = set(session.scalars(text("SELECT name FROM sqlite_master")))
            tables = {size.table for size in table_sizes(session.connection())}
        assert f"{FTS_TABLE}_data" in names  # the index exists on this schema
        assert not {name for name in tables if name.startswith(FTS_TABLE)}
        assert "production_runs" in tables

    def test_a_grown_table_without_statistics_is_analysed_once(
        self, db: Database, grow: Grow
    ) -> None:
        grow(MIN_ROWS + 200)
        assert refresh_at_startup(db) == ["outbox_events"]
        recorded = analysed(db, "outbox_events")
        assert recorded is not None and recorded >= MIN_ROWS
        # Fresh now: the next pass does nothing.
        assert refresh_at_startup(db) == []

    def test_the_hourly_job_analyses_again_once_the_table_doubled(
        self, db: Database, grow: Grow
    ) -> None:
        grow(MIN_ROWS)
        refresh_at_startup(db)
        before = analysed(db, "outbox_events")
        assert before is not None
        grow(before // 2)  # grown by half: still fresh enough
        with db.session() as session:
            refresh(session, clock.now())
        assert analysed(db, "outbox_events") == before
        grow(before)  # now more than twice the analysed size
        with db.session() as session:
            refresh(session, clock.now())
        after = analysed(db, "outbox_events")
        assert after is not None and after >= 2 * before


def test_postgresql_tables_are_analysed_when_never_analysed_or_outgrown(
    db: Database, grow: Grow
) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only")
    grow(MIN_ROWS + 200)
    # The statistics counters are published when the writing backend flushes them (< 1 s).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.session(write=False) as session:
            sizes = {size.table: size for size in table_sizes(session.connection())}
        if sizes["outbox_events"].rows >= MIN_ROWS:
            break
        time.sleep(0.2)
    assert sizes["outbox_events"].stale
    assert "outbox_events" in refresh_at_startup(db)
    with db.session(write=False) as session:
        last = (
            session.connection()
            .exec_driver_sql(
                "SELECT last_analyze FROM pg_stat_user_tables "
                "WHERE relname = 'outbox_events' AND schemaname = current_schema()"
            )
            .scalar()
        )
    assert last is not None


def test_the_refresh_is_a_scheduled_job_of_the_app(app: FastAPI) -> None:
    assert REFRESH_JOB in {job.name for job in registry.all()}


def test_a_starting_worker_refreshes_the_statistics(
    db: Database, settings: Settings, grow: Grow
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite statistics")
    from atelier.platform.worker import EmbeddedWorker

    grow(MIN_ROWS + 50)
    worker = EmbeddedWorker(db, settings, run_loops=False, scheduler_interval=3600)
    worker.start()
    worker.stop()
    assert analysed(db, "outbox_events") is not None
