"""Planner statistics kept fresh as the database grows by use (SQLite and PostgreSQL).

SQLite's planner picks indexes from ``sqlite_stat1``, which only ``ANALYZE`` writes. A database
that started empty and grew through the API has either no statistics or statistics from when
its tables were small, and the planner can then pick a scan over an index. ``PRAGMA optimize``
is SQLite's own answer, but before SQLite 3.46 it only looks at tables the *current connection*
queried, so on a fresh connection from a scheduled job it does nothing. So this module decides
for itself, cheaply:

* a table's size now is ``max(rowid)`` (one index seek; it over-counts after deletes, which only
  makes a refresh come a little early);
* its size when last analysed is the row count ``ANALYZE`` recorded in ``sqlite_stat1``;
* a table with at least :data:`MIN_ROWS` rows and no statistics, or one that has grown
  :data:`GROWTH` times since, is analysed with ``PRAGMA analysis_limit`` set, which bounds the
  cost on a large table (an approximate sample is all the planner needs).

On PostgreSQL autovacuum normally does this, but it can leave a bulk-loaded table unanalysed
for a long while (measured: a 1M-row table still unanalysed minutes after the load, and a list
query at 7 req/s with 1 s latencies until it was). So the same rule runs there on the cumulative
statistics counters (``pg_stat_user_tables``: live rows, rows changed since the last manual or
automatic ANALYZE) and ``ANALYZE`` samples a bounded number of rows by itself.

It runs once when the embedded worker starts and then hourly as a scheduled job (one worker per
slot).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from atelier.platform.db import Database
from atelier.platform.scheduler import scheduled_job

log = logging.getLogger(__name__)

REFRESH_JOB = "platform.refresh_statistics"
REFRESH_CRON = "7 * * * *"
# Tables smaller than this are scanned in microseconds whatever the plan.
MIN_ROWS = 1_000
# Analysed again once a table is this many times larger than when last analysed.
GROWTH = 2.0
# Rows ANALYZE samples per index (SQLite's ``analysis_limit``): milliseconds on any table.
ANALYSIS_LIMIT = 2_000


@dataclass(frozen=True, slots=True)
class TableSize:
    table: str
    rows: int  # max(rowid) now
    analysed_rows: int | None  # the row count in sqlite_stat1, None when never analysed

    @property
    def stale(self) -> bool:
        if self.rows < MIN_ROWS:
            return False
        if self.analysed_rows is None:
            return True
        return self.rows >= GROWTH * max(self.analysed_rows, 1)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# The shadow tables SQLite's FTS modules keep for a virtual table ``t``: ``t_data`` and the
# others. Their rowids are not row counts (``t_data``'s encode segment ids: ~1.6e12 for a few
# rows), and the virtual table's own queries never use the planner statistics of them.
_SHADOW_SUFFIXES = (
    "_data",
    "_idx",
    "_content",
    "_docsize",
    "_config",
    "_segments",
    "_segdir",
    "_stat",
)


def _user_tables(conn: Connection) -> list[str]:
    rows = conn.exec_driver_sql(
        "SELECT name, sql LIKE 'CREATE VIRTUAL TABLE%' FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE '%WITHOUT ROWID%'"
    ).all()
    virtual = [name for name, is_virtual in rows if is_virtual]
    shadows = {table + suffix for table in virtual for suffix in _SHADOW_SUFFIXES}
    return [name for name, is_virtual in rows if not is_virtual and name not in shadows]


def _analysed_rows(conn: Connection) -> dict[str, int]:
    exists = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).first()
    if exists is None:
        return {}
    counts: dict[str, int] = {}
    for table, stat in conn.exec_driver_sql("SELECT tbl, stat FROM sqlite_stat1"):
        head = str(stat or "").split(" ", 1)[0]
        if head.isdigit():
            counts[table] = max(counts.get(table, 0), int(head))
    return counts


def _sqlite_sizes(conn: Connection) -> list[TableSize]:
    analysed = _analysed_rows(conn)
    sizes = []
    for table in _user_tables(conn):
        # A name read from sqlite_master, quoted: not user input.
        query = f"SELECT coalesce(max(rowid), 0) FROM {_quoted(table)}"  # noqa: S608
        (rows,) = conn.exec_driver_sql(query).one()
        sizes.append(TableSize(table, int(rows), analysed.get(table)))
    return sizes


def _postgresql_sizes(conn: Connection) -> list[TableSize]:
    # The cumulative statistics system's counters: rows now, and rows changed since the last
    # ANALYZE (manual or autovacuum's); a table never analysed has neither timestamp.
    rows = conn.exec_driver_sql(
        "SELECT relname, n_live_tup, n_mod_since_analyze, "
        "last_analyze IS NULL AND last_autoanalyze IS NULL "
        "FROM pg_stat_user_tables WHERE schemaname = current_schema()"
    )
    return [
        TableSize(table, int(live), None if never else max(int(live) - int(changed), 0))
        for table, live, changed, never in rows
    ]


def table_sizes(conn: Connection) -> list[TableSize]:
    """Every ordinary table's size now and when it was last analysed."""
    if conn.dialect.name == "sqlite":
        return _sqlite_sizes(conn)
    return _postgresql_sizes(conn)


def analyse(conn: Connection, tables: Iterable[str]) -> list[str]:
    """``ANALYZE`` each table with a bounded sample; returns the names analysed."""
    done = []
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    for table in tables:
        conn.exec_driver_sql(f"ANALYZE {_quoted(table)}")
        done.append(table)
    return done


def refresh_stale(conn: Connection) -> list[str]:
    """Analyse the tables whose statistics are missing or outgrown."""
    stale = [size for size in table_sizes(conn) if size.stale]
    done = analyse(conn, (size.table for size in stale))
    if done:
        log.info(
            "planner statistics refreshed",
            extra={
                "tables": done,
                "rows": {size.table: size.rows for size in stale},
                "previously_analysed_rows": {size.table: size.analysed_rows for size in stale},
            },
        )
    return done


def refresh_at_startup(db: Database) -> list[str]:
    """Run once when the embedded worker starts (a database may have grown while it was down)."""
    with db.session() as session:
        return refresh_stale(session.connection())


@scheduled_job(REFRESH_JOB, REFRESH_CRON)
def refresh(session: Session, slot: datetime) -> None:
    """Hourly: keep SQLite's planner statistics in step with the tables' growth."""
    del slot
    refresh_stale(session.connection())
