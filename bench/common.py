"""Shared benchmark harness: seed a database, run the real app and a bare ASGI app under
uvicorn in subprocesses, drive both with wrk, print requests/second and the ratio.

Reuse it from another bench script::

    from bench.common import Bench, BareRoute, sql_rows

    def seed(session) -> dict:           # runs once, inside a transaction
        ...; return {"run_id": run.id}

    def bare(conn, ids) -> dict:          # raw DB-API connection (sqlite3 or psycopg)
        return {"production_run": sql_rows(conn, "SELECT ... WHERE id = ?", [ids["run_id"]])[0]}

    Bench(name="run read", seed=seed, path=lambda ids: f"/admin/production-runs/{ids['run_id']}",
          bare=bare).run()

Bench scripts are not part of the test run. Run them from the repo root:
``.venv/bin/python -m bench.bench_design_read [--database-url URL] [--duration 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
ADMIN_EMAIL = "bench@atelier.local"
ADMIN_PASSWORD = "bench-password-123"
ENV_KEY_SEED = "ATELIER_BENCH_SEED"
ENV_KEY_BARE = "ATELIER_BENCH_BARE"
ENV_KEY_FLOOR_INLINE = "ATELIER_BENCH_FLOOR_INLINE"

Seed = Callable[[Session], dict[str, Any]]
BareHandler = Callable[[Any, dict[str, Any]], Any]


# --- database -------------------------------------------------------------------------------


def fresh_database(url: str | None, workdir: Path) -> str:
    """A URL with an empty Atelier schema: a temp SQLite file, or ``url`` reset (PostgreSQL)."""
    import atelier.models  # noqa: F401
    from atelier.platform.db import Base, Database

    if not url:
        url = f"sqlite:///{workdir / 'bench.db'}"
    db = Database(url)
    try:
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
    finally:
        db.dispose()
    return url


def seed_database(url: str, seed: Seed) -> dict[str, Any]:
    """Create the bench admin, then run ``seed`` in one committed transaction."""
    from atelier.auth.service import create_admin
    from atelier.platform.db import Database

    db = Database(url)
    try:
        with db.session() as session:
            create_admin(session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, first_name="Bench")
            ids = seed(session)
        if db.is_sqlite:
            with db.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return ids
    finally:
        db.dispose()


def _fold(value: str | None) -> str | None:
    return None if value is None else value.lower()


def dbapi_connect(url: str) -> Any:
    """A raw DB-API connection with the same driver the app uses (sqlite3 or psycopg)."""
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("///", 1)[1], check_same_thread=False)
        # The app's connection settings (platform.db), so writes cost the same on both sides.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        # The app's case folding for the list's search (platform.db.SQLITE_FOLD).
        conn.create_function("atelier_fold", 1, _fold, deterministic=True)
        return conn
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def sql_rows(conn: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows as dicts; write ``?`` placeholders, they become ``%s`` on PostgreSQL."""
    if not is_sqlite(conn):
        sql = sql.replace("?", "%s")
    cur = conn.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def is_sqlite(conn: Any) -> bool:
    return type(conn).__module__.startswith("sqlite3")


def json_value(value: Any) -> Any:
    """A JSON column as Python (SQLite returns text, psycopg returns objects)."""
    return json.loads(value) if isinstance(value, str) else value


