"""Milestone writes cost their SQL: a fixed set of statements each, and the response encoded once
into the bytes FastAPI would have written for the validated ``MessageRunResponse``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from atelier.platform.db import Database
from atelier.production.models import ProductionRun
from atelier.production.schemas import MessageRunResponse, ProductionRunRead
from tests.production.lifecycle_helpers import Dispatched, dispatched
from tests.production.read_support import statement_shapes, statements


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


def test_each_milestone_is_four_statements(app: FastAPI, db: Database, run: Dispatched) -> None:
    """The write path must not grow: read and lock the run with the lifecycle policy (one
    statement), update the run, insert its audit row, insert its event. The principal comes
    from its cache; on PostgreSQL checking the cache reads the principal epoch (SQLite reads it
    off the pool)."""
    owner = TestClient(app, headers=run.partner.headers)
    assert owner.get(run.url()).status_code == 200  # the principal is cached from here on
    epoch = [] if db.is_sqlite else ["SELECT principal_epoch"]
    steps = [("/accept", None), ("/start", None), ("/progress", {"produced_quantity": 3})]
    for path, body in steps:
        with statements(db) as seen:
            response = owner.post(run.url(path), json=body)
        assert response.status_code == 200, response.text
        assert statement_shapes(seen) == [
            *epoch,
            "SELECT production_runs",
            "UPDATE production_runs",
            "INSERT run_events",
            "INSERT outbox_events",
        ], seen
        [read] = [s for s in seen if "FROM production_runs" in s]
        assert "JOIN policy_settings" in read


def test_a_milestone_commits_in_its_endpoint_thread(
    app: FastAPI, db: Database, run: Dispatched, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker-thread hop for a milestone: the endpoint commits before it answers, so the
    session dependency has nothing left to do off the event loop (it used to hop again to
    commit). PostgreSQL adds the principal epoch's read (SQLite reads it on the loop). The
    write is committed when the answer arrives."""
    import anyio.to_thread

    hops: list[object] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    owner = TestClient(app, headers=run.partner.headers)
    assert owner.get(run.url()).status_code == 200
    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    response = owner.post(run.url("/accept"))
    assert response.status_code == 200, response.text
    assert len(hops) == (1 if db.is_sqlite else 2), hops
    monkeypatch.undo()
    again = owner.post(run.url("/accept"))
    assert again.status_code == 409
    assert again.json()["code"] == "already_accepted"
