"""The hot routes' read session (``platform.read_session``): plain SQL on one pooled connection
with the rows a ``Session`` gives, a real ``Session`` on the same transaction for anything ORM,
the transaction ended and the connection returned whatever happens; and the hot reads served
without creating an ORM session at all."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import column, event, exc, func, select, text
from sqlalchemy.orm import Session

from atelier.catalog import repository as catalog_repository
from atelier.catalog.models import Design
from atelier.platform.db import Database
from atelier.platform.prepared import Prepared
from atelier.platform.read_session import ReadSession
from atelier.platform.rows import read_rows
from tests.production.read_support import Split, as_partner


@pytest.fixture
def orm_sessions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Where each ORM session a read session had to create was asked for (the caller's frames)."""
    made: list[str] = []
    original = ReadSession.orm

    def counting(self: ReadSession) -> Session:
        if self._orm is None:
            made.append("".join(traceback.format_stack(limit=6)[:-1]))
        return original(self)

    monkeypatch.setattr(ReadSession, "orm", counting)
    return made


@pytest.fixture
def reader(db: Database) -> Iterator[ReadSession]:
    session = ReadSession(db.engine, db.session_factory)
    try:
        yield session
    finally:
        session.finish(False)


def _statements() -> list[Any]:
    return [
        select(Design.id, Design.name, Design.created_at).order_by(Design.id),
        select(func.count()).select_from(Design),
        select(Design.id).where(Design.name == "nothing of that name"),
        text("SELECT id FROM designs ORDER BY id"),
    ]


def test_plain_sql_gives_the_sessions_rows_without_an_orm_session(
    db: Database, split: Split, reader: ReadSession, orm_sessions: list[str]
) -> None:
    with db.session(write=False) as session:
        expected = [session.execute(statement).all() for statement in _statements()]
    assert expected[0] and expected[1] != [(0,)]
    got = [reader.execute(statement).all() for statement in _statements()]
    assert [[tuple(row) for row in rows] for rows in got] == [
        [tuple(row) for row in rows] for rows in expected
    ]
    assert reader.scalar(select(func.count()).select_from(Design)) == expected[1][0][0]
    assert reader.scalars(select(Design.id).order_by(Design.id)).all() == [
        row[0] for row in expected[3]
    ]
    assert reader.get_bind() is db.engine
    assert orm_sessions == []
    assert reader.in_transaction()


def test_orm_use_gets_a_session_on_the_same_transaction(
    db: Database, split: Split, reader: ReadSession, orm_sessions: list[str]
) -> None:
    connection = reader.connection()
    designs = reader.execute(select(Design).order_by(Design.id)).scalars().all()
    assert designs and all(isinstance(design, Design) for design in designs)
    assert reader.get(Design, designs[0].id) is designs[0]  # one identity map
    assert len(orm_sessions) == 1
    assert reader.connection() is connection
    # Plain SQL after that goes through the same session, and sees its flushed changes.
    designs[0].name = "Renamed in the read session"
    reader.flush()
    name = reader.scalar(select(Design.name).where(Design.id == designs[0].id))
    assert name == "Renamed in the read session"


@pytest.mark.parametrize("commit", [True, False])
def test_finish_commits_or_rolls_back_and_returns_the_connection(
    db: Database, split: Split, commit: bool
) -> None:
    reader = ReadSession(db.engine, db.session_factory)
    design = reader.get(Design, split.design["id"])
    assert design is not None
    design.name = "Changed"  # pending, not flushed: finishing flushes it (as commit does)
    reader.finish(commit)
    assert not reader.in_transaction()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        name = session.scalar(select(Design.name).where(Design.id == split.design["id"]))
    assert (name == "Changed") is commit


def test_a_failed_statement_still_ends_the_transaction(db: Database, split: Split) -> None:
    reader = ReadSession(db.engine, db.session_factory)
    assert reader.scalar(select(func.count()).select_from(Design))
    with pytest.raises(exc.DBAPIError):
        reader.execute(text("SELECT no_such_column FROM designs"))
    reader.finish(False)
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    reader.finish(False)  # a second finish has nothing to do
    untouched = ReadSession(db.engine, db.session_factory)
    untouched.finish(True)  # never read: no connection was taken
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_reads_see_one_snapshot_on_sqlite(db: Database, split: Split) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL reads at READ COMMITTED, as the session does")
    reader = ReadSession(db.engine, db.session_factory)
    count = select(func.count()).select_from(Design)
    before = reader.scalar(count)
    with db.session() as other:
        other.add(Design(name="Made meanwhile"))
    assert reader.scalar(count) == before
    reader.finish(True)
    with db.session(write=False) as session:
        assert session.scalar(count) == before + 1


