"""Processes started together: the bootstrap admin and the schema upgrade are race-safe
(issue 8, defect 10)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select, text

from atelier.auth.service import create_admin, ensure_bootstrap_admin
from atelier.migrations import MIGRATION_LOCK_KEY, heads, migration_lock, upgrade
from atelier.platform.db import Database
from atelier.platform.errors import Conflict
from atelier.platform.models import AdminUser
from atelier.platform.settings import Settings
from tests.conftest import ADMIN_EMAIL
from tests.platform.test_migrations import PG_URL, fresh_url, schema_differences

__all__ = ["fresh_url"]  # the fixture, imported for this module's tests

CALLERS = 8


def _race(callers: int, target: Any) -> list[Any]:
    """Run ``target()`` in ``callers`` threads released together; their results or errors."""
    barrier = threading.Barrier(callers)
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            outcome = target()
        except Exception as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _admins(db: Database) -> list[str]:
    with db.session(write=False) as session:
        return list(session.scalars(select(AdminUser.email)))


class TestBootstrapAdminRace:
    def test_processes_starting_together_create_one_admin(
        self, db: Database, settings: Settings
    ) -> None:
        def start() -> str | None:
            with db.session() as session:
                created = ensure_bootstrap_admin(session, settings)
                return created.email if created else None

        results = _race(CALLERS, start)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert [r for r in results if r is not None] == [ADMIN_EMAIL]
        assert _admins(db) == [ADMIN_EMAIL]

    def test_concurrent_creates_with_one_email_answer_conflict(self, db: Database) -> None:
        def create() -> str:
            with db.session() as session:
                return create_admin(session, email="twin@atelier.test", password="long-enough").id

        results = _race(CALLERS, create)
        created = [r for r in results if isinstance(r, str)]
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(created) == 1 and len(conflicts) == CALLERS - 1, results
        assert {c.code for c in conflicts} == {"admin_exists"}
        assert _admins(db) == ["twin@atelier.test"]

    def test_existing_admin_means_nothing_is_created(
        self, db: Database, settings: Settings
    ) -> None:
        with db.session() as session:
            create_admin(session, email="first@atelier.test", password="long-enough")
        with db.session() as session:
            assert ensure_bootstrap_admin(session, settings) is None
        assert _admins(db) == ["first@atelier.test"]


def _migrate_process(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ATELIER_DATABASE_URL": url, "ATELIER_ENV": "development"}
    return subprocess.Popen(
        [sys.executable, "-m", "atelier.cli", "migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class TestConcurrentMigrations:
    def test_two_migrate_processes_on_a_fresh_database(self, fresh_url: str) -> None:
        procs = [_migrate_process(fresh_url) for _ in range(2)]
        outputs = [proc.communicate(timeout=240)[0] for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], outputs
        engine = create_engine(fresh_url)
        try:
            with engine.connect() as conn:
                versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        finally:
            engine.dispose()
        assert [v[0] for v in versions] == heads()
        assert schema_differences(fresh_url) == []

    @pytest.mark.skipif(not PG_URL, reason="PostgreSQL advisory lock")
    def test_upgrade_waits_for_the_advisory_lock(self, fresh_url: str) -> None:
        """While another process holds the lock, an upgrade touches nothing; then it runs."""
        holder = create_engine(fresh_url, isolation_level="AUTOCOMMIT")
        errors: list[BaseException] = []

        def run_upgrade() -> None:
            try:
                upgrade(fresh_url)
            except BaseException as exc:
                errors.append(exc)

        with holder.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            thread = threading.Thread(target=run_upgrade)
            thread.start()
            waiting = 0
            for _ in range(6000):  # until the upgrade's connection queues on the lock
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND NOT granted AND objid = :k AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"k": MIGRATION_LOCK_KEY},
                ).scalar_one()
                if waiting or not thread.is_alive():
                    break
                threading.Event().wait(0.01)
            assert waiting == 1, errors
            assert inspect(conn).get_table_names() == []  # nothing migrated meanwhile
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            thread.join(timeout=240)
        holder.dispose()
        assert errors == [] and not thread.is_alive()
        assert schema_differences(fresh_url) == []

    @pytest.mark.skipif(bool(PG_URL), reason="SQLite lock file")
    def test_sqlite_lock_file_is_exclusive(self, fresh_url: str) -> None:
        import fcntl

        from atelier.migrations import sqlite_lock_path

        path = sqlite_lock_path(fresh_url)
        assert path is not None
        with migration_lock(fresh_url):
            assert path.exists()
            with path.open("a") as other, pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with path.open("a") as other:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released
