"""The packaged Alembic migrations build exactly the schema the models describe, with one head."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

import atelier.models  # noqa: F401
from atelier.migrations import (
    VERSIONS_DIR,
    alembic_config,
    current_revision,
    file_head,
    heads,
    upgrade,
)
from atelier.platform.db import Base, make_engine
from atelier.production import search_index

PG_URL = os.environ.get("ATELIER_TEST_DATABASE_URL")


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database: a SQLite file, or a throwaway PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'nested' / 'dir' / 'migrated.db'}"
        return
    # Our own schema, so the suite's truncating fixture and other runs are never touched.
    schema = f"migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def schema_differences(url: str) -> list[object]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": search_index.include_name}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


class TestMigrations:
    def test_exactly_one_head(self) -> None:
        assert len(heads()) == 1

    def test_revision_files_are_date_prefixed(self) -> None:
        files = [p.name for p in VERSIONS_DIR.glob("*.py") if not p.name.startswith("__")]
        assert files
        for name in files:
            year, month, day = name.split("_")[:3]
            assert (len(year), len(month), len(day)) == (4, 2, 2), name

    def test_upgrade_head_matches_the_models_and_is_idempotent(self, fresh_url: str) -> None:
        upgrade(fresh_url)
        assert schema_differences(fresh_url) == []
        upgrade(fresh_url)  # already at head: a no-op
        engine = make_engine(fresh_url, pool_size=1)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        index_tables = search_index.SQLITE_INDEX_TABLES if not PG_URL else frozenset()
        expected = {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
        assert expected | index_tables == tables


class TestStartupFastPath:
    def test_the_file_names_give_alembics_head_and_each_scripts_revision(self) -> None:
        assert file_head() == heads()[0]
        for script in ScriptDirectory.from_config(alembic_config()).walk_revisions():
            assert script.path is not None
            assert Path(script.path).name.split("_")[3] == script.revision

    def test_a_database_at_head_is_not_migrated_again_one_behind_is(
        self, fresh_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert current_revision(fresh_url) is None  # no schema yet
        upgrade(fresh_url)
        assert current_revision(fresh_url) == file_head()
        calls: list[str] = []
        real_upgrade = command.upgrade

        def counting(config: object, revision: str) -> None:
            calls.append(revision)
            real_upgrade(config, revision)  # type: ignore[arg-type]

        monkeypatch.setattr(command, "upgrade", counting)
        upgrade(fresh_url)
        assert calls == []  # recognised from one query: Alembic never loaded
        command.downgrade(alembic_config(fresh_url), "-1")
        upgrade(fresh_url)
        assert calls == ["head"]
        assert current_revision(fresh_url) == file_head()
        assert schema_differences(fresh_url) == []
