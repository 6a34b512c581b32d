"""Real ``atelier`` processes for the served-process suite.

``Launcher`` starts ``atelier serve`` and ``atelier worker`` as subprocesses
(``sys.executable -m atelier.cli``, with this checkout's ``src`` first on ``PYTHONPATH``) against
one database, with the production settings (``ATELIER_ENV=production``, INFO logging, the text
formatter), each writing stdout and stderr to its own log file. The database is a fresh SQLite
file, or — when ``ATELIER_TEST_DATABASE_URL`` is set — a PostgreSQL database named after
that URL's database plus a suffix (``<db>_served_<suffix>``, emptied before each test and left
behind after it), so the served suite never touches the in-process suite's tables.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
PG_URL = os.environ.get("ATELIER_TEST_DATABASE_URL")

SECRET_KEY = "served-suite-secret-key-0123456789abcdef-0123456789"
WEBHOOK_SECRET = "served-suite-webhook-secret"
ADMIN_EMAIL = "ops@served.atelier.test"
ADMIN_PASSWORD = "served suite admin password"
PARTNER_PASSWORD = "served-partner-password"

# How long a process may take to answer /health (imports + migrations on a loaded 2-core box).
START_TIMEOUT = 120.0

TRACEBACK = "Traceback (most recent call last)"
# Our formatter: "<date> <time> ERROR <logger>: ..."; uvicorn's own: "ERROR:    ...".
_ERROR_LINE = re.compile(r"^(?:\S+ \S+ (?:ERROR|CRITICAL) |(?:ERROR|CRITICAL):)")
# uvicorn's access log: '127.0.0.1:5000 - "POST /x HTTP/1.1" 500 Internal Server Error'.
_ACCESS_5XX = re.compile(r'"[A-Z]+ \S+ HTTP/[0-9.]+" 5\d\d\b')


# A new log record: our formatter's timestamp, or uvicorn's "LEVEL:" prefix.
_RECORD_START = re.compile(r"^(?:\d{4}-\d\d-\d\d \d\d:|[A-Z]+: )")


def find_problems(text: str, *, tolerate: str | None = None) -> list[str]:
    """Tracebacks, ERROR/CRITICAL lines and 5xx answers in a process's output."""
    lines = text.splitlines()
    if tolerate is not None:
        records: list[list[str]] = []
        for line in lines:
            if not records or _RECORD_START.match(line):
                records.append([])
            records[-1].append(line)
        pattern = re.compile(tolerate)
        lines = [x for r in records if not pattern.search("\n".join(r)) for x in r]
    found: list[str] = []
    for index, line in enumerate(lines):
        if TRACEBACK in line:
            found.append("\n".join(lines[max(0, index - 2) : index + 25]))
        elif _ERROR_LINE.match(line) or _ACCESS_5XX.search(line):
            found.append(line)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- databases ---------------------------------------------------------------------------------


def _pg_admin_url(url: str) -> str:
    return (
        make_url(url)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )


