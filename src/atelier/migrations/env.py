"""Alembic environment: Atelier metadata, batch mode on SQLite, URL from caller or settings."""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON

import atelier.models  # noqa: F401  (registers every table)
from atelier.platform.db import Base, Money, UTCDateTime, make_engine
from atelier.production import search_index

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render the shared column types by name so revisions stay short and importable."""
    if type_ != "type":
        return False
    autogen_context.imports.add("import atelier.platform.db")
    if isinstance(obj, UTCDateTime):
        return "atelier.platform.db.UTCDateTime()"
    if isinstance(obj, Money):
        return "atelier.platform.db.Money()"
    if isinstance(obj, JSON) and "postgresql" in getattr(obj, "_variant_mapping", {}):
        return "atelier.platform.db.JSONType"
    return False


COMMON: dict[str, Any] = {
    "target_metadata": target_metadata,
    "compare_type": True,
    "render_item": render_item,
    # The search index's FTS5 tables and trigram index live beside the models, not in them.
    "include_name": search_index.include_name,
}


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from atelier.platform.settings import Settings

    return Settings().database_url


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        **COMMON,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url(), pool_size=1)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                render_as_batch=connection.dialect.name == "sqlite",
                **COMMON,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
