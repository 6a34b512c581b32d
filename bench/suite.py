"""``bench/run``: every scenario of issue 14 against its bare-ASGI floor, in one run.

Builds (or reuses) the dataset, measures the app's startup to its first 200, then drives the
app (``atelier serve``; HTTP only unless ``--worker``) and the floor (a bare ASGI app doing
the same SQL through the raw driver, one DB thread, the same worker count) with wrk, and prints
one line per scenario::

    SCENARIO: app N req/s, floor M req/s, ratio R, p99 L ms

then one-connection latency per read, startup, RSS idle and after load, and the time to turn
10k order lines into runs. The database was never analysed by hand (see ``bench.dataset``).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import dataset, floors
from bench.bench_admin_runs import scenario_query
from bench.bench_partner_run_detail import partner_headers
from bench.common import (
    ENV_KEY_BARE,
    ENV_KEY_FLOOR_INLINE,
    ENV_KEY_SEED,
    ROOT,
    WrkResult,
    admin_token,
    free_port,
    run_wrk,
    served,
    uvicorn_server,
)


def compile_app_sources() -> None:
    """Byte-compile the app's modules before its start-up is timed, as an installed package has
    them (pip compiles at install; a checkout writes ``__pycache__`` on its first run). An
    interpreter told not to write bytecode (``PYTHONDONTWRITEBYTECODE``) would otherwise compile
    all of them from source at every start: ~20 % of start-up's instructions."""
    compileall.compile_dir(ROOT / "src" / "atelier", quiet=1)


@dataclass(frozen=True)
class Read:
    name: str
    path: Callable[[dict[str, Any]], str]
    caller: str  # "admin" or "partner"
    floor: str  # module:function of the bare handler
    # A bounded read (``@bounded_read`` in the app): on SQLite both sides run it on the loop.
    bounded: bool = False


def _list_path(kind: str) -> Callable[[dict[str, Any]], str]:
    def path(ids: dict[str, Any]) -> str:
        query = scenario_query(kind, {**ids, "partner_id": ids["busy_partner_id"]})
        return "/admin/production-runs" + (
            "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
        )

    return path


READS = [
    Read(
        "partner run detail",
        lambda ids: f"/partners/production-runs/{ids['run_id']}",
        "partner",
        "bench.bench_partner_run_detail:bare_detail",
        bounded=True,
    ),
    Read(
        "design detail",
        lambda ids: f"/admin/designs/{ids['design_id']}",
        "admin",
        "bench.bench_design_read:bare_read",
        bounded=True,
    ),
    Read("admin list default", _list_path("default"), "admin", "bench.floors:list_default"),
    Read("admin list filtered", _list_path("filters"), "admin", "bench.floors:list_filtered"),
    Read("admin list q", _list_path("search"), "admin", "bench.floors:list_q"),
    Read(
        "partner runs list",
        lambda ids: "/partners/production-runs",
        "partner",
        "bench.floors:partner_runs",
    ),
]
WRITES = ("partner milestone", "order webhook")