def create_pg_database(suffix: str) -> str:
    """An empty PostgreSQL database ``<test db>_served_<suffix>``; returns its URL.

    Created once, then emptied (its ``public`` schema dropped and recreated) for every test:
    much faster than DROP/CREATE DATABASE, which wait for a checkpoint on a busy server.
    """
    import psycopg

    assert PG_URL, "ATELIER_TEST_DATABASE_URL is not set"
    base = make_url(PG_URL)
    name = f"{base.database}_served_{suffix}"
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    with psycopg.connect(_pg_admin_url(PG_URL), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url.render_as_string(hide_password=False)


def fresh_database_url(tmp_path: Path, suffix: str) -> str:
    """An empty database (no schema yet): PostgreSQL when configured, else a SQLite file."""
    if PG_URL:
        return create_pg_database(suffix)
    return f"sqlite:///{tmp_path / f'served-{suffix}.db'}"


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Proc:
    """One ``atelier`` subprocess; every start writes a new numbered log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    cwd: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        assert self.port is not None, f"{self.name} serves no HTTP"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        assert self.popen is None or self.popen.poll() is not None, f"{self.name} is running"
        log_path = self.log_dir / f"{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as out:
            self.popen = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
                [sys.executable, "-m", "atelier.cli", *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(30)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode

    def output(self, *, last_only: bool = False) -> str:
        paths = self.logs[-1:] if last_only else self.logs
        parts = []
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    def problems(self, *, last_only: bool = False, tolerate: str | None = None) -> list[str]:
        """Tracebacks, ERROR/CRITICAL lines and 5xx answers in this process's output.

        ``tolerate``: a regex; log records (a line and its traceback) matching it are ignored.
        """
        return find_problems(self.output(last_only=last_only), tolerate=tolerate)

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if not self.alive:
                raise AssertionError(
                    f"{self.name} exited with {self.popen and self.popen.returncode} before it "
                    f"answered /health:\n{self.output(last_only=True)[-6000:]}"
                )
            try:
                response = httpx.get(f"{self.base_url}/health", timeout=5)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise AssertionError(
            f"{self.name} did not answer /health within {timeout:.0f} s ({last}):\n"
            f"{self.output(last_only=True)[-6000:]}"
        )

    def wait_output(self, needle: str, timeout: float = START_TIMEOUT) -> None:
        """Wait until the current log contains ``needle`` (a worker's start-up line)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output(last_only=True):
                return
            if not self.alive:
                break
            time.sleep(0.2)
        raise AssertionError(
            f"{self.name} never printed {needle!r} (alive: {self.alive}):\n"
            f"{self.output(last_only=True)[-6000:]}"
        )


class Launcher:
    """Starts ``atelier`` processes on one database and cleans them all up."""

    def __init__(self, tmp_path: Path, database_url: str, **env: str) -> None:
        self.database_url = database_url
        self.dir = tmp_path
        self.procs: list[Proc] = []
        (tmp_path / "media").mkdir(exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
        path = os.pathsep.join(p for p in (str(SRC), base.get("PYTHONPATH", "")) if p)
        self.env: dict[str, str] = {
            **base,
            "PYTHONPATH": path,
            "PYTHONUNBUFFERED": "1",
            "ATELIER_ENV": "production",
            "ATELIER_DATABASE_URL": database_url,
            "ATELIER_SECRET_KEY": SECRET_KEY,
            "ATELIER_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ATELIER_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "ATELIER_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ATELIER_LOG_LEVEL": "INFO",
            "ATELIER_LOG_FORMAT": "text",
            "ATELIER_STORAGE_DIR": str(tmp_path / "media"),
            "ATELIER_WORKER_POLL_INTERVAL": "0.5",
            "ATELIER_DEMO_DATA": "false",
            **env,
        }

    def _proc(self, name: str, args: list[str], port: int | None, env: dict[str, str]) -> Proc:
        proc = Proc(
            name=name,
            args=args,
            env={**self.env, **env},
            log_dir=self.dir,
            cwd=self.dir,
            port=port,
        )
        self.procs.append(proc)
        return proc

    def serve(self, name: str = "api", *, embedded_worker: bool = True, **env: str) -> Proc:
        """An ``atelier serve`` process (not started yet)."""
        port = free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-demo"]
        public = {"ATELIER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
        worker = {"ATELIER_EMBEDDED_WORKER": "true" if embedded_worker else "false"}
        return self._proc(name, args, port, {**public, **worker, **env})

    def worker(self, name: str = "worker", **env: str) -> Proc:
        """An ``atelier worker`` process (not started yet)."""
        return self._proc(name, ["worker"], None, env)

    def migrate(self) -> None:
        """``atelier migrate`` to completion."""
        proc = self._proc(f"migrate-{len(self.procs)}", ["migrate"], None, {}).start()
        assert proc.popen is not None
        code = proc.popen.wait(START_TIMEOUT)
        assert code == 0, proc.output()

    def close(self) -> None:
        for proc in self.procs:
            proc.stop(timeout=20)

    def report(self) -> str:
        """The tail of every process's output, for a failing test's message."""
        return "\n".join(f"===== {p.name} =====\n{p.output()[-4000:]}" for p in self.procs)

    def problems(self, procs: Iterable[Proc] | None = None) -> list[str]:
        return [f"{p.name}: {x}" for p in (procs or self.procs) for x in p.problems()]


# --- HTTP helpers ------------------------------------------------------------------------------


def client(proc: Proc, token: str | None = None) -> httpx.Client:
    """A keep-alive client for ``proc`` (with a bearer token when given)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=proc.base_url, headers=headers, timeout=60.0)


def admin_token(http: httpx.Client) -> str:
    response = http.post(
        "/auth/admin/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def partner_token(http: httpx.Client, email: str, password: str = PARTNER_PASSWORD) -> str:
    response = http.post("/auth/partner/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def signed_order(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of a generic order webhook signed with the webhook secret."""
    raw = json.dumps(body).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "X-Atelier-Signature": f"sha256={digest}"}


def ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200,)), (
        f"{response.request.method} {response.request.url} → {response.status_code}: "
        f"{response.text[:2000]}"
    )
    body: dict[str, Any] = response.json()
    return body


def wait_for(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.25, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


# --- bursts ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request of a burst: its HTTP status, or the transport error when none came back."""

    key: str
    status: int | None = None
    body: dict[str, Any] | None = None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Job = tuple[str, Callable[[httpx.Client], httpx.Response]]


def burst(
    http: httpx.Client,
    jobs: list[Job],
    *,
    concurrency: int,
    after: int | None = None,
    then: Callable[[], None] | None = None,
) -> dict[str, Outcome]:
    """Run ``jobs`` on ``concurrency`` threads; call ``then`` once ``after`` have answered."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()
    answered = 0
    outcomes: dict[str, Outcome] = {}

    def _one(job: Job) -> None:
        nonlocal answered
        key, send = job
        outcome = Outcome(key)
        try:
            response = send(http)
            outcome.status = response.status_code
            with contextlib.suppress(ValueError):
                outcome.body = response.json()
        except httpx.HTTPError as exc:
            outcome.error = repr(exc)
        fire = False
        with lock:
            outcomes[key] = outcome
            if outcome.status is not None:
                answered += 1
                fire = answered == after
        if fire and then is not None:
            then()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(_one, jobs))
    return outcomes
