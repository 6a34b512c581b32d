"""The read session of a hot GET route: one connection and its transaction, no unit of work.

An ORM ``Session`` costs a hot read more than its SQL does: creating it, its
``SessionTransaction``, joining the connection at the first statement, then commit and close
(state changes, identity-map clean-up, events) cost ~0.45 M instructions per request, where the
whole bare design read (three statements, the JSON) costs ~0.55 M. The hot reads do not need
any of it: they run prebuilt Core statements through :func:`atelier.platform.rows.read_rows`
(``session.flush()``, then ``session.connection()``) or Core ``execute``/``scalar``.

A :class:`ReadSession` gives them exactly that. A prepared read (``read_connection()``) runs
on a DB-API connection checked out of the engine's pool, its transaction begun on the driver
(on SQLite the deferred ``BEGIN``, so the reads see one snapshot, as in a session): not even a
SQLAlchemy ``Connection`` (its begin, commit and close cost ~0.1 M instructions a request).
``connection()`` gives a ``Connection`` (taking that DB-API connection over, transaction and
all) for what needs one: Core ``execute``/``scalar``/``scalars``, a prepared read's fallback.
``finish`` commits (or rolls back) and returns the connection to the pool.

Anything else — an ORM statement (``select(Model)``, ``session.get``; a SELECT of ORM columns
is plain SQL and runs on the connection), ``add``, any other
``Session`` attribute — creates a real ``Session`` on first use, bound to the same connection
and transaction (``join_transaction_mode="rollback_only"``: its ``flush`` writes into the
request's transaction, ``finish`` commits or rolls it back as the request's session would).
So an endpoint behaves the same whichever it gets; it is only slower when it needs the ORM.
It is used by the hot path only (``platform.hotpath``); every other request gets a ``Session``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Executable,
    PoolProxiedConnection,
    Result,
    Select,
)
from sqlalchemy.orm import Session, sessionmaker

_NO_OPTIONS: Mapping[str, Any] = {}


def _needs_orm(statement: Any) -> bool:
    """Whether ``Session.execute`` would run ``statement`` differently from
    ``Connection.execute``: ORM entities (``select(Model)``), loader options, ORM DML. A SELECT
    of columns only (``select(Model.id, func.count())``, ``select_from(Model)``) is plain SQL
    with the same rows either way (the app has no ORM execute events or loader criteria)."""
    attrs: Mapping[str, Any] = getattr(statement, "_propagate_attrs", None) or _NO_OPTIONS
    if attrs.get("compile_state_plugin") != "orm":
        return False
    if not isinstance(statement, Select) or statement._with_options:
        return True
    return not all(isinstance(column, ColumnElement) for column in statement._raw_columns)


class ReadSession:
    """See the module doc. Typed as ``Session`` where it is handed to endpoints."""

    __slots__ = ("_connection", "_engine", "_factory", "_loop", "_orm", "_raw", "info")

    def __init__(
        self, engine: Engine, factory: sessionmaker[Session], loop: LoopConnection | None = None
    ) -> None:
        """``loop``: the database's loop connection, acquired by the caller for this session
        (it reads on it instead of a pooled connection, and gives it back in :meth:`finish`)."""
        self._engine = engine
        self._factory = factory
        self._loop = loop
        self._raw: _Raw | None = None
        self._connection: Connection | None = None
        self._orm: Session | None = None
        self.info: dict[Any, Any] = {}

    @property
    def on_loop(self) -> bool:
        """Whether this session reads on the loop connection (see :class:`LoopConnection`)."""
        return self._loop is not None

    # --- what the hot reads use ------------------------------------------------------------

    def read_connection(self) -> Connection | _Raw:
        """Where a prepared read runs (``Prepared.run``): the pooled DB-API connection itself
        while nothing needed more (no ``Connection`` object, its transaction begun on the
        driver), else the request's ``Connection``."""
        if self._connection is not None or self._orm is not None:
            return self.connection()
        raw = self._raw
        if raw is None:
            raw = self._raw = _Raw(self, self._engine, self._loop)
        return raw

    def connection(self, *args: Any, **kwargs: Any) -> Connection:
        """The request's connection, in its transaction (begun at the first call; a
        connection the prepared reads began on the driver is taken over, transaction and all)."""
        if self._orm is not None:
            return self._orm.connection(*args, **kwargs)
        connection = self._connection
        if connection is None:
            raw, self._raw = self._raw, None
            if raw is None and self._loop is not None:
                raw = _Raw(self, self._engine, self._loop)
            if raw is None:
                connection = self._engine.connect()
            else:  # the Connection owns the (pooled or loop) connection from here on
                raw.transactional()
                connection = Connection(self._engine, connection=raw.connection)
            try:
                connection.begin()  # on SQLite a no-op on the driver once it is in one
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return connection

    def flush(self, objects: Any = None) -> None:
        """Pending ORM changes go out (there are none unless the ORM session exists)."""
        if self._orm is not None:
            self._orm.flush(objects)

    def get_bind(self, *args: Any, **kwargs: Any) -> Engine | Connection:
        if self._orm is not None:
            return self._orm.get_bind(*args, **kwargs)
        return self._engine

    def execute(
        self,
        statement: Executable,
        params: Any = None,
        *,
        execution_options: Mapping[str, Any] = _NO_OPTIONS,
        **kwargs: Any,
    ) -> Result[Any]:
        """A Core statement on the connection; an ORM one (or extra arguments) through the
        ORM session, as ``Session.execute`` runs them."""
        if self._orm is not None or kwargs or _needs_orm(statement):
            return self.orm().execute(
                statement, params, execution_options=execution_options, **kwargs
            )
        return self.connection().execute(statement, params, execution_options=execution_options)

    def scalar(self, statement: Executable, params: Any = None, **kwargs: Any) -> Any:
        return self.execute(statement, params, **kwargs).scalar()

    def scalars(self, statement: Executable, params: Any = None, **kwargs: Any) -> Any:
        return self.execute(statement, params, **kwargs).scalars()

    def in_transaction(self) -> bool:
        return (
            self._raw is not None
            or self._connection is not None
            or (self._orm is not None and self._orm.in_transaction())
        )

    # --- everything else: a real Session on the same transaction ------------------------------

    def orm(self) -> Session:
        """The ORM session of this request, created on first use on the same connection."""
        if self._orm is None:
            session = self._factory(bind=self.connection(), join_transaction_mode="rollback_only")
            session.info.update(self.info)
            self.info = session.info
            self._orm = session
        return self._orm

    def __getattr__(self, name: str) -> Any:
        return getattr(self.orm(), name)

    def close(self) -> None:
        """Roll back whatever is open and give the connection back (as ``Session.close``)."""
        self.finish(False)

    @property
    def needs_thread(self) -> bool:
        """Finishing may write (the ORM session has state to flush): not on the event loop."""
        return self._orm is not None

    @property
    def autocommit_reads_only(self) -> bool:
        """Only autocommit reads ran (PostgreSQL): finishing sends nothing to the server (no
        transaction to end; the pool's reset of an idle connection is client-side), so it may
        run on the event loop."""
        raw = self._raw
        return raw is not None and raw.autocommit and self._connection is None and self._orm is None

    def finish(self, commit: bool) -> None:
        """Commit (flushing the ORM session first) or roll back, and give the connection back
        to the pool (or the loop connection back to its database). Always leaves the session
        closed."""
        raw, connection, orm, loop = self._raw, self._connection, self._orm, self._loop
        self._raw = self._connection = self._orm = self._loop = None
        if raw is not None:
            raw.finish(commit)  # gives the loop connection back too
            return
        try:
            if orm is not None:
                try:
                    if commit:
                        orm.flush()
                except BaseException:
                    commit = False
                    raise
                finally:
                    orm.close()
            if connection is not None:
                if commit:
                    connection.commit()
                else:
                    connection.rollback()
        finally:
            try:
                if connection is not None:
                    connection.close()  # back to the pool (which rolls back anything left)
            finally:
                if loop is not None:
                    # A ``Connection`` over the loop connection closed it (it is detached from
                    # the pool): the database opens another at the next loop read.
                    loop.release(keep=connection is None)