def test_hot_reads_run_without_an_orm_session(
    app: FastAPI, admin: TestClient, split: Split, orm_sessions: list[str]
) -> None:
    """Once the principal is cached, the five hot reads use plain SQL only; the pool and the
    admission are free afterwards."""
    partner = as_partner(app, split.cutter)
    urls = [
        (admin, f"/admin/designs/{split.design['id']}"),
        (admin, "/admin/production-runs?status=sent_to_partner,in_progress&limit=5"),
        (admin, "/admin/production-runs?q=kurta"),
        (admin, f"/admin/production-runs/{split.first}"),
        (partner, "/partners/production-runs"),
        (partner, f"/partners/production-runs/{split.first}"),
    ]
    for client, url in urls:  # warm: the principal cache loads through the ORM once
        client.get(url).raise_for_status()
    orm_sessions.clear()
    for client, url in urls:
        client.get(url).raise_for_status()
    assert not orm_sessions, "\n".join(orm_sessions)
    db: Database = app.state.db
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert db.admission.sessions.in_use == 0


@pytest.fixture
def connections_made(db: Database) -> Iterator[list[str]]:
    """One entry per SQLAlchemy ``Connection`` created on the engine."""
    made: list[str] = []

    def record(_connection: Any) -> None:
        made.append("connection")

    event.listen(db.engine, "engine_connect", record)
    try:
        yield made
    finally:
        event.remove(db.engine, "engine_connect", record)


def test_prepared_reads_need_no_connection_object(
    db: Database, split: Split, connections_made: list[str]
) -> None:
    reader = ReadSession(db.engine, db.session_factory)
    design = catalog_repository.design_row(reader, split.design["id"])  # type: ignore[arg-type]
    assert design is not None and design["id"] == split.design["id"]
    assert catalog_repository.bom_lines(reader, split.design["id"]) is not None  # type: ignore[arg-type]
    assert reader.in_transaction()
    reader.finish(True)
    assert connections_made == []
    assert not reader.in_transaction()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_connection_takes_the_prepared_reads_transaction_over(
    db: Database, split: Split, connections_made: list[str]
) -> None:
    """Plain SQL after a prepared read runs in the same transaction (on SQLite: the same
    snapshot, a commit made meanwhile elsewhere unseen) on the same pooled connection."""
    reader = ReadSession(db.engine, db.session_factory)
    count = select(func.count()).select_from(Design)
    catalog_repository.design_row(reader, split.design["id"])  # type: ignore[arg-type]
    before = reader.scalar(count)
    assert len(connections_made) == 1
    with db.session() as other:  # another connection (a second Connection object)
        other.add(Design(name="Made meanwhile"))
    assert reader.scalar(count) == before or not db.is_sqlite
    assert catalog_repository.design_row(reader, split.design["id"]) is not None  # type: ignore[arg-type]
    assert len(connections_made) == 2
    reader.finish(True)
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_failed_prepared_read_still_ends_the_transaction(db: Database, split: Split) -> None:
    reader = ReadSession(db.engine, db.session_factory)
    broken = Prepared(select(column("no_such_column")).select_from(Design))
    with pytest.raises(exc.DBAPIError):
        read_rows(reader, broken)  # type: ignore[arg-type]
    # A column without a name (text) is left to SQLAlchemy, on the same transaction.
    with pytest.raises(exc.DBAPIError):
        read_rows(reader, Prepared(select(text("no_such_column")).select_from(Design)))  # type: ignore[arg-type]
    reader.finish(False)
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with db.session(write=False) as session:  # the database still answers
        assert catalog_repository.design_row(session, split.design["id"]) is not None


def test_an_invalidated_connection_is_only_given_back(db: Database, split: Split) -> None:
    """After a disconnect (the prepared read invalidates the connection), ending the request
    raises nothing more and the pool replaces the connection."""
    reader = ReadSession(db.engine, db.session_factory)
    assert catalog_repository.design_row(reader, split.design["id"]) is not None  # type: ignore[arg-type]
    reader.read_connection().invalidate(RuntimeError("the server went away"))
    reader.finish(False)
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with db.session(write=False) as session:  # a fresh connection answers
        assert catalog_repository.design_row(session, split.design["id"]) is not None


# --- the loop connection ------------------------------------------------------------------------


@pytest.fixture
def loop(db: Database) -> Any:
    if db.loop_reads is None:
        pytest.skip("the loop connection is SQLite's")
    return db.loop_reads


def _design_count(session: ReadSession) -> int:
    return int(read_rows(session, Prepared(select(func.count()).select_from(Design))).scalar())


