"""Write admission and 5xx handling: a burst of writes queues instead of failing, exhaustion
that still happens is a 503 with Retry-After, an unexpected error is one logged traceback and a
500 on a connection that stays open. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from atelier.app import create_app
from atelier.audit.models import RunEvent
from atelier.platform.admission import Admission, Gate
from atelier.platform.db import IMMEDIATE, Database
from atelier.platform.settings import Settings
from tests.conftest import assert_problem, bearer
from tests.live import LiveServer, together
from tests.media.support import PNG, world
from tests.production.lifecycle_helpers import Dispatched, dispatched
from tests.web.portal_support import portal_client
from tests.web.support import csrf_of


def _notes(db: Database, run_id: str) -> int:
    with db.session(write=False) as session:
        count = session.scalar(
            select(func.count())
            .select_from(RunEvent)
            .where(RunEvent.run_id == run_id, RunEvent.kind == "note")
        )
    return int(count or 0)


@pytest.fixture
def run(admin: TestClient, client: TestClient) -> Dispatched:
    return dispatched(admin, client)


class _Prober:
    """Polls ``GET /health`` one request at a time while a burst runs."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with self.server.client() as c:
            while not self._stop.is_set():
                self.statuses.append(c.get("/health").status_code)
                self._stop.wait(0.02)

    def __enter__(self) -> _Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(150)


class TestBurstOfWrites:
    def test_a_hundred_concurrent_writes_all_land(
        self, live: LiveServer, run: Dispatched, admin_token: str, db: Database
    ) -> None:
        """More writers than worker threads and pooled connections: they queue, none fails.

        Before write admission this stalled for the 30 s busy/pool timeout and answered a mix
        of 201, 500 (pool exhausted) and 503 (database is locked)."""
        url = run.admin_url("/notes")

        def note(i: int) -> int:
            with live.client(bearer(admin_token)) as c:
                return c.post(url, json={"note": f"burst {i}"}).status_code

        with _Prober(live) as prober:
            statuses = together(100, note)
        assert Counter(statuses) == {201: 100}, Counter(map(str, statuses))
        assert _notes(db, run.id) == 100
        assert prober.statuses and set(prober.statuses) == {200}

    def test_reads_are_admitted_while_every_writer_slot_is_taken(
        self, app: FastAPI, admin: TestClient, db: Database, run: Dispatched
    ) -> None:
        """Readers never queue behind writers (SQLite WAL readers do not wait for the lock)."""
        held = [
            asyncio.run(_take(db.admission.writers)) for _ in range(db.admission.writers.capacity)
        ]
        try:
            assert all(held)
            assert admin.get(run.admin_url()).status_code == 200
            assert admin.get("/health").status_code == 200
        finally:
            for _ in held:
                db.admission.writers.release()
        assert admin.post(run.admin_url("/notes"), json={"note": "after"}).status_code == 201


async def _take(gate: Gate) -> bool:
    return await gate.acquire(1.0)


