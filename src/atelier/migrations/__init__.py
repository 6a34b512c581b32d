"""Alembic migrations shipped inside the package: ``atelier migrate`` needs no alembic.ini."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# Revisions are named <date>_<sequence>_<slug>.py, e.g. 2026_11_22_0001_initial.py.
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"


def alembic_config(database_url: str | None = None) -> Config:
    """A programmatic Alembic config pointing at the packaged scripts."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(VERSIONS_DIR))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("truncate_slug_length", "40")
    if database_url:
        # Passed through attributes, not the ini option, so "%" in passwords needs no escaping.
        config.attributes["database_url"] = database_url
    return config


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the parent directory of a SQLite file (``./var`` by default)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


# The PostgreSQL advisory lock every Atelier process takes around a schema upgrade (any fixed
# 64-bit number; "ATLM" in ASCII). Advisory locks are per database, so databases never contend.
MIGRATION_LOCK_KEY = 0x41544C4D


def sqlite_lock_path(database_url: str) -> Path | None:
    """The lock file next to a SQLite database file (``None`` for in-memory databases)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = Path(url.database).expanduser().resolve()
    return database.with_name(database.name + ".migrate-lock")


@contextmanager
def migration_lock(database_url: str) -> Iterator[None]:
    """Hold the schema-upgrade lock: one process migrates, the others wait, then find the
    schema current and do nothing.

    PostgreSQL: a session-level advisory lock (``pg_advisory_lock``) on its own connection, so a
    process that dies releases it with its connection. SQLite: an exclusive ``flock`` on
    ``<database>.migrate-lock`` beside the database file.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        from atelier.platform.db import make_engine

        engine = make_engine(database_url, pool_size=1)
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                try:
                    yield
                finally:
                    conn.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
        finally:
            engine.dispose()
        return
    path = sqlite_lock_path(database_url)
    if path is None:
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_REVISION_FILE = re.compile(r"^\d{4}_\d{2}_\d{2}_(\d{4})_\w+\.py$")


def file_head() -> str | None:
    """The head revision read from the scripts' file names (``…_0011_slug.py`` → ``0011``),
    without importing them; ``None`` if a name does not follow the template. The chain is
    linear and revisions are numbered in order (``tests/platform/test_migrations.py``)."""
    revisions = []
    for path in VERSIONS_DIR.glob("*.py"):
        if path.name.startswith("__"):
            continue
        match = _REVISION_FILE.match(path.name)
        if match is None:
            return None
        revisions.append(match[1])
    return max(revisions, default=None)


def current_revision(database_url: str) -> str | None:
    """The database's recorded revision, or ``None`` (no schema yet, or not exactly one row)."""
    from atelier.platform.db import make_engine

    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return None
    finally:
        engine.dispose()
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``, under :func:`migration_lock`, so
    processes started together (several ``atelier serve``) never run a revision twice.

    A database already at the head is recognised from one query and the scripts' file names,
    without importing Alembic, its environment or any script (about half a second of start-up).
    """
    ensure_sqlite_directory(database_url)
    head = file_head()
    if revision == "head" and head is not None and current_revision(database_url) == head:
        return
    from alembic import command

    with migration_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


def heads() -> list[str]:
    """Head revisions of the packaged scripts (exactly one is expected)."""
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config()).get_heads())
