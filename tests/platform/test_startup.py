"""``atelier serve`` start-up on a migrated database (issue 14: < 2 s to the first 200).

Run in a fresh interpreter, through the real command on a real database, up to the first
answer of ``/health``; ``uvicorn.run`` is replaced by the app's lifespan and one ASGI request,
so no port is needed. No wall-clock assertions: what is checked is the work start-up does —
the modules it imports and the state it leaves the garbage collector in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from atelier.migrations import upgrade
from atelier.platform.runtime import SERVER_GC_THRESHOLDS
from tests.platform.test_migrations import fresh_url

__all__ = ["fresh_url"]  # the fixture, imported for this module's tests

ROOT = Path(__file__).resolve().parents[2]

_SERVE = r"""
import asyncio, gc, json, sys

import uvicorn


def run(app, **options):
    async def first_health():
        async with app.router.lifespan_context(app):
            sent = []

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                sent.append(message)

            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": "GET", "scheme": "http", "path": "/health", "raw_path": b"/health",
                "query_string": b"", "root_path": "", "headers": [(b"host", b"test")],
                "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
            }
            await app(scope, receive, send)
            report = {
                "status": sent[0]["status"],
                "packages": sorted({name.split(".")[0] for name in sys.modules}),
                "gc_enabled": gc.isenabled(),
                "frozen": gc.get_freeze_count(),
                "threshold": list(gc.get_threshold()),
                "collections": collections() - COLLECTIONS_BEFORE,
                "routes_built": sorted(
                    route.path for route in walk(app.router.routes)
                    if isinstance(route, LazyAPIRoute) and route.built and not is_hot(route)
                ),
            }
            print("REPORT " + json.dumps(report), flush=True)

    asyncio.run(first_health())


def walk(routes):
    for route in routes:
        original = getattr(route, "original_router", None)
        yield from walk(original.routes) if original is not None else [route]


def collections():
    return sum(generation["collections"] for generation in gc.get_stats())


uvicorn.run = run
from atelier.cli import app
from atelier.platform.hotpath import is_hot
from atelier.platform.routers import LazyAPIRoute

COLLECTIONS_BEFORE = collections()
app(["serve", "--no-demo"], standalone_mode=False)
"""

# Needed by no request the app answers at start: Alembic (the schema is at head), Pillow (the
# first thumbnail), httpx (the first provider call), Babel (the first portal page).
NOT_AT_STARTUP = {"alembic", "PIL", "httpx", "babel"}


def _serve_until_first_health(url: str, tmp_path: Path, *, embedded_worker: bool) -> Any:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "ATELIER_DATABASE_URL": url,
        "ATELIER_ENV": "development",
        "ATELIER_LOG_LEVEL": "WARNING",
        "ATELIER_DEMO_DATA": "false",
        "ATELIER_EMBEDDED_WORKER": "true" if embedded_worker else "false",
        "ATELIER_STORAGE_DIR": str(tmp_path / "media"),
    }
    result = subprocess.run(  # noqa: S603  (our own interpreter and script)
        [sys.executable, "-c", _SERVE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    reports = [x for x in result.stdout.splitlines() if x.startswith("REPORT ")]
    assert result.returncode == 0 and reports, result.stdout[-2000:] + result.stderr[-4000:]
    return json.loads(reports[0].removeprefix("REPORT "))


@pytest.mark.parametrize("embedded_worker", [False, True], ids=["http-only", "embedded-worker"])
def test_serving_a_migrated_database_loads_only_what_answering_needs(
    fresh_url: str, tmp_path: Path, embedded_worker: bool
) -> None:
    upgrade(fresh_url)
    report = _serve_until_first_health(fresh_url, tmp_path, embedded_worker=embedded_worker)
    assert report["status"] == 200
    assert NOT_AT_STARTUP.isdisjoint(report["packages"]), report["packages"]
    # Off while starting, then collected once, frozen and tuned (platform/runtime.py).
    assert report["gc_enabled"] is True
    assert report["frozen"] > 0
    assert tuple(report["threshold"]) == SERVER_GC_THRESHOLDS
    # Paused before the app is imported (~90 young collections when it was not): a few while
    # the CLI reaches the pause, the one before the freeze, any after it is back on.
    assert report["collections"] <= 10, report["collections"]
    # No route built FastAPI's request machinery of its own (platform/routers.py) but the hot
    # ones, whose Dependant the route index compiles (platform/hotpath.py): /health was
    # answered through its included router's context.
    assert report["routes_built"] == []
