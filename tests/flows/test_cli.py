"""``atelier flows list | run NAME``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from atelier.cli import app
from atelier.flows import service
from atelier.flows.models import FlowExecution
from atelier.flows.schemas import FlowCreate
from atelier.platform.db import Database
from atelier.platform.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'atelier.db'}"
    for key, value in {
        "ATELIER_DATABASE_URL": url,
        "ATELIER_ENV": "development",
        "ATELIER_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    db = Database(url)
    yield db
    db.dispose()
    get_settings.cache_clear()


def test_list_and_run(cli_db: Database) -> None:
    from atelier.app import load_operations

    load_operations()
    data = FlowCreate.model_validate(
        {
            "name": "Hello",
            "steps": [{"key": "say", "operation": "log", "options": {"message": "hi"}}],
        }
    )
    with cli_db.session() as session:
        service.create_flow(session, data, Settings(database_url=str(cli_db.url)))
    listed = runner.invoke(app, ["flows", "list"])
    assert listed.exit_code == 0, listed.output
    assert "Hello" in listed.output and "draft" in listed.output
    ran = runner.invoke(app, ["flows", "run", "Hello"])
    assert ran.exit_code == 0, ran.output
    assert "succeeded" in ran.output and "say (log): succeeded" in ran.output
    with cli_db.session(write=False) as session:
        triggered = list(session.scalars(select(FlowExecution.triggered_by)))
    assert triggered == ["manual:cli"]
    assert "succeeded at" in runner.invoke(app, ["flows", "list"]).output


def test_run_unknown_flow_fails(cli_db: Database) -> None:
    result = runner.invoke(app, ["flows", "run", "Nope"])
    assert result.exit_code == 1
    assert "Nope" in result.output


def test_seed_is_idempotent_and_keeps_edits(cli_db: Database) -> None:
    from atelier.flows.models import Flow
    from atelier.flows.seeds import DISCOVERER_NAME

    first = runner.invoke(app, ["flows", "seed"])
    assert first.exit_code == 0, first.output
    assert f"created {DISCOVERER_NAME}" in first.output
    with cli_db.session() as session:
        flow = session.scalars(select(Flow).where(Flow.name == DISCOVERER_NAME)).one()
        assert flow.status == "draft"
        assert flow.trigger_config == {"cron": "0 10 * * 1-5", "timezone": "Asia/Kolkata"}
        flow.description = "edited by ops"
    again = runner.invoke(app, ["flows", "seed"])
    assert again.exit_code == 0, again.output
    assert f"kept {DISCOVERER_NAME}" in again.output
    with cli_db.session(write=False) as session:
        flows = list(session.scalars(select(Flow)))
    assert [f.description for f in flows if f.name == DISCOVERER_NAME] == ["edited by ops"]
