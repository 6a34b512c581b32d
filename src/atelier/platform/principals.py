"""The principal cache: who a bearer token belongs to, without a lookup per request.

A request's principal is its token's claims (verified by signature, no I/O) plus the account
they name: an admin user, or a partner user and its partner (active? pending? token version?
display name?). The account is cached per process, keyed by ``(role, subject)`` and labelled
with the **principal epoch** read before it was loaded: one row (``principal_epoch``) that
database triggers bump, in the same transaction, whenever one of those accounts is deleted or
has a column that authorisation reads updated (``PRINCIPAL_COLUMNS``). A request reads the
epoch (one primary-key read) and uses the cached account only if the epoch has not moved, so
a deactivation, a password change or a partner status change is refused at once, by every
process and every machine, however the row was written (the API, ``atelier admin``, SQL).

A zero-query check cannot be correct across processes and machines without a message bus
(PostgreSQL ``LISTEN`` delivers late; a shared file does not cross machines), so the one
read stays. On SQLite it runs on the event loop through a read-only connection of its own
(a WAL reader never waits for a writer): the principal costs no thread hop. On PostgreSQL it
runs with the request's session in one worker-thread call, where a cache miss also loads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from atelier.platform.models import PrincipalEpoch
from atelier.platform.prepared import Prepared
from atelier.platform.rows import read_rows

# Accounts kept per process before the cache starts afresh.
CACHE_LIMIT = 10_000
_EPOCH_ID = 1


@dataclass(frozen=True, slots=True)
class _Entry:
    epoch: int
    account: Any


# Prebuilt and run on the DB-API cursor (``platform.prepared``): on PostgreSQL this read is
# every request's first statement, and SQLAlchemy's execute path cost more than the read.
_EPOCH = Prepared(select(PrincipalEpoch.epoch).where(PrincipalEpoch.id == _EPOCH_ID))


def read_epoch(session: Session) -> int:
    """The principal epoch as ``session`` sees it (0 before the first bump)."""
    value = read_rows(session, _EPOCH).scalar()
    return int(value or 0)


class _SqliteProbe:
    """A read-only autocommit connection for reading the epoch on the event loop."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def epoch(self) -> int | None:
        """The epoch, or ``None`` when the read failed (the caller falls back to a thread)."""
        with self._lock:
            try:
                if self._conn is None:
                    conn = sqlite3.connect(
                        self._path, timeout=0.05, isolation_level=None, check_same_thread=False
                    )
                    conn.execute("PRAGMA query_only = 1")
                    self._conn = conn
                # fetchall steps the statement to its end: no read transaction stays open.
                rows = self._conn.execute(
                    "SELECT epoch FROM principal_epoch WHERE id = 1"
                ).fetchall()
            except sqlite3.Error:
                self.close()
                return None
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _probe_for(url: str) -> _SqliteProbe | None:
    if not url.startswith("sqlite"):
        return None
    parsed = make_url(url)
    path = parsed.database
    if not path or path == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    return _SqliteProbe(path)


class PrincipalCache:
    """Accounts by ``(role, subject)``, each valid while the principal epoch stays where it was
    when the account was loaded. One per :class:`~atelier.platform.db.Database`."""

    def __init__(self, url: str) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._probe = _probe_for(url)

    def _store(self, key: tuple[str, str], epoch: int, account: Any) -> None:
        if len(self._entries) >= CACHE_LIMIT:
            self._entries.clear()
        self._entries[key] = _Entry(epoch, account)

    def _hit(self, key: tuple[str, str], epoch: int) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is not None and entry.epoch == epoch:
            return True, entry.account
        return False, None

    def _in_session(
        self, key: tuple[str, str], session: Session, load: Callable[[Session, str], Any]
    ) -> Any:
        epoch = read_epoch(session)
        found, account = self._hit(key, epoch)
        if not found:
            account = load(session, key[1])
            self._store(key, epoch, account)
        return account

    async def account(
        self, role: str, subject: str, session: Session, load: Callable[[Session, str], Any]
    ) -> Any:
        """The account ``load(session, subject)`` returns, from the cache while it is current."""
        key = (role, subject)
        if getattr(session, "on_loop", False):
            # A read session on the loop connection (SQLite, on the event loop): the epoch is
            # its transaction's first read, in the snapshot the endpoint then reads.
            epoch: int | None = read_epoch(session)
        else:
            epoch = self._probe.epoch() if self._probe is not None else None
        if epoch is None:
            return await anyio.to_thread.run_sync(self._in_session, key, session, load)
        found, account = self._hit(key, epoch)
        if not found:
            # Labelled with the epoch read before loading: a change after that read moves the
            # epoch past the label, so the next request loads again.
            account = await anyio.to_thread.run_sync(load, session, subject)
            self._store(key, epoch, account)
        return account

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
