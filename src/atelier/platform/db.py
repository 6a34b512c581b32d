"""Engine, sessions, declarative base and the column types every domain shares."""

from __future__ import annotations

import json
import logging
import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json
from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Numeric,
    String,
    create_engine,
    event,
    exc,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from atelier.platform import clock
from atelier.platform.admission import Admission, default_threads
from atelier.platform.ids import new_id
from atelier.platform.numbers import plain_decimal
from atelier.platform.read_session import LoopConnection

if TYPE_CHECKING:
    from atelier.platform.principals import PrincipalCache
    from atelier.platform.settings import Settings

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        """``process_result_value`` fused with the driver type's own parsing (SQLite's text →
        datetime) into one function: a page of runs reads hundreds of timestamps, and the
        generic decorator wrapper was a Python call more for each."""
        parse = self.impl_instance.result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if parse is not None:
                value = parse(value)
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
            return value.astimezone(UTC)  # type: ignore[no-any-return]

        return process


class Money(TypeDecorator[Decimal]):
    """Exact decimals: NUMERIC on PostgreSQL, text on SQLite (which has no decimal type)."""

    impl = Numeric(18, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(18, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = plain_decimal(Decimal(value))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        text = str(value)
        # A value stored as ``1E+3`` before writes were normalised (SQLite keeps the text; a
        # written-out decimal has no exponent, so only these pay for the check).
        return plain_decimal(Decimal(text)) if "E" in text else Decimal(text)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def load_json(value: str | bytes) -> Any:
    """A JSON column's value: pydantic-core's parser (Rust), ~7× the standard library's on the
    small documents runs carry (a page of 50 runs parses ~350 of them); the standard library
    for what it refuses (a lone surrogate escape), so every stored value still loads."""
    try:
        return from_json(value)
    except ValueError:
        return json.loads(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        list[str]: JSONType,
        list[dict[str, Any]]: JSONType,
        Decimal: Money(),
    }


def id_column(prefix: str) -> Mapped[str]:
    """Primary key column filled with a fresh prefixed ULID."""
    return mapped_column(String(64), primary_key=True, default=lambda: new_id(prefix))


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=clock.now, nullable=False)


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now, nullable=False)


class TimestampMixin:
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


# --- engine and sessions ----------------------------------------------------------------------

# Execution option telling the SQLite begin hook to take the write lock up front, so two writers
# serialise at BEGIN instead of failing with "database is locked" at their first write.
IMMEDIATE = "atelier_immediate"
# Connections a pool may open beyond ``pool_size``, as a multiple of it.
OVERFLOW_FACTOR = 2


# Seconds a SQLite statement waits for another connection's write lock (busy timeout).
SQLITE_LOCK_TIMEOUT = 30.0
# SQLite's own lower() folds ASCII only; this function (registered on every connection) folds
# any letter, like PostgreSQL's lower() and the FTS5 trigram index.
SQLITE_FOLD = "atelier_fold"


