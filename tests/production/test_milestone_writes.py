"""Milestone writes cost their SQL: a fixed set of statements each, and the response encoded once
into the bytes FastAPI would have written for the validated ``MessageRunResponse``."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from atelier.platform.db import Database
from atelier.production.models import ProductionRun
from atelier.production.schemas import MessageRunResponse, ProductionRunRead
from tests.production.lifecycle_helpers import Dispatched, dispatched
from tests.production.read_support import statements


@pytest.fixture
def run(admin: TestClient, client: TestClient) -> Dispatched:
    return dispatched(admin, client, tasks=2)


def _as_fastapi_writes(db: Database, run_id: str, message: str) -> bytes:
    with db.session(write=False) as session:
        orm = session.get(ProductionRun, run_id)
        assert orm is not None
        model = MessageRunResponse(
            production_run=ProductionRunRead.model_validate(orm), message=message
        )
        return bytes(JSONResponse(model.model_dump(mode="json", by_alias=True)).body)


def test_accept_start_progress_bytes_and_statements(
    app: FastAPI, db: Database, run: Dispatched
) -> None:
    owner = TestClient(app, headers=run.partner.headers)
    steps = [
        ("/accept", None, "Production run accepted"),
        ("/start", None, "Production run started"),
        ("/progress", {"produced_quantity": 3}, None),
    ]
    for path, body, message in steps:
        with statements(db) as seen:
            response = owner.post(run.url(path), json=body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        message = message or response.json()["message"]
        assert response.content == _as_fastapi_writes(db, run.id, message)
        writes = [s for s in seen if s.split()[0] in {"INSERT", "UPDATE"}]
        # the run, its audit row, its event (accept: the parent follows only when split)
        assert len(writes) == 3, writes