class TestExhaustionIs503:
    def test_no_writer_slot_within_the_queue_timeout(
        self,
        settings: Settings,
        database_url: str,
        client: TestClient,
        admin_token: str,
        run: Dispatched,
    ) -> None:
        database = Database(database_url, pool_size=5, queue_timeout=0.2)
        app = create_app(settings, database=database, start_background=False)
        c = TestClient(app, headers=bearer(admin_token), raise_server_exceptions=False)
        try:
            writers = database.admission.writers
            held = [asyncio.run(_take(writers)) for _ in range(writers.capacity)]
            assert all(held)
            response = c.post(run.admin_url("/notes"), json={"note": "queued out"})
            assert_problem(response, 503, "db_busy")
            assert response.headers["Retry-After"] == "2"
            assert c.get(run.admin_url()).status_code == 200  # readers still served
            for _ in held:
                writers.release()
            assert c.post(run.admin_url("/notes"), json={"note": "admitted"}).status_code == 201
            assert writers.in_use == 0 and database.admission.sessions.in_use == 0
        finally:
            database.dispose()

    def test_connection_pool_exhausted(
        self,
        settings: Settings,
        database_url: str,
        client: TestClient,
        admin_token: str,
        run: Dispatched,
    ) -> None:
        # One pooled connection plus two overflow, all checked out elsewhere.
        database = Database(database_url, pool_size=1, pool_timeout=0.2)
        app = create_app(settings, database=database, start_background=False)
        c = TestClient(app, headers=bearer(admin_token), raise_server_exceptions=False)
        taken = [database.engine.connect() for _ in range(3)]
        try:
            response = c.get(run.admin_url())
            assert_problem(response, 503, "db_busy")
            assert response.headers["Retry-After"] == "2"
        finally:
            for conn in taken:
                conn.close()
        try:
            assert c.get(run.admin_url()).status_code == 200
        finally:
            database.dispose()

    def test_lock_held_past_the_lock_timeout(
        self,
        settings: Settings,
        database_url: str,
        client: TestClient,
        admin_token: str,
        run: Dispatched,
        db: Database,
    ) -> None:
        database = Database(database_url, pool_size=5, lock_timeout=0.2)
        app = create_app(settings, database=database, start_background=False)
        c = TestClient(app, headers=bearer(admin_token), raise_server_exceptions=False)
        holder = db.engine.connect()
        try:
            if db.is_sqlite:
                holder.execution_options(**{IMMEDIATE: True}).begin()  # the one write lock
            else:
                holder.begin()
                holder.execute(text("LOCK TABLE run_events IN EXCLUSIVE MODE"))
            response = c.post(run.admin_url("/notes"), json={"note": "blocked"})
            assert_problem(response, 503, "db_busy")
            assert response.headers["Retry-After"] == "2"
            assert c.get(run.admin_url()).status_code == 200
        finally:
            holder.rollback()
            holder.close()
        try:
            assert c.post(run.admin_url("/notes"), json={"note": "free"}).status_code == 201
            assert _notes(db, run.id) == 1
        finally:
            database.dispose()


