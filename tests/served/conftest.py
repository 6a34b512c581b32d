"""Fixtures of the served-process suite: a fresh database and a process launcher per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.served.support import PG_URL, Launcher, drop_pg_database, fresh_database_url


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_failed] = report.failed
    return report


_failed = pytest.StashKey[bool]()


@pytest.fixture
def make_launcher(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Launcher]]:
    """``make_launcher(suffix, **env)``: a launcher on a fresh, empty database."""
    made: list[Launcher] = []

    def _make(suffix: str, **env: str) -> Launcher:
        url = fresh_database_url(tmp_path, suffix)
        workdir = tmp_path / suffix
        workdir.mkdir()
        launcher = Launcher(workdir, url, **env)
        made.append(launcher)
        return launcher

    yield _make
    for launcher in made:
        launcher.close()
        if request.node.stash.get(_failed, False):
            # Shown under "Captured stdout teardown" of the failing test.
            print(launcher.report())
        if PG_URL:
            drop_pg_database(launcher.database_url)
