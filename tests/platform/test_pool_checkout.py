"""PostgreSQL pooled connections are checked at checkout without a round trip, and a connection
the server closed is replaced before a request uses it (no 503 after a restart or a kill)."""

from __future__ import annotations

import select
from typing import Any

import pytest
from sqlalchemy import event, text

from atelier.platform.db import Database, pg_connection_alive

pytestmark = pytest.mark.postgres_only


def _backend_pid(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(db: Database, pid: int) -> None:
    # From a connection outside the pool, as a restart or an administrator would.
    with db.engine.pool._creator() as other:  # type: ignore[attr-defined]
        other.autocommit = True
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


def test_a_terminated_connection_is_replaced_at_checkout(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    try:
        pid = _backend_pid(db)
        _terminate(db, pid)
        # The pool holds the one connection the server just closed.
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        db.dispose()


def test_a_live_connection_is_checked_out_without_a_statement(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    seen: list[str] = []

    def _record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    try:
        pid = _backend_pid(db)
        event.listen(db.engine, "before_cursor_execute", _record)
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            # Nothing sent yet: no ping, no BEGIN (psycopg starts the transaction lazily).
            assert raw is not None and raw.pgconn.transaction_status == 0  # IDLE
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
        assert seen == ["SELECT pg_backend_pid()"]
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)
        db.dispose()


def test_the_liveness_check(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    try:
        raw = db.engine.raw_connection()
        try:
            driver = raw.dbapi_connection
            assert pg_connection_alive(driver)
            # A notice waiting on the socket is read, and the connection is still alive.
            driver.autocommit = True
            driver.execute("LISTEN atelier_checkout_test")
            with db.engine.pool._creator() as other:  # type: ignore[attr-defined]
                other.autocommit = True
                other.execute("NOTIFY atelier_checkout_test")
            assert select.select([driver.pgconn.socket], [], [], 5)[0]
            assert pg_connection_alive(driver)
            _terminate(db, driver.info.backend_pid)
            assert select.select([driver.pgconn.socket], [], [], 5)[0]
            assert not pg_connection_alive(driver)
        finally:
            raw.invalidate()
    finally:
        db.dispose()
