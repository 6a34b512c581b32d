"""``atelier whatsapp-templates --mode dry-run|upsert [--platform ID]`` (fake Graph API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atelier.cli import app
from atelier.notifications import catalog, platforms
from atelier.notifications.schemas import PlatformCreate
from atelier.platform.db import Database
from atelier.platform.settings import get_settings
from tests.notifications.fakes import FakeGraph
from tests.notifications.support import AU_SECRETS, IN_SECRETS

runner = CliRunner()


@pytest.fixture
def cli_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, graph: FakeGraph
) -> Iterator[dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for key, value in {
        "ATELIER_DATABASE_URL": url,
        "ATELIER_ENV": "development",
        "ATELIER_LOG_LEVEL": "WARNING",
        "ATELIER_WHATSAPP_GRAPH_URL": graph.url,
        "ATELIER_PUBLIC_BASE_URL": "https://atelier.example",
        "COLUMNS": "250",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    db = Database(url)
    ids: dict[str, str] = {}
    with db.session() as session:
        for label, number_id, waba, codes, secrets in (
            ("IN", "1100000001", "2200000001", ["+91"], IN_SECRETS),
            ("AU", "1100000002", "2200000002", ["+61"], AU_SECRETS),
        ):
            graph.tokens.add(secrets["access_token"])
            row = platforms.create_platform(
                session,
                PlatformCreate(
                    label=label,
                    phone_number_id=number_id,
                    waba_id=waba,
                    country_codes=codes,
                    **secrets,
                ),
            )
            ids[label] = row.id
    db.dispose()
    yield ids
    get_settings.cache_clear()


def _posts(graph: FakeGraph) -> list[str]:
    return [
        f"{r.path.split('/')[2]}:{r.body['name']}:{r.body['language']}"
        for r in graph.requests
        if r.method == "POST"
    ]


class TestTemplateCli:
    def test_dry_run_shows_the_plan_and_writes_nothing(
        self, cli_db: dict[str, str], graph: FakeGraph
    ) -> None:
        graph.templates["2200000001"] = [
            {"id": "1", "name": catalog.RUN_CANCELLED.name, "language": "hi", "status": "APPROVED"},
            {"id": "2", "name": catalog.RUN_CANCELLED.name, "language": "en", "status": "PENDING"},
        ]
        result = runner.invoke(app, ["whatsapp-templates", "--mode", "dry-run"])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        cancelled = [line for line in lines if catalog.RUN_CANCELLED.name in line]
        assert any(" hi " in line and "approved" in line for line in cancelled)
        assert any(" en " in line and "exists" in line and "PENDING" in line for line in cancelled)
        assert any(
            "AU" in line and "missing" in line and "would submit" in line for line in cancelled
        )
        # IN offers en + hi, AU only en: 8 templates × 3 platform-languages.
        assert sum(1 for line in lines if "atelier_" in line) == len(catalog.TEMPLATES) * 3
        assert _posts(graph) == []

    def test_upsert_submits_only_the_missing_ones(
        self, cli_db: dict[str, str], graph: FakeGraph
    ) -> None:
        graph.templates["2200000002"] = [
            {"id": "1", "name": spec.name, "language": "en", "status": "APPROVED"}
            for spec in catalog.TEMPLATES.values()
            if spec.name != catalog.REMINDER_IDLE.name
        ]
        result = runner.invoke(
            app, ["whatsapp-templates", "--mode", "upsert", "--platform", cli_db["AU"]]
        )
        assert result.exit_code == 0, result.output
        assert _posts(graph) == [f"2200000002:{catalog.REMINDER_IDLE.name}:en"]
        [request] = [r for r in graph.requests if r.method == "POST"]
        assert request.body["category"] == "UTILITY"
        assert request.body["components"][0]["text"] == catalog.REMINDER_IDLE.bodies["en"]
        buttons = request.body["components"][-1]["buttons"]
        assert buttons[-1]["url"] == "https://atelier.example/partners/wa-auth?wa_token={{1}}"

        again = runner.invoke(
            app, ["whatsapp-templates", "--mode", "upsert", "--platform", cli_db["AU"]]
        )
        assert again.exit_code == 0
        assert len(_posts(graph)) == 1  # now it exists (PENDING): nothing to submit

    def test_image_header_template_needs_a_handle(
        self, cli_db: dict[str, str], graph: FakeGraph
    ) -> None:
        result = runner.invoke(
            app, ["whatsapp-templates", "--mode", "upsert", "--platform", cli_db["IN"]]
        )
        assert result.exit_code == 0, result.output
        posted = _posts(graph)
        assert f"2200000001:{catalog.RUN_ASSIGNED.name}:en" not in posted
        assert len(posted) == (len(catalog.TEMPLATES) - 1) * 2
        assert "needs --header-handle" in result.output

        with_handle = runner.invoke(
            app,
            [
                "whatsapp-templates",
                "--mode",
                "upsert",
                "--platform",
                cli_db["IN"],
                "--header-handle",
                "4::aW1n",
            ],
        )
        assert with_handle.exit_code == 0, with_handle.output
        header = [
            r
            for r in graph.requests
            if r.method == "POST" and r.body["name"] == catalog.RUN_ASSIGNED.name
        ]
        assert len(header) == 2
        assert header[0].body["components"][0] == {
            "type": "HEADER",
            "format": "IMAGE",
            "example": {"header_handle": ["4::aW1n"]},
        }

    def test_failures_exit_1_and_bad_arguments_exit_2(
        self, cli_db: dict[str, str], graph: FakeGraph
    ) -> None:
        assert runner.invoke(app, ["whatsapp-templates", "--mode", "sideways"]).exit_code == 2
        unknown = runner.invoke(app, ["whatsapp-templates", "--platform", "waplat_nope"])
        assert unknown.exit_code == 2 and "waplat_nope" in unknown.output
        graph.tokens.discard(IN_SECRETS["access_token"])
        result = runner.invoke(app, ["whatsapp-templates", "--mode", "dry-run"])
        assert result.exit_code == 1
        assert "unreadable" in result.output
        for secret in (*IN_SECRETS.values(), *AU_SECRETS.values()):
            assert secret not in result.output
