from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.support import signed_in_admin


@pytest.fixture
def web_admin(app: FastAPI, client: TestClient) -> TestClient:
    """A browser-like client signed in as the bootstrap admin (``client`` ran the lifespan)."""
    return signed_in_admin(app)