class TestUploadsGiveTheirAdmissionBack:
    """An upload commits its checks and gives its writer admission back before the body streams
    in, then is admitted again to record the files: other writers are not held up by a slow
    phone, and the upload never waits for its own slot (one writer at a time on SQLite)."""

    @pytest.fixture
    def quick_app(
        self, settings: Settings, database_url: str, client: TestClient
    ) -> Iterator[FastAPI]:
        database = Database(database_url, pool_size=5, queue_timeout=2.0)
        yield create_app(settings, database=database, start_background=False)
        database.dispose()

    def test_a_writer_is_admitted_while_an_upload_streams(
        self,
        quick_app: FastAPI,
        admin: TestClient,
        client: TestClient,
        db: Database,
        admin_token: str,
        settings: Settings,
    ) -> None:
        w = world(admin, client, db)
        boundary = "atelier-test-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="slow.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        half = len(PNG) // 2
        note_done = threading.Event()

        def body() -> Iterator[bytes]:
            yield head + PNG[:half]
            note_done.wait(60)  # the phone pauses mid-photo until another writer got through
            yield PNG[half:] + tail

        with LiveServer(quick_app) as server:
            uploaded: list[int] = []

            def upload() -> None:
                with server.client(w.partner.headers) as c:
                    response = c.post(
                        f"/partners/production-runs/{w.run_id}/media",
                        content=body(),
                        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
                    )
                    uploaded.append(response.status_code)

            uploader = threading.Thread(target=upload)
            uploader.start()
            try:
                # Wait until the server is writing the photo to its spool file: the upload has
                # passed its checks and is streaming.
                spool = Path(settings.storage_dir) / ".incoming"
                for _ in range(1200):
                    if spool.is_dir() and any(spool.iterdir()):
                        break
                    threading.Event().wait(0.05)
                assert spool.is_dir() and any(spool.iterdir())
                with server.client(bearer(admin_token)) as c:
                    url = f"/admin/production-runs/{w.run_id}/notes"
                    response = c.post(url, json={"note": "while uploading"})
                assert response.status_code == 201, response.text
            finally:
                note_done.set()
                uploader.join(120)
        assert uploaded == [201]

    def test_a_portal_photo_upload_is_recorded(
        self, quick_app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        browser = portal_client(quick_app, w.partner)
        page = browser.get(f"/portal/runs/{w.run_id}")
        assert page.status_code == 200, page.text
        response = browser.post(
            f"/portal/runs/{w.run_id}/photos",
            params={"csrf_token": csrf_of(page.text)},
            files=[("files", ("front.png", PNG, "image/png"))],
        )
        assert response.status_code == 303, response.text
        assert quick_app.state.db.admission.writers.in_use == 0
        files = admin.get("/admin/media", params={"production_run_id": w.run_id})
        assert files.status_code == 200, files.text
        assert len(files.json()["media_files"]) == 1


class TestUnexpectedErrors:
    @pytest.fixture
    def broken_notes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A bug in the note service: the route raises something no handler knows."""
        from atelier.production import endpoints_admin

        def boom(*_: Any, **__: Any) -> Any:
            raise RuntimeError("bug in add_note")

        monkeypatch.setattr(endpoints_admin.service, "add_note", boom)

    def test_one_traceback_a_500_and_the_connection_stays_open(
        self,
        live: LiveServer,
        run: Dispatched,
        admin_token: str,
        broken_notes: None,
        caplog: pytest.LogCaptureFixture,
        db: Database,
    ) -> None:
        caplog.set_level(logging.INFO)
        with live.client(bearer(admin_token)) as c:
            first = c.get("/health")
            port = _local_port(first)
            response = c.post(run.admin_url("/notes"), json={"note": "x"})
            body = assert_problem(response, 500, "internal_error")
            assert body["request_id"] == response.headers["X-Request-ID"]
            assert "bug in add_note" not in response.text
            # The same keep-alive connection carries the next request.
            after = c.get(run.admin_url())
            assert after.status_code == 200
            assert _local_port(after) == port
        with_traceback = [r for r in caplog.records if r.exc_info]
        assert len(with_traceback) == 1, [r.getMessage() for r in with_traceback]
        record = with_traceback[0]
        assert record.__dict__["request_id"] == body["request_id"]
        assert record.__dict__["route"] == "/admin/production-runs/{run_id}/notes"
        assert not any("Exception in ASGI application" in r.getMessage() for r in caplog.records)
        assert _notes(db, run.id) == 0  # the transaction was rolled back

    def test_a_web_page_error_is_an_html_page_logged_once(
        self,
        client: TestClient,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        from atelier.web.admin import endpoints_session

        def boom(*_: Any, **__: Any) -> Any:
            raise RuntimeError("bug in a page")

        monkeypatch.setattr(endpoints_session, "safe_next", boom)
        caplog.set_level(logging.INFO)
        response = client.get("/app/sign-in")
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("text/html")
        assert "bug in a page" not in response.text
        with_traceback = [r for r in caplog.records if r.exc_info]
        assert len(with_traceback) == 1
        assert with_traceback[0].__dict__["request_id"] == response.headers["X-Request-ID"]

    def test_a_client_request_id_is_kept_and_a_bad_one_replaced(self, client: TestClient) -> None:
        kept = client.get("/health", headers={"X-Request-ID": "abc-123.x"})
        assert kept.headers["X-Request-ID"] == "abc-123.x"
        replaced = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
        assert replaced.headers["X-Request-ID"].startswith("req_")
        assert client.get("/health").headers["X-Request-ID"].startswith("req_")


def _local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    port: int = stream.get_extra_info("client_addr")[1]
    return port


class TestGate:
    """The gate under the admission: FIFO hand-over across event loops, timeouts, cancels."""

    def test_a_slot_is_handed_to_a_waiter_on_another_event_loop(self) -> None:
        gate = Gate("writer", 1)
        assert asyncio.run(gate.acquire(1.0))
        got: list[bool] = []
        waiter = threading.Thread(target=lambda: got.append(asyncio.run(gate.acquire(30.0))))
        waiter.start()
        while gate.waiting == 0:
            threading.Event().wait(0.01)
        gate.release()
        waiter.join(30)
        assert got == [True] and gate.in_use == 1
        gate.release()
        assert gate.in_use == 0

    def test_a_timed_out_or_cancelled_waiter_leaves_no_slot_behind(self) -> None:
        gate = Gate("writer", 1)

        async def scenario() -> None:
            assert await gate.acquire(1.0)
            assert await gate.acquire(0.01) is False
            task = asyncio.create_task(gate.acquire(30.0))
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert gate.waiting == 0
            gate.release()
            assert gate.in_use == 0

        asyncio.run(scenario())

    def test_admission_gives_back_the_writer_slot_when_no_session_slot_comes(self) -> None:
        admission = Admission(writers=1, sessions=1, timeout=0.05)

        async def scenario() -> None:
            reader = await admission.admit(write=False)
            with pytest.raises(Exception, match="no session slot"):
                await admission.admit(write=True)
            assert admission.writers.in_use == 0
            reader.release()
            reader.release()  # idempotent
            writer = await admission.admit(write=True)
            assert admission.writers.in_use == 1 and admission.sessions.in_use == 1
            writer.release()

        asyncio.run(scenario())