def iso_datetime(value: Any) -> str | None:
    """A stored timestamp rendered the way the API (Pydantic) renders aware UTC datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).isoformat().replace("+00:00", "Z"))


# --- the bare ASGI app ------------------------------------------------------------------------


def bare_app() -> Any:
    """uvicorn factory: a plain ASGI callable answering with the handler's JSON.

    ``ATELIER_BENCH_BARE`` is one ``module:function`` (served at ``/bare``) or a JSON object
    ``{name: "module:function"}`` (served at ``/bare/<name>``, any method). No framework, ORM,
    auth or validation. The handler runs in a worker thread, each thread with its own raw
    DB-API connection; ``ATELIER_BENCH_FLOOR_THREADS`` caps the threads (default: anyio's 40,
    like FastAPI's sync endpoints; 1 is the floor's best model on SQLite). On SQLite the
    handlers named in ``ATELIER_BENCH_FLOOR_INLINE`` (a JSON list) run on the event loop."""
    import threading

    import anyio
    import anyio.to_thread

    spec = os.environ[ENV_KEY_BARE]
    routes = json.loads(spec) if spec.startswith("{") else {"": spec}
    handlers: dict[str, BareHandler] = {}
    for name, target in routes.items():
        module_name, _, attr = target.partition(":")
        path = f"/bare/{name}" if name else "/bare"
        handlers[path] = getattr(importlib.import_module(module_name), attr)
    seed = os.environ[ENV_KEY_SEED]  # JSON, or "@path" of a JSON file (big id lists)
    ids = json.loads(Path(seed[1:]).read_text() if seed.startswith("@") else seed)
    url = os.environ["ATELIER_DATABASE_URL"]
    threads = os.environ.get("ATELIER_BENCH_FLOOR_THREADS")
    # Handlers of bounded reads, run on the event loop on SQLite (as the app runs them, see
    # ``platform.hotpath.bounded_read``): the floor's best model for them there.
    inline = (
        {f"/bare/{name}" for name in json.loads(os.environ.get(ENV_KEY_FLOOR_INLINE, "[]"))}
        if url.startswith("sqlite")
        else set()
    )
    limiter: list[Any] = []
    local = threading.local()

    def work(handler: BareHandler) -> bytes:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = dbapi_connect(url)
        return json.dumps(handler(conn, ids), separators=(",", ":")).encode()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if threads:
                        limiter.append(anyio.CapacityLimiter(int(threads)))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        handler = handlers.get(scope["path"])
        if handler is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        more = True
        while more:  # read (and drop) the request body
            message = await receive()
            more = message.get("more_body", False)
        if scope["path"] in inline:
            body = work(handler)
        else:
            body = await anyio.to_thread.run_sync(
                work, handler, limiter=limiter[0] if limiter else None
            )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


# --- servers and wrk --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def uvicorn_server(
    factory: str, env: dict[str, str], *, ready_path: str = "/health", workers: int = 1
) -> Iterator[str]:
    """Run ``uvicorn --factory <factory>`` on a free port; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    command += ["--log-level", "warning"]
    with served(command, env, f"http://127.0.0.1:{port}", ready_path) as (base, _pid):
        yield base


@contextlib.contextmanager
def served(
    command: list[str],
    env: dict[str, str],
    base: str,
    ready_path: str,
    *,
    output: Path | None = None,
    cwd: Path = ROOT,
) -> Iterator[tuple[str, int]]:
    """Start ``command``, wait until ``base + ready_path`` answers below 500; yields (base URL,
    pid); terminates it on exit. ``output``: a file for its stdout and stderr (else inherited)."""
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(output.open("wb")) if output is not None else None
        proc = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=sink, stderr=sink
        )
        stack.callback(_stop, proc)
        _wait_ready(proc, command, base, ready_path, output)
        yield base, proc.pid