# accept → start → progress per run, each step sent once the previous one answered: the
# response names the run and what happened (wrk runs request/response in one Lua state).
_MILESTONE_SCRIPT = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local fresh, ready = 0, {}
local headers = {["Authorization"] = "%(auth)s", ["Content-Type"] = "application/json"}
request = function()
  local item = table.remove(ready, 1)
  if item == nil then
    fresh = fresh + 1
    item = {ids[((fresh - 1) %% #ids) + 1], "accept"}
  end
  local body = nil
  if item[2] == "progress" then body = '{"produced_quantity": 5}' end
  return wrk.format("POST", "/partners/production-runs/" .. item[1] .. "/" .. item[2],
    headers, body)
end
response = function(status, headers, body)
  if status ~= 200 then return end
  local id = body:match('"id":"(prod_run_[^"]+)"')
  if body:find("Production run accepted", 1, true) then
    ready[#ready + 1] = {id, "start"}
  elseif body:find("Production run started", 1, true) then
    ready[#ready + 1] = {id, "progress"}
  end
end
"""

_WEBHOOK_SCRIPT = """
local bodies, signatures = {}, {}
for line in io.lines("%(file)s") do
  local tab = line:find("\\t")
  signatures[#signatures + 1] = line:sub(1, tab - 1)
  bodies[#bodies + 1] = line:sub(tab + 1)
end
local i = 0
request = function()
  i = i + 1
  local n = ((i - 1) %% #bodies) + 1
  return wrk.format("POST", "/webhooks/orders", {
    ["Content-Type"] = "application/json", ["X-Atelier-Signature"] = signatures[n]
  }, bodies[n])
end
"""

_POST_SCRIPT = 'wrk.method = "POST"\n'


class Suite:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.results: dict[str, dict[str, WrkResult]] = {}
        self.notes: list[str] = []

    def wanted(self, name: str) -> bool:
        pattern = self.args.scenario
        return not pattern or any(p.strip() in name for p in pattern.split(","))

    def wrk(self, url: str, *, threads: int = 2, warm: bool = True, **kw: Any) -> WrkResult:
        """A wrk measurement at the suite's connections; writes are not warmed (each request
        consumes its run or order)."""
        if warm:
            run_wrk(url, duration=1, threads=1, connections=4, **kw)
        return run_wrk(
            url,
            duration=self.args.duration,
            connections=self.args.connections,
            threads=threads,
            **kw,
        )

    def script(self, name: str, text: str) -> str:
        path = self.workdir / (name if "." in name else f"{name}.lua")
        path.write_text(text)
        return str(path)

    # --- the app ------------------------------------------------------------------------------

    def app_env(self, url: str) -> dict[str, str]:
        return {
            "ATELIER_DATABASE_URL": url,
            "ATELIER_ENV": "development",
            "ATELIER_LOG_LEVEL": "WARNING",
            "ATELIER_EMBEDDED_WORKER": "true" if self.args.worker else "false",
            "ATELIER_DEMO_DATA": "false",
            "ATELIER_WEBHOOK_SECRET": floors.WEBHOOK_SECRET,
            "ATELIER_STORAGE_DIR": str(self.workdir / "media"),
        }

    def run_app(self, url: str, ids: dict[str, Any]) -> None:
        compile_app_sources()
        port = free_port()
        command = [sys.executable, "-m", "atelier.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port)]
        if self.args.workers > 1:
            command += ["--workers", str(self.args.workers)]
        started = time.monotonic()
        with served(command, self.app_env(url), f"http://127.0.0.1:{port}", "/health") as (
            base,
            pid,
        ):
            self.notes.append(
                f"startup: first 200 after {time.monotonic() - started:.2f} s (bytecode compiled)"
            )
            idle = rss_mib(pid)
            admin = {"Authorization": f"Bearer {admin_token(base)}"}
            partner = partner_headers(ids)
            for read in READS:
                if not self.wanted(read.name):
                    continue
                headers = admin if read.caller == "admin" else partner
                url_ = base + read.path(ids)
                response = httpx.get(url_, headers=headers, timeout=60)
                response.raise_for_status()
                self.results.setdefault(read.name, {})["app"] = self.wrk(url_, headers=headers)
                self.results[read.name]["app1"] = run_wrk(
                    url_, headers=headers, duration=self.args.duration, threads=1, connections=1
                )
            if self.wanted("partner milestone"):
                self.results["partner milestone"] = {"app": self.app_milestones(base, ids)}
            if self.wanted("order webhook"):
                self.results["order webhook"] = {"app": self.app_webhooks(base, ids)}
            loaded = rss_mib(pid)
        self.notes.append(
            f"RSS: idle {idle:.0f} MiB, after load {loaded:.0f} MiB "
            f"(largest process of {self.args.workers} worker(s))"
        )

    def app_milestones(self, base: str, ids: dict[str, Any]) -> WrkResult:
        pool = self.workdir / "pool.txt"
        pool.write_text("\n".join(ids["pool_app"]))
        writer = {"partner_id": ids["writer_partner_id"], "partner_user_id": ids["writer_user_id"]}
        token = partner_headers(writer)["Authorization"]
        lua = _MILESTONE_SCRIPT % {"ids": pool, "auth": token}
        return self.wrk(base + "/", script=self.script("milestones", lua), threads=1, warm=False)

    def app_webhooks(self, base: str, ids: dict[str, Any]) -> WrkResult:
        bodies = floors.webhook_bodies(ids, "app", ids["webhook_bodies"])
        path = self.workdir / "webhooks.txt"
        path.write_text("\n".join(f"{sig}\t{body.decode()}" for sig, body in bodies))
        lua = _WEBHOOK_SCRIPT % {"file": path}
        return self.wrk(base + "/", script=self.script("app_webhook", lua), threads=1, warm=False)

    # --- the floor ----------------------------------------------------------------------------

    def run_floor(self, url: str, ids: dict[str, Any]) -> None:
        routes = {f"r{i}": read.floor for i, read in enumerate(READS)}
        routes["milestone"] = "bench.floors:milestone"
        routes["webhook"] = "bench.floors:webhook"
        env = {
            "ATELIER_DATABASE_URL": url,
            ENV_KEY_SEED: "@" + self.script("ids.json", json.dumps(ids)),
            ENV_KEY_BARE: json.dumps(routes),
            # SQLite: the app's own default (2): the lists' SQL runs on both cores (SQLite lets
            # go of the GIL), the bounded reads run on the loop anyway. PostgreSQL: one thread.
            "ATELIER_BENCH_FLOOR_THREADS": "2" if url.startswith("sqlite") else "1",
            ENV_KEY_FLOOR_INLINE: json.dumps(
                [f"r{i}" for i, read in enumerate(READS) if read.bounded]
            ),
        }
        with uvicorn_server(
            "bench.common:bare_app", env, ready_path="/bare/r0", workers=self.args.workers
        ) as base:
            for i, read in enumerate(READS):
                if self.wanted(read.name):
                    self.results[read.name]["floor"] = self.wrk(f"{base}/bare/r{i}")
            post = self.script("floor_post", _POST_SCRIPT)
            if self.wanted("partner milestone"):
                self.results["partner milestone"]["floor"] = self.wrk(
                    f"{base}/bare/milestone", script=post, threads=1, warm=False
                )
            if self.wanted("order webhook"):
                self.results["order webhook"]["floor"] = self.wrk(
                    f"{base}/bare/webhook", script=post, threads=1, warm=False
                )

    # --- report -------------------------------------------------------------------------------

    def report(self) -> None:
        print()
        for name in [r.name for r in READS] + list(WRITES):
            result = self.results.get(name)
            if not result or "app" not in result or "floor" not in result:
                continue
            app, floor = result["app"], result["floor"]
            ratio = app.requests_per_sec / floor.requests_per_sec if floor.requests_per_sec else 0
            # Non-2xx answers and socket errors (timeouts), per side.
            errors = (
                f"  [errors: app {app.errors}, floor {floor.errors}]"
                if app.errors or floor.errors
                else ""
            )
            print(
                f"{name}: app {app.requests_per_sec:.0f} req/s, floor "
                f"{floor.requests_per_sec:.0f} req/s, ratio {ratio:.2f}, p99 {app.p99_ms:.1f} ms"
                + errors
            )
        for name, result in self.results.items():
            if "app1" in result:
                one, many = result["app1"], result["app"]
                spread = many.p99_ms / many.p50_ms if many.p50_ms else 0
                print(
                    f"{name} (1 connection): app {one.requests_per_sec:.0f} req/s, "
                    f"p50 {one.p50_ms:.1f} ms, p99 {one.p99_ms:.1f} ms; "
                    f"at {self.args.connections} connections p99/p50 {spread:.1f}"
                )
        for note in self.notes:
            print(note)


def rss_mib(pid: int) -> float:
    """The largest resident set among ``pid`` and its children (uvicorn's workers)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(entry.name))
    sizes = []
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(sizes, default=0.0)


def order_lines_to_runs(url: str, ids: dict[str, Any], lines: int = 10_000) -> str:
    """Orders of 100 lines (products with designs) placed, then delivered by the outbox
    dispatcher until every line has its run. Later reactions to the new runs (flows,
    notifications) are not waited for; their events are dropped so the served app starts
    from an empty outbox."""
    from sqlalchemy import delete, func, select

    from atelier.app import load_subscribers
    from atelier.orders import service
    from atelier.platform.actors import Actor, ActorType, Channel
    from atelier.platform.db import Database
    from atelier.platform.dispatcher import OutboxDispatcher
    from atelier.platform.models import OutboxEvent
    from atelier.production.models import ProductionRun

    load_subscribers()
    db = Database(url)
    actor = Actor(ActorType.SYSTEM, None, Channel.API, "bench")
    products = ids["product_ids"]
    counted = select(func.count()).where(ProductionRun.order_id.is_not(None))
    try:
        started = time.monotonic()
        for order in range(lines // 100):
            with db.session() as session:
                service.create_order(
                    session,
                    lines=[
                        service.LineInput(products[(order + i) % len(products)], None, 1)
                        for i in range(100)
                    ],
                    actor=actor,
                    external_id=f"bench-lines-{order}",
                    source="bench",
                )
        placed = time.monotonic() - started
        dispatcher = OutboxDispatcher(db, worker_id="bench")
        created = 0
        while created < lines and time.monotonic() - started < 600:
            dispatcher.run_once()
            with db.session(write=False) as session:
                created = session.scalar(counted) or 0
        total = time.monotonic() - started
        with db.session() as session:
            session.execute(delete(OutboxEvent).where(OutboxEvent.delivered_at.is_(None)))
    finally:
        db.dispose()
    return (
        f"{lines // 1000}k order lines → runs: {total:.1f} s ({placed:.1f} s placing "
        f"{lines // 100} orders, then delivery; {created} runs)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("ATELIER_BENCH_DATABASE_URL"),
        help="PostgreSQL URL to use (its public schema is dropped and rebuilt); default: a "
        "SQLite file copied from the cache",
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--scenario", help="run only scenarios whose name contains this (comma-separated)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="atelier serve --workers N (and the floor's uvicorn workers)",
    )
    parser.add_argument("--small", action="store_true", help="10k runs / 100k tasks")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="serve with the embedded worker and scheduler, as deployed (its start-up "
        "housekeeping refreshes planner statistics; it reacts to the writes' events during "
        "the run). Default: HTTP only, like the floor",
    )
    args = parser.parse_args(argv)
    size = dataset.SMALL if args.small else dataset.FULL
    with tempfile.TemporaryDirectory(prefix="atelier-bench-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        url, ids = dataset.prepare(args.database_url, size, workdir)
        kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        ids["webhook_bodies"] = 4_000 * args.duration
        print(
            f"dataset: {size.runs} runs, {size.runs * size.tasks_per_run} tasks ({kind}), "
            f"ready in {time.monotonic() - started:.1f} s; {args.workers} worker(s), "
            f"embedded worker {'on' if args.worker else 'off'}, "
            f"{args.duration} s per measurement, {args.connections} connections",
            flush=True,
        )
        suite = Suite(args, workdir)
        if suite.wanted("order lines"):
            suite.notes.append(order_lines_to_runs(url, ids))
            print(suite.notes[-1], flush=True)
        suite.run_app(url, ids)
        suite.run_floor(url, ids)
        suite.report()


if __name__ == "__main__":
    main()