class _Raw:
    """What ``Prepared.run`` uses of a ``Connection`` (dialect, the pooled DB-API connection,
    the engine's ``before_cursor_execute`` listeners, invalidation and the fallback
    ``execute``), over a connection checked out of the pool (or the loop connection) with its
    transaction begun on the driver: on SQLite a deferred ``BEGIN`` (as the engine's ``begin``
    listener issues it), so the request's reads see one snapshot. On PostgreSQL the reads run
    in autocommit: at READ COMMITTED each statement sees its own snapshot inside a transaction
    too, so the answers are the same without the ``BEGIN`` and ``COMMIT`` round trips; a
    ``Connection`` that takes the connection over (the ORM, which may write) gets transactions
    back, and so does the pool. Ended with the driver's commit or rollback; an invalidated
    connection (a disconnect) is only given back."""

    __slots__ = ("_autocommit", "_loop", "_owner", "connection", "dialect", "dispatch")

    def __init__(self, owner: ReadSession, engine: Engine, loop: LoopConnection | None) -> None:
        self._owner = owner
        self.dialect = engine.dialect
        self.dispatch = engine.dispatch
        self._loop = loop
        self._autocommit = False
        self.connection = engine.raw_connection() if loop is None else loop.connection()
        try:
            if self.dialect.name == "sqlite":
                # pysqlite: the DB-API connection is the driver's (a detached one has no
                # ``driver_connection``).
                self.connection.dbapi_connection.execute("BEGIN")  # type: ignore[union-attr]
            elif (
                self.dialect.name == "postgresql"
                and getattr(self.dialect, "default_isolation_level", None) == "READ COMMITTED"
            ):
                # READ COMMITTED gives every statement its own snapshot, in a transaction or
                # not: autocommit reads answer the same without the BEGIN and COMMIT round
                # trips. A client-side switch (the pool hands out idle connections).
                self.connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
                self._autocommit = True
        except BaseException:
            self._give_back()
            raise

    @property
    def autocommit(self) -> bool:
        return self._autocommit

    def transactional(self) -> None:
        """Back to transactions (a ``Connection`` takes this connection over: the ORM may write
        and must be able to roll back)."""
        if self._autocommit:
            self._autocommit = False
            self.connection.dbapi_connection.autocommit = False  # type: ignore[union-attr]

    def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        """A statement a prepared read leaves to SQLAlchemy: on the request's ``Connection``,
        which takes this connection over."""
        return self._owner.connection().execute(statement, params)

    def invalidate(self, error: BaseException | None = None) -> None:
        self.connection.invalidate(error)

    def finish(self, commit: bool) -> None:
        connection = self.connection
        try:
            if not connection.is_valid:
                return  # invalidated by a disconnect: nothing to end (the pool replaces it)
            if commit:
                connection.commit()
            else:
                connection.rollback()
        finally:
            self._give_back()

    def _give_back(self) -> None:
        loop = self._loop
        if loop is None:
            try:
                if self._autocommit and self.connection.is_valid:
                    self.transactional()  # the pool's other users expect transactions
            except Exception as error:  # not fit to be handed out again
                self.connection.invalidate(error)
            finally:
                self.connection.close()  # back to the pool (which rolls back anything left)
            return
        connection = self.connection
        driver = connection.dbapi_connection
        keep = driver is not None and not driver.in_transaction
        loop.release(keep=keep)


