"""The admin list's search index: run id, design name and partner name/handle per run.

``production_run_search`` holds one row per run (``run_id`` unique, an integer key for the
index) with the run's ``status``, ``top_level`` and ``created_at``, so a search filtered by
status and sorted by creation (the list's default) is counted and paged on this narrow table
alone; only the page's runs are read. The database keeps it current, in the same transaction
as the change, with triggers: a run inserted, re-pointed at another design or partner, moved
to another status or parent, or deleted; a design renamed; a partner renamed or re-handled.
Triggers cover every writer (the API, order webhooks, bulk SQL, the demo) and a rename costs
one UPDATE over that design's or partner's runs. Like an index, the table belongs to no
service: ``production`` owns it and nothing writes it by hand.

- SQLite: an FTS5 table with the trigram tokenizer (case-insensitive substring matches)
  over the search table as external content.
- PostgreSQL: a pg_trgm GIN index over the same columns (``ILIKE '%q%'`` uses it).

Queries shorter than three characters cannot use a trigram index; the repository falls back
to scanning the small tables for those.
"""

# The statements below are built from this module's constant names only, never from input.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from atelier.platform.db import Base

TABLE = "production_run_search"
FTS_TABLE = "production_run_search_fts"
TRGM_INDEX = "ix_production_run_search_trgm"
# A trigram index needs at least this many characters; shorter queries fall back to a scan.
MIN_LENGTH = 3
COLUMNS = ("run_id", "design_name", "partner_name", "partner_handle")
# Tables SQLite's FTS5 module creates for the index (not part of the models' metadata).
SQLITE_INDEX_TABLES = frozenset(
    {FTS_TABLE, *(f"{FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config"))}
)

_NAMES = (
    "(SELECT name FROM designs WHERE id = new.design_id), "
    "(SELECT name FROM partners WHERE id = new.partner_id), "
    "(SELECT handle FROM partners WHERE id = new.partner_id)"
)
_FTS_VALUES = "{0}.id, {0}.run_id, {0}.design_name, {0}.partner_name, {0}.partner_handle"
# The list's columns copied from the run ("top-level" as the list means it: no parent id).
_LIST_COLUMNS = "status, top_level, created_at"
_LIST_VALUES = "{0}.status, coalesce({0}.parent_run_id, '') = '', {0}.created_at"

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    f"{', '.join(COLUMNS)}, content='{TABLE}', content_rowid='id', tokenize='trigram')",
    # The FTS index follows its content table.
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ai AFTER INSERT ON {TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, {', '.join(COLUMNS)}) VALUES ({_FTS_VALUES.format('new')}); "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ad AFTER DELETE ON {TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {', '.join(COLUMNS)}) "
    f"VALUES ('delete', {_FTS_VALUES.format('old')}); END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_au AFTER UPDATE OF {', '.join(COLUMNS)} ON {TABLE} "
    "BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {', '.join(COLUMNS)}) "
    f"VALUES ('delete', {_FTS_VALUES.format('old')}); "
    f"INSERT INTO {FTS_TABLE}(rowid, {', '.join(COLUMNS)}) VALUES ({_FTS_VALUES.format('new')}); "
    "END",
    # The content table follows runs, designs and partners.
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_run_ai AFTER INSERT ON production_runs BEGIN "
    f"INSERT INTO {TABLE}(run_id, design_name, partner_name, partner_handle, {_LIST_COLUMNS}) "
    f"VALUES (new.id, {_NAMES}, {_LIST_VALUES.format('new')}); END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_run_au AFTER UPDATE OF design_id, partner_id "
    "ON production_runs WHEN old.design_id IS NOT new.design_id "
    "OR old.partner_id IS NOT new.partner_id BEGIN "
    f"UPDATE {TABLE} SET (design_name, partner_name, partner_handle) = (SELECT {_NAMES}) "
    "WHERE run_id = new.id; END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_run_status_au AFTER UPDATE OF status, parent_run_id "
    "ON production_runs WHEN old.status IS NOT new.status "
    "OR old.parent_run_id IS NOT new.parent_run_id BEGIN "
    f"UPDATE {TABLE} SET ({_LIST_COLUMNS}) = (SELECT {_LIST_VALUES.format('new')}) "
    "WHERE run_id = new.id; END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_run_ad AFTER DELETE ON production_runs BEGIN "
    f"DELETE FROM {TABLE} WHERE run_id = old.id; END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_design_au AFTER UPDATE OF name ON designs "
    "WHEN old.name IS NOT new.name BEGIN "
    f"UPDATE {TABLE} SET design_name = new.name "
    "WHERE run_id IN (SELECT id FROM production_runs WHERE design_id = new.id); END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_partner_au AFTER UPDATE OF name, handle ON partners "
    "WHEN old.name IS NOT new.name OR old.handle IS NOT new.handle BEGIN "
    f"UPDATE {TABLE} SET partner_name = new.name, partner_handle = new.handle "
    "WHERE run_id IN (SELECT id FROM production_runs WHERE partner_id = new.id); END",
)

SQLITE_DROP = (
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
    *(
        f"DROP TRIGGER IF EXISTS {TABLE}_{name}"
        for name in ("ai", "ad", "au", "run_ai", "run_au", "run_status_au", "run_ad")
    ),
    *(f"DROP TRIGGER IF EXISTS {TABLE}_{name}" for name in ("design_au", "partner_au")),
)