def _fold(value: str | None) -> str | None:
    return None if value is None else value.lower()


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    pool_timeout: float = 30.0,
    lock_timeout: float | None = None,
) -> Engine:
    """An engine for SQLite (WAL, foreign keys, BEGIN IMMEDIATE for writers) or PostgreSQL.

    ``pool_timeout``: seconds a checkout waits for a pooled connection. ``lock_timeout``:
    seconds a statement waits for a lock before it fails (answered 503); by default 30 s on
    SQLite (its busy timeout) and no limit on PostgreSQL.
    """
    if url.startswith("sqlite"):
        busy = SQLITE_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        pool_args: dict[str, Any] = {}
        if ":memory:" not in url:
            pool_args = {
                "pool_size": pool_size,
                "max_overflow": OVERFLOW_FACTOR * pool_size,
                "pool_timeout": pool_timeout,
            }
        engine = create_engine(
            url,
            echo=echo,
            json_deserializer=load_json,
            connect_args={"check_same_thread": False, "timeout": busy},
            **pool_args,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control away from pysqlite so BEGIN is ours to issue.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cur.close()
            dbapi_conn.create_function(SQLITE_FOLD, 1, _fold, deterministic=True)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(IMMEDIATE, False):
                # Through SQLAlchemy: a lock timeout here is an OperationalError (503).
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                # A deferred BEGIN takes no lock and cannot be busy: straight on the driver,
                # without SQLAlchemy's statement execution around it (a read's cheapest step).
                # Already in one: a read session's connection taken over by a ``Connection``.
                driver = conn.connection.dbapi_connection  # pysqlite: the driver's own
                if not driver.in_transaction:
                    driver.execute("BEGIN")

        return engine
    connect_args: dict[str, Any] = dict(PG_KEEPALIVES)
    if lock_timeout is not None:
        connect_args["options"] = f"-c lock_timeout={int(lock_timeout * 1000)}"
    engine = create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=OVERFLOW_FACTOR * pool_size,
        pool_timeout=pool_timeout,
        pool_recycle=PG_POOL_RECYCLE,
        # Without poll() (Windows) the socket cannot be checked: the ping at checkout instead.
        pool_pre_ping=not _CAN_POLL,
        json_deserializer=load_json,
        connect_args=connect_args,
    )

    if not _CAN_POLL:
        return engine

    @event.listens_for(engine, "checkout")
    def _pg_check(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if not pg_connection_alive(dbapi_conn):
            # The pool replaces this connection with a fresh one and checks that out.
            raise exc.DisconnectionError("the server closed the pooled connection")

    return engine


# PostgreSQL pooled connections: TCP keepalives so a peer that vanished without closing the
# connection (a dropped NAT entry, a host gone) makes the idle socket fail within about a
# minute, which the checkout check sees; and no connection older than an hour is reused.
PG_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
PG_POOL_RECYCLE = 3600
_CAN_POLL = hasattr(select, "poll")


def pg_connection_alive(dbapi_conn: Any) -> bool:
    """Whether a pooled psycopg connection is still usable, without a round trip.

    SQLAlchemy's ``pool_pre_ping`` sends a ping (an empty statement with psycopg) at every
    checkout: a round trip per request, beside a hot read's BEGIN, its statements and COMMIT
    (the design detail's seven round trips become six). An idle
    connection's socket has nothing to read unless the server closed it (restart,
    ``pg_terminate_backend``, an idle timeout: a FATAL message, then EOF), keepalives gave up
    on the peer (an error) or it sent a notice or notification. So: poll the socket with no
    wait; while there is something, let libpq read it (a closed connection's EOF makes libpq
    fail), and the connection is alive when libpq still says so. A connection broken some
    other way fails its first statement, which invalidates the pool (``Prepared.run`` and
    SQLAlchemy both check for a disconnect).
    """
    from psycopg import Error, pq

    if dbapi_conn.closed or dbapi_conn.broken:
        return False
    pgconn = dbapi_conn.pgconn
    try:
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
        # A closed connection's FATAL message and its EOF may take two reads to get through.
        for _ in range(4):
            if not poller.poll(0):
                break
            pgconn.consume_input()
        else:
            return False  # still more to read: not an idle connection anyway
    except (Error, OSError, ValueError):  # libpq or the socket failed: the connection is gone
        return False
    return bool(pgconn.status == pq.ConnStatus.OK)


# Connections the write admission leaves to sessions opened outside requests (the embedded
# dispatcher and scheduler, streamed exports).
POOL_RESERVE = 4


def _admission_for(engine: Engine, pool_size: int, queue_timeout: float, threads: int) -> Admission:
    """One writer at a time on SQLite; on PostgreSQL as many as the pool keeps open, but always
    fewer than the worker threads, so readers keep a thread while every writer waits on a lock."""
    capacity = pool_size * (1 + OVERFLOW_FACTOR)  # what make_engine lets the pool open
    sessions = max(1, capacity - POOL_RESERVE)
    if engine.dialect.name == "sqlite":
        writers = 1
    else:
        writers = max(1, min(pool_size, sessions, threads - 1))
    return Admission(writers=writers, sessions=sessions, timeout=queue_timeout)


class Database:
    """Engine plus session factory; one per process (or per test)."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        queue_timeout: float = 30.0,
        pool_timeout: float = 30.0,
        lock_timeout: float | None = None,
        threads: int | None = None,
    ) -> None:
        """``queue_timeout``: longest a request waits for admission (``platform.admission``);
        ``pool_timeout`` and ``lock_timeout``: see :func:`make_engine`; ``threads``: the worker
        threads that run sync endpoints (default :func:`default_threads`; the app sets anyio's
        thread limiter to it at startup)."""
        self.url = url
        self.threads = max(2, threads or default_threads(url, pool_size))
        self.engine = make_engine(
            url, pool_size=pool_size, pool_timeout=pool_timeout, lock_timeout=lock_timeout
        )
        self.session_factory: sessionmaker[Session] = sessionmaker(
            bind=self.engine, expire_on_commit=False, autoflush=True
        )
        # Same pool; its transactions start with BEGIN IMMEDIATE on SQLite (see _sqlite_begin).
        self._write_engine = self.engine.execution_options(**{IMMEDIATE: True})
        self.admission = _admission_for(self.engine, pool_size, queue_timeout, self.threads)
        self.pool_capacity = pool_size * (1 + OVERFLOW_FACTOR)
        from atelier.platform.principals import PrincipalCache  # it reads platform tables

        self.principals: PrincipalCache = PrincipalCache(url)
        # SQLite: the connection of the bounded reads run on the event loop (``read_session``).
        self.loop_reads: LoopConnection | None = (
            LoopConnection(self.engine, self.connection_free) if self.is_sqlite else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The process's database as ``ATELIER_DB_POOL_SIZE``, ``ATELIER_DB_QUEUE_TIMEOUT`` and
        ``ATELIER_THREADS`` say."""
        return cls(
            settings.database_url,
            pool_size=settings.db_pool_size,
            queue_timeout=settings.db_queue_timeout,
            threads=settings.worker_threads,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def connection_free(self) -> bool:
        """A pooled connection can be checked out now without waiting for another to come
        back: for work on the event loop, which must never wait there (other threads may
        take it first; then that checkout waits as any other would, briefly, as connections
        return from worker threads). ``False`` for a pool that does not count its connections."""
        checked_out = getattr(self.engine.pool, "checkedout", None)
        return checked_out is not None and checked_out() < self.pool_capacity

    def new_session(self, *, write: bool = False) -> Session:
        """A session; with ``write=True`` its transactions take the SQLite write lock at BEGIN.

        No I/O here: the transaction begins at the session's first statement, in whichever
        thread runs it.
        """
        if write and self.is_sqlite:
            return self.session_factory(bind=self._write_engine)
        return self.session_factory()

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """Unit of work for jobs and CLI: commit on success, roll back on error."""
        session = self.new_session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.principals.close()
        if self.loop_reads is not None:
            self.loop_reads.close()
        self.engine.dispose()
