"""The read session of a hot GET route: one connection and its transaction, no unit of work.

An ORM ``Session`` costs a hot read more than its SQL does: creating it, its
``SessionTransaction``, joining the connection at the first statement, then commit and close
(state changes, identity-map clean-up, events) cost ~0.45 M instructions per request, where the
whole bare design read (three statements, the JSON) costs ~0.55 M. The hot reads do not need
any of it: they run prebuilt Core statements through :func:`atelier.platform.rows.read_rows`
(``session.flush()``, then ``session.connection()``) or Core ``execute``/``scalar``.

A :class:`ReadSession` gives them exactly that: ``connection()`` checks a connection out of the
engine's pool and begins its transaction at the first read (on SQLite the driver's deferred
``BEGIN``, so the reads see one snapshot, as in a session); Core ``execute``/``scalar``/
``scalars`` run on it; ``finish`` commits (or rolls back) and returns it to the pool.

Anything else — an ORM statement (``select(Model)``, ``session.get``; a SELECT of ORM columns
is plain SQL and runs on the connection), ``add``, any other
``Session`` attribute — creates a real ``Session`` on first use, bound to the same connection
and transaction (``join_transaction_mode="rollback_only"``: its ``flush`` writes into the
request's transaction, ``finish`` commits or rolls it back as the request's session would).
So an endpoint behaves the same whichever it gets; it is only slower when it needs the ORM.
It is used by the hot path only (``platform.hotpath``); every other request gets a ``Session``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Executable, Result, Select
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

    __slots__ = ("_connection", "_engine", "_factory", "_orm", "info")

    def __init__(self, engine: Engine, factory: sessionmaker[Session]) -> None:
        self._engine = engine
        self._factory = factory
        self._connection: Connection | None = None
        self._orm: Session | None = None
        self.info: dict[Any, Any] = {}

    # --- what the hot reads use ------------------------------------------------------------

    def connection(self, *args: Any, **kwargs: Any) -> Connection:
        """The request's connection, in its transaction (begun at the first call)."""
        if self._orm is not None:
            return self._orm.connection(*args, **kwargs)
        connection = self._connection
        if connection is None:
            connection = self._engine.connect()
            try:
                connection.begin()
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
        return self._connection is not None or (
            self._orm is not None and self._orm.in_transaction()
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

    @property
    def needs_thread(self) -> bool:
        """Finishing may write (the ORM session has state to flush): not on the event loop."""
        return self._orm is not None

    def finish(self, commit: bool) -> None:
        """Commit (flushing the ORM session first) or roll back, and give the connection back
        to the pool. Always leaves the session closed."""
        connection, orm = self._connection, self._orm
        self._connection = self._orm = None
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
            if connection is not None:
                connection.close()  # back to the pool (which rolls back anything left)
