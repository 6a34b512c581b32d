"""Fixtures of the served-process suite: a fresh database and a process launcher per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.served.support import Launcher, fresh_database_url

_failed = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_failed] = True
        # A module-scoped launcher reports at the end of the module.
        item.session.stash[_failed] = True
    return report


class Launchers:
    """Creates launchers on fresh databases; ``close`` stops their processes."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.made: list[Launcher] = []

    def __call__(self, suffix: str, **env: str) -> Launcher:
        url = fresh_database_url(self.tmp_path, suffix)
        workdir = self.tmp_path / suffix
        workdir.mkdir()
        launcher = Launcher(workdir, url, **env)
        self.made.append(launcher)
        return launcher

    def close(self, *, failed: bool) -> None:
        for launcher in self.made:
            launcher.close()
            if failed:
                # Shown under "Captured stdout teardown" of the failing test.
                print(launcher.report())


@pytest.fixture
def make_launcher(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Launcher]]:
    """``make_launcher(suffix, **env)``: a launcher on a fresh, empty database."""
    launchers = Launchers(tmp_path)
    yield launchers
    launchers.close(failed=request.node.stash.get(_failed, False))


@pytest.fixture(scope="module")
def module_launcher(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Launcher]]:
    """Like ``make_launcher``, shared by the tests of one module."""
    launchers = Launchers(tmp_path_factory.mktemp("served"))
    yield launchers
    launchers.close(failed=request.session.stash.get(_failed, False))