def _wait_ready(
    proc: subprocess.Popen[bytes],
    command: list[str],
    base: str,
    ready_path: str,
    output: Path | None,
) -> None:
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            tail = output.read_text(errors="replace")[-2000:] if output is not None else ""
            raise RuntimeError(f"{command[:4]} exited with {proc.returncode}: {tail}")
        try:
            if httpx.get(base + ready_path, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{command[:4]} did not start")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class WrkResult:
    requests_per_sec: float
    latency_avg: str
    requests: int
    errors: int
    raw: str = field(repr=False)
    p50_ms: float = 0.0
    p99_ms: float = 0.0


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    duration: int = 10,
    connections: int = 16,
    threads: int = 2,
    script: str | None = None,
) -> WrkResult:
    """Drive ``url`` with wrk for ``duration`` seconds and parse its summary (with the latency
    distribution); ``script`` is a wrk Lua script (e.g. POST bodies)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        command += ["-s", script]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    latency = re.search(r"Latency\s+(\S+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    percentiles = {
        m.group(1): _ms(m.group(2), m.group(3))
        for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    }
    return WrkResult(
        requests_per_sec=float(rps.group(1)) if rps else 0.0,
        latency_avg=latency.group(1) if latency else "?",
        requests=int(total.group(1)) if total else 0,
        errors=errors,
        raw=out,
        p50_ms=percentiles.get("50", 0.0),
        p99_ms=percentiles.get("99", 0.0),
    )


def admin_token(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/auth/admin/token",
        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["token"])


# --- the comparison ---------------------------------------------------------------------------


@dataclass
class Bench:
    """One endpoint of the real app against a bare ASGI handler doing the same SQL."""

    name: str
    seed: Seed
    path: Callable[[dict[str, Any]], str]
    bare: str  # "module:function" of a BareHandler, e.g. "bench.bench_design_read:bare_read"
    headers: Callable[[dict[str, Any], str], dict[str, str]] = lambda ids, token: {
        "Authorization": f"Bearer {token}"
    }
    compare_bodies: Callable[[Any, Any], bool] = lambda app_body, bare_body: app_body == bare_body

    def run(self, argv: Sequence[str] | None = None) -> dict[str, float]:
        parser = argparse.ArgumentParser(description=f"bench: {self.name}")
        parser.add_argument("--database-url", default=os.environ.get("ATELIER_BENCH_DATABASE_URL"))
        parser.add_argument("--duration", type=int, default=10)
        parser.add_argument("--connections", type=int, default=16)
        parser.add_argument("--threads", type=int, default=2)
        args = parser.parse_args(argv)
        with tempfile.TemporaryDirectory() as tmp:
            url = fresh_database(args.database_url, Path(tmp))
            ids = seed_database(url, self.seed)
            env = {
                "ATELIER_DATABASE_URL": url,
                "ATELIER_EMBEDDED_WORKER": "false",
                "ATELIER_ENV": "development",
                "ATELIER_LOG_LEVEL": "WARNING",
                ENV_KEY_SEED: json.dumps(ids),
                ENV_KEY_BARE: self.bare,
            }
            wrk_args = {
                "duration": args.duration,
                "connections": args.connections,
                "threads": args.threads,
            }
            path = self.path(ids)
            with uvicorn_server("atelier.app:serve_app", env) as base:
                headers = self.headers(ids, admin_token(base))
                app_body = httpx.get(base + path, headers=headers, timeout=30)
                app_body.raise_for_status()
                run_wrk(base + path, headers=headers, duration=2, threads=1, connections=4)
                app_result = run_wrk(base + path, headers=headers, **wrk_args)
            with uvicorn_server("bench.common:bare_app", env, ready_path="/bare") as base:
                bare_body = httpx.get(base + "/bare", timeout=30).json()
                run_wrk(base + "/bare", duration=2, threads=1, connections=4)
                bare_result = run_wrk(base + "/bare", **wrk_args)
        same = self.compare_bodies(app_body.json(), bare_body)
        ratio = app_result.requests_per_sec / bare_result.requests_per_sec
        kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        print(f"\n{self.name}  ({kind}, {args.duration}s, {args.connections} connections)")
        print(f"  {'':30} {'req/s':>10} {'latency':>10} {'errors':>7}")
        rows = (("app (FastAPI + ORM + auth)", app_result), ("bare ASGI + raw SQL", bare_result))
        for label, result in rows:
            print(
                f"  {label:30} {result.requests_per_sec:>10.1f} "
                f"{result.latency_avg:>10} {result.errors:>7}"
            )
        print(f"  ratio app/bare = {ratio:.3f}  (same JSON body: {'yes' if same else 'NO'})")
        return {
            "app_rps": app_result.requests_per_sec,
            "bare_rps": bare_result.requests_per_sec,
            "ratio": ratio,
        }
