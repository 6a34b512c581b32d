"""Burst of concurrent writes against a real ``atelier serve`` process.

Starts ``atelier serve`` (migrations, bootstrap admin, embedded worker: what ships) on a fresh
database, seeds a dispatched run through the HTTP API, then fires, all released at once:

1. ``--notes`` concurrent ``POST /admin/production-runs/:id/notes`` on one run;
2. ``--completes`` concurrent partner ``POST /partners/production-runs/:id/complete`` on one
   run that is ready to complete (exactly one may win, the rest must be 409).

While each burst runs, two probes poll ``GET /health`` and ``GET /admin/production-runs/:id``
one request at a time. Printed per burst: requests, status counts, p50/p99/max latency and
wall time, and the probes' latencies; then the number of tracebacks in the server's output.

Run from the repo root (SQLite in a temp dir by default; ``--database-url`` for PostgreSQL —
that database is WIPED first)::

    .venv/bin/python -m bench.burst_writes
    .venv/bin/python -m bench.burst_writes --database-url postgresql+psycopg://.../bench_db

Bench scripts are not part of the test run. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, free_port
from bench.common import served as common_served

ADMIN_EMAIL = "burst@atelier.local"
ADMIN_PASSWORD = "burst-password-123"
REQUEST_TIMEOUT = 120.0


# --- the served process ----------------------------------------------------------------------


def wipe_postgres(url: str) -> None:
    """Drop every table (and the migration record) so ``atelier serve`` migrates from zero."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@contextmanager
