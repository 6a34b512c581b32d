"""The ``atelier`` command: migrate, admin create, worker shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from atelier.cli import app
from atelier.platform.db import Database
from atelier.platform.models import AdminUser
from atelier.platform.security import verify_password
from atelier.platform.settings import get_settings

runner = CliRunner()
ADMIN = ["admin", "create"]
NAMES = ["--first-name", "A", "--last-name", "B"]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment for a CLI run on its own SQLite file under a not-yet-existing directory."""
    url = f"sqlite:///{tmp_path / 'var' / 'atelier.db'}"
    env = {
        "ATELIER_DATABASE_URL": url,
        "ATELIER_ENV": "development",
        "ATELIER_LOG_LEVEL": "WARNING",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def admins(url: str) -> list[AdminUser]:
    db = Database(url)
    try:
        with db.session(write=False) as session:
            return list(session.scalars(select(AdminUser)))
    finally:
        db.dispose()


class TestMigrateCommand:
    def test_creates_the_directory_and_schema_and_can_run_twice(
        self, cli_env: dict[str, str], tmp_path: Path
    ) -> None:
        first = runner.invoke(app, ["migrate"])
        assert first.exit_code == 0, first.output
        assert (tmp_path / "var" / "atelier.db").exists()
        second = runner.invoke(app, ["migrate"])
        assert second.exit_code == 0, second.output
        assert admins(cli_env["ATELIER_DATABASE_URL"]) == []


class TestAdminCreateCommand:
    def test_creates_an_admin_with_a_hashed_password(self, cli_env: dict[str, str]) -> None:
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        result = runner.invoke(
            app,
            [
                *ADMIN,
                "--email",
                "Ops@Example.test",
                "--first-name",
                "Asha",
                "--last-name",
                "Rao",
                "--password",
                "s3cret-enough",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "s3cret-enough" not in result.output
        [user] = admins(cli_env["ATELIER_DATABASE_URL"])
        assert (user.email, user.first_name, user.last_name) == ("ops@example.test", "Asha", "Rao")
        assert verify_password(user.password_hash, "s3cret-enough")

    def test_prompts_for_a_hidden_password(self, cli_env: dict[str, str]) -> None:
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        result = runner.invoke(
            app,
            [*ADMIN, "--email", "a@example.test", "--first-name", "A", "--last-name", "B"],
            input="prompted-pass\nprompted-pass\n",
        )
        assert result.exit_code == 0, result.output
        [user] = admins(cli_env["ATELIER_DATABASE_URL"])
        assert verify_password(user.password_hash, "prompted-pass")

    def test_duplicate_email_fails_without_a_second_row(self, cli_env: dict[str, str]) -> None:
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        args = ["admin", "create", "--email", "a@example.test", "--first-name", "A"]
        args += ["--last-name", "B", "--password", "long-enough"]
        assert runner.invoke(app, args).exit_code == 0
        again = runner.invoke(app, args)
        assert again.exit_code == 1
        assert "already exists" in again.output
        assert len(admins(cli_env["ATELIER_DATABASE_URL"])) == 1

    @pytest.mark.parametrize(
        ("email", "password"), [("not-an-email", "long-enough"), ("a@example.test", "short")]
    )
    def test_bad_input_is_refused(self, cli_env: dict[str, str], email: str, password: str) -> None:
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        result = runner.invoke(
            app,
            [*ADMIN, "--email", email, *NAMES, "--password", password],
        )
        assert result.exit_code == 2
        assert admins(cli_env["ATELIER_DATABASE_URL"]) == []


class TestWorkerCommand:
    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
    def test_stops_cleanly_on_signal(self, cli_env: dict[str, str], signum: int) -> None:
        assert runner.invoke(app, ["migrate"]).exit_code == 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "atelier.cli", "worker"],
            env={
                **os.environ,
                **cli_env,
                "ATELIER_WORKER_POLL_INTERVAL": "0.2",
                "ATELIER_DB_POOL_SIZE": "7",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if "Ctrl-C to stop" in line:
                    break
            assert any("Ctrl-C to stop" in line for line in lines), "".join(lines)
            # ATELIER_DB_POOL_SIZE applies to workers too (it used to be clamped to 2..5).
            banner = " ".join("".join(lines).split())  # Rich wraps long lines
            assert "7 database connections" in banner, banner
            proc.send_signal(signum)
            rest, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, "".join(lines) + rest
        assert "worker stopped" in rest


class TestDemoCommand:
    def test_is_idempotent(self, cli_env: dict[str, str]) -> None:
        first = runner.invoke(app, ["demo"])
        assert first.exit_code == 0, first.output
        assert "0 already there" in first.output
        second = runner.invoke(app, ["demo"])
        assert second.exit_code == 0, second.output
        assert "demo data: 0 created" in second.output
