"""Notification tests run against a local fake Graph API (real HTTP) and a local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atelier.platform.settings import Settings
from tests.notifications.fakes import FakeGraph, FakeSmtp, serve_graph, serve_smtp


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with serve_graph() as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with serve_smtp() as fake:
        yield fake


@pytest.fixture
def settings(settings: Settings, graph: FakeGraph) -> Settings:
    """The suite's settings pointed at the fake Graph API, with a short provider timeout."""
    return settings.model_copy(update={"whatsapp_graph_url": graph.url, "whatsapp_timeout": 2.0})