class LoopConnection:
    """One SQLite connection for the bounded reads that run on the event loop
    (``platform.hotpath.bounded_read``): no pool checkout and check-in per request.

    Taken from the engine's pool once (so it has the pool's PRAGMAs and functions) and detached
    from it. One request holds it at a time (:meth:`acquire` never waits: when it is held, by a
    read that went to a worker thread, the request reads on a pooled connection as before). A
    connection that was invalidated, left in a transaction or handed to a ``Connection`` is
    closed when given back, and the next :meth:`acquire` takes a fresh one from the pool."""

    def __init__(self, engine: Engine, connection_free: Callable[[], bool]) -> None:
        self._engine = engine
        self._connection_free = connection_free
        self._fairy: PoolProxiedConnection | None = None
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """Hold the loop connection (``True``), or ``False`` when another request holds it or
        a new one could not be taken from the pool without waiting."""
        if not self._lock.acquire(blocking=False):
            return False
        if self._fairy is None:
            if not self._connection_free():
                self._lock.release()
                return False
            try:
                fairy = self._engine.raw_connection()
                fairy.detach()
            except BaseException:
                self._lock.release()
                raise
            self._fairy = fairy
        return True

    def connection(self) -> PoolProxiedConnection:
        """The held connection (after :meth:`acquire`)."""
        fairy = self._fairy
        if fairy is None:  # pragma: no cover - acquire() opened it
            raise RuntimeError("the loop connection is not held")
        return fairy

    def release(self, *, keep: bool) -> None:
        """Give it back; ``keep=False`` closes it first (it is not fit for the next read)."""
        try:
            if not keep and self._fairy is not None:
                fairy, self._fairy = self._fairy, None
                if fairy.dbapi_connection is not None:  # not closed by a ``Connection`` yet
                    fairy.close()  # detached: really closed
        finally:
            self._lock.release()

    def close(self) -> None:
        """Close it (``Database.dispose``); a request holding it finishes on it first."""
        if not self._lock.acquire(timeout=5):
            return  # still held by a request that does not end: left to the garbage collector
        try:
            if self._fairy is not None:
                fairy, self._fairy = self._fairy, None
                fairy.close()
        finally:
            self._lock.release()