_PG_NAMES = (
    "(SELECT name FROM designs WHERE id = NEW.design_id), "
    "(SELECT name FROM partners WHERE id = NEW.partner_id), "
    "(SELECT handle FROM partners WHERE id = NEW.partner_id)"
)

POSTGRESQL_CREATE = (
    f"""CREATE OR REPLACE FUNCTION {TABLE}_on_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM {TABLE} WHERE run_id = OLD.id;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.design_id IS NOT DISTINCT FROM NEW.design_id
     AND OLD.partner_id IS NOT DISTINCT FROM NEW.partner_id THEN
    IF OLD.status IS DISTINCT FROM NEW.status
       OR OLD.parent_run_id IS DISTINCT FROM NEW.parent_run_id THEN
      UPDATE {TABLE} SET status = NEW.status,
        top_level = coalesce(NEW.parent_run_id, '') = '' WHERE run_id = NEW.id;
    END IF;
    RETURN NULL;
  END IF;
  INSERT INTO {TABLE} (run_id, design_name, partner_name, partner_handle, {_LIST_COLUMNS})
  VALUES (NEW.id, {_PG_NAMES}, {_LIST_VALUES.format("NEW")})
  ON CONFLICT (run_id) DO UPDATE SET design_name = EXCLUDED.design_name,
    partner_name = EXCLUDED.partner_name, partner_handle = EXCLUDED.partner_handle,
    status = EXCLUDED.status, top_level = EXCLUDED.top_level,
    created_at = EXCLUDED.created_at;
  RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION {TABLE}_on_design() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.name IS DISTINCT FROM NEW.name THEN
    UPDATE {TABLE} SET design_name = NEW.name
    WHERE run_id IN (SELECT id FROM production_runs WHERE design_id = NEW.id);
  END IF;
  RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION {TABLE}_on_partner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.name IS DISTINCT FROM NEW.name OR OLD.handle IS DISTINCT FROM NEW.handle THEN
    UPDATE {TABLE} SET partner_name = NEW.name, partner_handle = NEW.handle
    WHERE run_id IN (SELECT id FROM production_runs WHERE partner_id = NEW.id);
  END IF;
  RETURN NULL;
END $$""",
    f"DROP TRIGGER IF EXISTS {TABLE}_run ON production_runs",
    f"CREATE TRIGGER {TABLE}_run AFTER INSERT OR DELETE "
    "OR UPDATE OF design_id, partner_id, status, parent_run_id "
    f"ON production_runs FOR EACH ROW EXECUTE FUNCTION {TABLE}_on_run()",
    f"DROP TRIGGER IF EXISTS {TABLE}_design ON designs",
    f"CREATE TRIGGER {TABLE}_design AFTER UPDATE OF name ON designs "
    f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_on_design()",
    f"DROP TRIGGER IF EXISTS {TABLE}_partner ON partners",
    f"CREATE TRIGGER {TABLE}_partner AFTER UPDATE OF name, handle ON partners "
    f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_on_partner()",
)

POSTGRESQL_DROP = (
    f"DROP TRIGGER IF EXISTS {TABLE}_run ON production_runs",
    f"DROP TRIGGER IF EXISTS {TABLE}_design ON designs",
    f"DROP TRIGGER IF EXISTS {TABLE}_partner ON partners",
    f"DROP FUNCTION IF EXISTS {TABLE}_on_run()",
    f"DROP FUNCTION IF EXISTS {TABLE}_on_design()",
    f"DROP FUNCTION IF EXISTS {TABLE}_on_partner()",
)

BACKFILL = (
    f"INSERT INTO {TABLE} (run_id, design_name, partner_name, partner_handle, {_LIST_COLUMNS}) "
    f"SELECT r.id, d.name, p.name, p.handle, {_LIST_VALUES.format('r')} FROM production_runs r "
    "LEFT JOIN designs d ON d.id = r.design_id LEFT JOIN partners p ON p.id = r.partner_id"
)


def _trigram_index(connection: Connection) -> str:
    """The GIN index, its operator class qualified with the schema pg_trgm lives in (it may not
    be on the search path, e.g. when the tables live in their own schema)."""
    connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema = connection.exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    ).scalar_one()
    operators = ", ".join(f"{column} {schema}.gin_trgm_ops" for column in COLUMNS)
    return f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON {TABLE} USING gin ({operators})"


def create(connection: Connection) -> None:
    """The index and its triggers (after the tables exist); idempotent."""
    statements: tuple[str, ...] = SQLITE_CREATE
    if connection.dialect.name == "postgresql":
        statements = (_trigram_index(connection), *POSTGRESQL_CREATE)
    for statement in statements:
        connection.exec_driver_sql(statement)


def drop(connection: Connection) -> None:
    """The index's triggers and FTS table (the search table itself is a model)."""
    statements = POSTGRESQL_DROP if connection.dialect.name == "postgresql" else SQLITE_DROP
    for statement in statements:
        connection.exec_driver_sql(statement)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name``: the FTS5 tables and the trigram index are not in the models."""
    if type_ == "table":
        return name not in SQLITE_INDEX_TABLES
    if type_ == "index":
        return name != TRGM_INDEX
    return True


@event.listens_for(Base.metadata, "after_create")
def _after_create(target: Any, connection: Connection, **kw: Any) -> None:
    create(connection)


@event.listens_for(Base.metadata, "before_drop")
def _before_drop(target: Any, connection: Connection, **kw: Any) -> None:
    drop(connection)