def served(url: str, workdir: Path, extra_env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """``atelier serve`` on a free port; yields (base URL, path of its combined output)."""
    port = free_port()
    log_path = workdir / "serve.log"
    env = {
        "PYTHONPATH": str(ROOT / "src"),
        "ATELIER_ENV": "development",
        "ATELIER_DATABASE_URL": url,
        "ATELIER_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "ATELIER_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ATELIER_STORAGE_DIR": str(workdir / "media"),
        "ATELIER_LOG_LEVEL": "INFO",
        **extra_env,
    }
    command = [sys.executable, "-m", "atelier.cli", "serve", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with common_served(command, env, base, "/health", output=log_path, cwd=workdir):
        yield base, log_path


# --- seeding through the API -----------------------------------------------------------------


@dataclass
class Seeded:
    admin_headers: dict[str, str]
    partner_headers: dict[str, str]
    notes_run: str
    complete_run: str
    output_item: str
    fabric_item: str


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def seed(base: str) -> Seeded:
    """Two dispatched runs for one partner; the second walked to ``finished`` with a log."""
    # The test factories speak to any httpx client; reuse them so setup takes the real paths.
    from tests.factories import catalog, inventory
    from tests.production.lifecycle_helpers import advance, dispatched

    token = _ok(
        httpx.post(
            base + "/auth/admin/token",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            timeout=30,
        )
    )["token"]
    admin_headers = {"Authorization": f"Bearer {token}"}
    # ``Any``: the factories are annotated for the test client, a subclass of httpx.Client.
    admin: Any
    owner: Any
    anonymous: Any
    with httpx.Client(base_url=base, headers=admin_headers, timeout=30) as admin:
        fabric = inventory.create_item(admin, unit_of_measure="m")
        output = inventory.create_item(admin, unit_of_measure="pcs")
        design = catalog.create_design(admin, output_inventory_item_id=output["id"])
        catalog.set_bom(admin, design["id"], {fabric["id"]: 1.2})
        with httpx.Client(base_url=base, timeout=30) as anonymous:
            partner = catalog.create_partner(admin, anonymous)
        workshop = inventory.create_location(admin, name="Workshop", partner_id=partner.id)
        inventory.set_level(admin, fabric["id"], workshop["id"], 100.0)
        notes_run = dispatched(admin, admin, partner=partner, design=design)
        complete_run = dispatched(admin, admin, partner=partner, design=design)
    with httpx.Client(base_url=base, headers=partner.headers, timeout=30) as owner:
        advance(owner, complete_run, to="finish")
        body = {"inventory_item_id": fabric["id"], "quantity": 7}
        _ok(owner.post(complete_run.url("/consumption-logs"), json=body), 201)
    return Seeded(
        admin_headers, partner.headers, notes_run.id, complete_run.id, output["id"], fabric["id"]
    )


# --- the burst -------------------------------------------------------------------------------


@dataclass
class Probe:
    """Polls one URL, one request at a time, until stopped."""

    url: str
    headers: dict[str, str]
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(REQUEST_TIMEOUT + 5)

    def _loop(self) -> None:
        with httpx.Client(headers=self.headers, timeout=REQUEST_TIMEOUT) as client:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    status = str(client.get(self.url).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.latencies.append(time.perf_counter() - t0)
                self.statuses[status] += 1
                self._stop.wait(0.05)


@dataclass
class BurstResult:
    name: str
    statuses: Counter[str]
    latencies: list[float]
    wall: float
    probes: dict[str, Probe]


def burst(
    name: str, n: int, call: Callable[[httpx.Client], httpx.Response], probes: dict[str, Probe]
) -> BurstResult:
    """``n`` threads, each with its own keep-alive connection, released together."""
    barrier = threading.Barrier(n + 1)
    statuses: list[str] = [""] * n
    latencies: list[float] = [0.0] * n

    def worker(i: int) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            barrier.wait()
            t0 = time.perf_counter()
            try:
                statuses[i] = str(call(client).status_code)
            except httpx.HTTPError as exc:
                statuses[i] = type(exc).__name__
            latencies[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for probe in probes.values():
        probe.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(REQUEST_TIMEOUT + 10)
    wall = time.perf_counter() - t0
    for probe in probes.values():
        probe.stop()
    return BurstResult(name, Counter(statuses), latencies, wall, probes)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(result: BurstResult) -> dict[str, Any]:
    lat = result.latencies
    out: dict[str, Any] = {
        "burst": result.name,
        "requests": len(lat),
        "statuses": dict(sorted(result.statuses.items())),
        "p50_s": round(pct(lat, 0.5), 3),
        "p99_s": round(pct(lat, 0.99), 3),
        "max_s": round(max(lat), 3),
        "wall_s": round(result.wall, 3),
    }
    for label, probe in result.probes.items():
        out[label] = {
            "polls": len(probe.latencies),
            "statuses": dict(sorted(probe.statuses.items())),
            "p50_s": round(pct(probe.latencies, 0.5), 3),
            "max_s": round(max(probe.latencies, default=float("nan")), 3),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="burst of concurrent writes on atelier serve")
    parser.add_argument("--database-url", default=os.environ.get("ATELIER_BENCH_DATABASE_URL"))
    parser.add_argument("--notes", type=int, default=200, help="concurrent note POSTs")
    parser.add_argument("--completes", type=int, default=100, help="concurrent completes")
    parser.add_argument("--pool-size", type=int, default=None, help="ATELIER_DB_POOL_SIZE")
    parser.add_argument("--json", action="store_true", help="print one JSON object per burst")
    args = parser.parse_args(argv)
    if not 1 <= args.notes <= 1000 or not 1 <= args.completes <= 1000:
        raise SystemExit("bursts are bounded to 1..1000 requests")
    extra_env = {} if args.pool_size is None else {"ATELIER_DB_POOL_SIZE": str(args.pool_size)}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = args.database_url or f"sqlite:///{workdir / 'burst.db'}"
        if url.startswith("postgresql"):
            wipe_postgres(url)
        kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        with served(url, workdir, extra_env) as (base, log_path):
            s = seed(base)
            results = []

            def probes(run_id: str) -> dict[str, Probe]:
                return {
                    "health": Probe(base + "/health", {}),
                    "run_read": Probe(f"{base}/admin/production-runs/{run_id}", s.admin_headers),
                }

            notes_url = f"{base}/admin/production-runs/{s.notes_run}/notes"

            def note(client: httpx.Client) -> httpx.Response:
                return client.post(notes_url, json={"note": "burst"}, headers=s.admin_headers)

            results.append(burst(f"{args.notes} notes", args.notes, note, probes(s.notes_run)))

            complete_url = f"{base}/partners/production-runs/{s.complete_run}/complete"

            def complete(client: httpx.Client) -> httpx.Response:
                body = {"produced_quantity": 10}
                return client.post(complete_url, json=body, headers=s.partner_headers)

            name = f"{args.completes} completes (one run)"
            results.append(burst(name, args.completes, complete, probes(s.complete_run)))
            with httpx.Client(base_url=base, headers=s.admin_headers, timeout=30) as admin:
                item = _ok(admin.get(f"/admin/inventory-items/{s.output_item}"))
                levels = item["inventory_item"]["levels"]
                finished = sum(float(level["stocked_quantity"]) for level in levels)
        server_output = log_path.read_text(errors="replace")
    tracebacks = server_output.count("Traceback (most recent call last)")
    for result in results:
        data = report(result)
        data["database"] = kind
        if args.json:
            print(json.dumps(data))
            continue
        print(f"\n{data['burst']}  ({kind})")
        print(f"  requests {data['requests']}  statuses {data['statuses']}")
        print(
            f"  latency p50 {data['p50_s']}s  p99 {data['p99_s']}s  max {data['max_s']}s  "
            f"wall {data['wall_s']}s"
        )
        for label in ("health", "run_read"):
            probe = data[label]
            print(
                f"  GET {label:9} during burst: {probe['polls']} polls {probe['statuses']} "
                f"p50 {probe['p50_s']}s max {probe['max_s']}s"
            )
    print(f"\nfinished goods after the completes: {finished:g} (expected 10)")
    print(f"tracebacks in the server output: {tracebacks}")


if __name__ == "__main__":
    main()
