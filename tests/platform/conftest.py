"""Fixtures of the platform tests."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.production.read_support import Split, rich_split


@pytest.fixture
def split(admin: TestClient, client: TestClient, app: FastAPI) -> Split:
    """A run split across two partners, with tasks, subtasks and comments."""
    return rich_split(admin, client, app)