def test_the_loop_connection_is_held_by_one_session_at_a_time(
    db: Database, loop: Any, split: Split
) -> None:
    assert loop.acquire()
    assert not loop.acquire()  # held: the second request reads on a pooled connection
    first = ReadSession(db.engine, db.session_factory, loop)
    assert first.on_loop
    held = first.read_connection().connection
    checked_out = db.engine.pool.checkedout()
    assert _design_count(first) >= 1
    assert db.engine.pool.checkedout() == checked_out  # no pool checkout for the loop reads
    first.finish(True)
    assert loop.acquire()  # given back, open, out of its transaction
    second = ReadSession(db.engine, db.session_factory, loop)
    assert second.read_connection().connection is held
    assert _design_count(second) >= 1
    second.close()
    assert loop.acquire()
    loop.release(keep=True)


def test_a_loop_session_that_needs_the_orm_gives_up_the_loop_connection(
    db: Database, loop: Any, split: Split
) -> None:
    """A ``Connection`` (Core or ORM) takes the loop connection over and closes it at the end
    (it is detached from the pool); the next loop read opens a fresh one."""
    assert loop.acquire()
    session = ReadSession(db.engine, db.session_factory, loop)
    before = _design_count(session)
    held = session.read_connection().connection
    design = session.get(Design, split.design["id"])  # the ORM, in the same transaction
    assert design is not None and design.id == split.design["id"]
    assert session.scalar(select(func.count()).select_from(Design)) == before
    session.finish(True)
    assert held.dbapi_connection is None  # closed
    assert loop.acquire()
    fresh = ReadSession(db.engine, db.session_factory, loop)
    assert fresh.read_connection().connection is not held
    assert _design_count(fresh) == before
    fresh.finish(True)


def test_a_loop_connection_left_in_a_transaction_is_not_reused(
    db: Database, loop: Any, split: Split
) -> None:
    assert loop.acquire()
    session = ReadSession(db.engine, db.session_factory, loop)
    held = session.read_connection().connection
    raw = session._raw
    assert raw is not None
    raw._give_back()  # as if ending the transaction had failed: still in it
    assert held.dbapi_connection is None  # closed rather than reused mid-transaction
    assert loop.acquire()
    assert loop.connection() is not held
    loop.release(keep=True)


def test_the_loop_connection_rolls_back_on_error(db: Database, loop: Any, split: Split) -> None:
    assert loop.acquire()
    session = ReadSession(db.engine, db.session_factory, loop)
    with pytest.raises(exc.OperationalError):
        read_rows(session, Prepared(select(column("nope")).select_from(text("designs"))))
    session.finish(False)
    assert loop.acquire()
    reused = ReadSession(db.engine, db.session_factory, loop)
    assert _design_count(reused) >= 1
    reused.finish(True)


def test_dispose_closes_the_loop_connection(database_url: str) -> None:
    database = Database(database_url)
    if database.loop_reads is None:
        database.dispose()
        pytest.skip("the loop connection is SQLite's")
    assert database.loop_reads.acquire()
    fairy = database.loop_reads.connection()
    database.loop_reads.release(keep=True)
    database.dispose()
    assert fairy.dbapi_connection is None


# --- PostgreSQL: autocommit reads ---------------------------------------------------------------


@pytest.mark.postgres_only
def test_postgresql_reads_run_in_autocommit_and_the_pool_gets_transactions_back(
    db: Database, reader: ReadSession, split: Split
) -> None:
    """At READ COMMITTED a transaction gives a read nothing (each statement has its own
    snapshot either way): the prepared reads run without BEGIN and COMMIT."""
    from psycopg.pq import TransactionStatus

    assert _design_count(reader) >= 1
    raw = reader.read_connection()
    driver = raw.connection.dbapi_connection
    assert driver.autocommit is True
    assert driver.pgconn.transaction_status == TransactionStatus.IDLE  # no BEGIN was sent
    reader.finish(True)
    assert driver.autocommit is False  # given back as the pool hands connections out
    with db.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        assert connection.connection.dbapi_connection.pgconn.transaction_status == (
            TransactionStatus.INTRANS
        )


@pytest.mark.postgres_only
def test_postgresql_orm_take_over_gets_a_transaction_that_rolls_back(
    db: Database, split: Split
) -> None:
    session = ReadSession(db.engine, db.session_factory)
    assert _design_count(session) >= 1  # an autocommit read first
    design = session.get(Design, split.design["id"])  # the ORM takes the connection over
    assert design is not None
    name = design.name
    design.name = "renamed inside the read session"
    session.flush()
    session.finish(False)
    with db.session(write=False) as check:
        assert check.get(Design, split.design["id"]).name == name
