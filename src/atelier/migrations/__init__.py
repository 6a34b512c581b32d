"""Alembic migrations shipped inside the package: ``atelier migrate`` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# Revisions are named <date>_<sequence>_<slug>.py, e.g. 2026_11_22_0001_initial.py.
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"


def alembic_config(database_url: str | None = None) -> Config:
    """A programmatic Alembic config pointing at the packaged scripts."""
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


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(database_url), revision)


def heads() -> list[str]:
    """Head revisions of the packaged scripts (exactly one is expected)."""
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())
