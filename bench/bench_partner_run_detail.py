"""GET /partners/production-runs/:id on a big database, and what waiting runs cost in memory.

1. Seeds 100k runs and 1M tasks (bulk executemany batches, not the API); one partner's run has
   20 tasks (some with subtasks and comments) and a parent with siblings.
2. Drives the real app (partner bearer token) with wrk, then a bare ASGI app doing the same
   queries through the raw DB-API driver (the floor), and prints both.
3. Prints the server's RSS with 10k runs waiting at gates: before and after the rows are
   inserted (same process), and a fresh process whose gate sweeper has flagged the 5k overdue
   ones. Waiting runs are rows, not threads or timers.

.venv/bin/python -m bench.bench_partner_run_detail [--database-url URL] [--duration 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bench.common import (
    ENV_KEY_BARE,
    ENV_KEY_SEED,
    dbapi_connect,
    free_port,
    fresh_database,
    iso_datetime,
    json_value,
    run_wrk,
    seed_database,
    served,
    sql_rows,
)

RUNS = 100_000
TASKS = 1_000_000
BENCH_TASKS = 20
WAITING = 10_000
BATCH = 20_000
PARTNERS = 200

RUN_JSON = {
    "depends_on_run_ids",
    "snapshot",
    "dispatch_template_names",
    "dispatch_template_ids",
    "dispatched_template_ids",
    "reminder_counts",
    "metadata",
}
TASK_JSON = {"metadata"}


def _ids(prefix: str, n: int) -> list[str]:
    from atelier.platform.ids import new_id

    return [new_id(prefix) for _ in range(n)]


def _bulk(session: Session, model: Any, rows: Iterator[dict[str, Any]]) -> int:
    """executemany in batches; returns the row count."""
    total = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            session.execute(insert(model.__table__), batch)
            total += len(batch)
            batch = []
    if batch:
        session.execute(insert(model.__table__), batch)
        total += len(batch)
    return total


def seed(session: Session) -> dict[str, Any]:
    """100k runs, 1M tasks; the bench partner's run has 20 tasks, a parent and two siblings."""
    from atelier.catalog.models import Design
    from atelier.partners.models import Partner, PartnerUser
    from atelier.production.models import ProductionRun
    from atelier.tasks.models import Task, TaskComment

    started = time.monotonic()
    now = datetime.now(UTC)
    design = Design(
        name="Indigo wrap dress",
        description="Hand-block printed cotton, wrap silhouette.",
        status="Commerce_Ready",
        specifications={"fabric": "cotton", "gsm": 120},
        colors=["indigo", "ecru"],
        sizes=["S", "M", "L"],
        media_files=[{"url": "https://cdn.example/indigo.jpg"}],
    )
    session.add(design)
    session.flush()
    partner_ids = _ids("partner", PARTNERS)
    _bulk(
        session,
        Partner,
        iter(
            {"id": pid, "name": f"Workshop {i}", "handle": f"workshop-{i}", "status": "active"}
            for i, pid in enumerate(partner_ids)
        ),
    )
    user = PartnerUser(partner_id=partner_ids[0], email="owner@workshop-0.test", first_name="A")
    session.add(user)
    session.flush()

    snapshot = {"name": design.name, "colors": design.colors, "sizes": design.sizes, "bom": []}
    parent_id, target_id, sib1, sib2 = _ids("prod_run", 4)
    special = [
        {"id": parent_id, "status": "in_progress", "partner_id": None, "quantity": 300},
        {
            "id": target_id,
            "status": "in_progress",
            "partner_id": partner_ids[0],
            "parent_run_id": parent_id,
            "depends_on_run_ids": [sib1],
            "sequence": 2,
        },
        {"id": sib1, "status": "completed", "partner_id": partner_ids[1], "sequence": 1},
        {"id": sib2, "status": "sent_to_partner", "partner_id": partner_ids[2], "sequence": 3},
    ]
    for row in special[2:]:
        row["parent_run_id"] = parent_id
    statuses = ["completed"] * 7 + ["cancelled", "approved", "pending_review"]
    run_ids = _ids("prod_run", RUNS - len(special))

    def runs() -> Iterator[dict[str, Any]]:
        base = {
            "run_type": "production",
            "design_id": design.id,
            "quantity": 100,
            "snapshot": snapshot,
            "dispatch_state": "completed",
            "created_at": now,
            "updated_at": now,
        }
        for row in special:
            yield {
                **base,
                "parent_run_id": None,
                "depends_on_run_ids": [],
                "sequence": None,
                **row,
            }
        for i, rid in enumerate(run_ids):
            yield {
                **base,
                "id": rid,
                "status": statuses[i % len(statuses)],
                "partner_id": partner_ids[i % PARTNERS],
                "parent_run_id": None,
                "depends_on_run_ids": [],
                "sequence": None,
            }

    _bulk(session, ProductionRun, runs())
    print(f"  seeded {RUNS} runs in {time.monotonic() - started:.1f}s", flush=True)

    # The bench run: 20 top-level tasks; two have three subtasks; five have a comment.
    bench_tasks = _ids("task", BENCH_TASKS)
    subtasks: list[dict[str, Any]] = []
    comments: list[dict[str, Any]] = []
    task_base = {
        "priority": "medium",
        "design_id": design.id,
        "is_redo": False,
        "created_at": now,
        "updated_at": now,
        "description": "Cut, stitch and finish as per the spec sheet.",
    }
    bench_rows = []
    for pos, tid in enumerate(bench_tasks):
        bench_rows.append(
            {
                **task_base,
                "id": tid,
                "title": f"Step {pos + 1}",
                "status": "completed" if pos < 8 else "pending",
                "production_run_id": target_id,
                "partner_id": partner_ids[0],
                "parent_task_id": None,
                "position": pos,
            }
        )
        if pos < 2:
            for sp in range(3):
                subtasks.append(
                    {
                        **task_base,
                        "id": _ids("task", 1)[0],
                        "title": f"Step {pos + 1}.{sp + 1}",
                        "status": "pending",
                        "production_run_id": target_id,
                        "partner_id": partner_ids[0],
                        "parent_task_id": tid,
                        "position": sp,
                    }
                )
        if pos % 4 == 0:
            comments.append(
                {
                    "id": _ids("tcom", 1)[0],
                    "task_id": tid,
                    "author_type": "partner",
                    "author_id": partner_ids[0],
                    "author_name": "Owner",
                    "body": "Fabric received, cutting tomorrow.",
                    "created_at": now,
                }
            )
    _bulk(session, Task, iter(bench_rows + subtasks))

    remaining = TASKS - len(bench_rows) - len(subtasks)
    per_run = remaining // len(run_ids)

    def tasks() -> Iterator[dict[str, Any]]:
        from atelier.platform.ids import new_id

        for i, rid in enumerate(run_ids):
            partner = partner_ids[i % PARTNERS]
            for pos in range(per_run):
                yield {
                    **task_base,
                    "id": new_id("task"),
                    "title": f"Step {pos + 1}",
                    "status": "completed",
                    "production_run_id": rid,
                    "partner_id": partner,
                    "parent_task_id": None,
                    "position": pos,
                }

    count = _bulk(session, Task, tasks())
    _bulk(session, TaskComment, iter(comments))
    print(
        f"  seeded {count + len(bench_rows) + len(subtasks)} tasks "
        f"in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return {
        "run_id": target_id,
        "partner_id": partner_ids[0],
        "partner_user_id": user.id,
        "design_id": design.id,
        "partner_ids": partner_ids,
    }


def seed_waiting(url: str, ids: dict[str, Any], n: int = WAITING) -> None:
    """``n`` runs sent to partners with gate deadlines; half of the deadlines have passed."""
    from atelier.platform.db import Database
    from atelier.production.models import ProductionRun

    db = Database(url)
    now = datetime.now(UTC)
    try:
        with db.session() as session:

            def rows() -> Iterator[dict[str, Any]]:
                for i, rid in enumerate(_ids("prod_run", n)):
                    sent = now - timedelta(days=30 if i % 2 else 1)
                    yield {
                        "id": rid,
                        "status": "sent_to_partner",
                        "run_type": "production",
                        "design_id": ids["design_id"],
                        "partner_id": ids["partner_ids"][i % PARTNERS],
                        "quantity": 50,
                        "snapshot": {},
                        "depends_on_run_ids": [],
                        "dispatch_state": "completed",
                        "dispatch_completed_at": sent,
                        "current_gate": "accept",
                        "gate_deadline_at": sent + timedelta(days=23),
                        "created_at": sent,
                        "updated_at": sent,
                    }

            _bulk(session, ProductionRun, rows())
    finally:
        db.dispose()


def analyze(url: str) -> None:
    """Planner statistics after the bulk load (what autovacuum would do a bit later)."""
    conn = dbapi_connect(url)
    try:
        conn.execute("ANALYZE")
        if url.startswith("sqlite"):
            conn.commit()
    finally:
        conn.close()


def release_sweeper_slot(url: str) -> None:
    """Forget the sweeper's claimed slot, so a fresh process sweeps at start instead of at the
    next quarter hour (a bench shortcut; in production each slot runs once)."""
    from sqlalchemy import delete

    from atelier.platform.db import Database
    from atelier.platform.models import ScheduledSlot
    from atelier.production.jobs import GATE_SWEEP_JOB

    db = Database(url)
    try:
        with db.session() as session:
            session.execute(delete(ScheduledSlot).where(ScheduledSlot.job == GATE_SWEEP_JOB))
    finally:
        db.dispose()


def overdue_count(url: str) -> int:
    from atelier.platform.db import Database
    from atelier.production.models import ProductionRun

    db = Database(url)
    try:
        with db.session(write=False) as session:
            stmt = select(func.count()).where(ProductionRun.overdue_gate.is_not(None))
            return int(session.scalar(stmt) or 0)
    finally:
        db.dispose()


# --- the floor: the same reads through the raw driver -------------------------------------------


def _row(row: dict[str, Any], json_cols: set[str]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key in json_cols:
            out[key] = json_value(value)
        elif key.endswith("_at") or key.endswith("_date"):
            out[key] = iso_datetime(value)
        else:
            out[key] = value
    return out


def bare_detail(conn: Any, ids: dict[str, Any]) -> dict[str, Any]:
    """What the endpoint reads: the caller (user + partner), run, design, tasks with subtasks
    and comments, parent + siblings, dependencies."""
    sql_rows(conn, "SELECT * FROM partner_users WHERE id = ?", [ids["partner_user_id"]])
    sql_rows(conn, "SELECT * FROM partners WHERE id = ?", [ids["partner_id"]])
    [run] = sql_rows(conn, "SELECT * FROM production_runs WHERE id = ?", [ids["run_id"]])
    [design] = sql_rows(conn, "SELECT * FROM designs WHERE id = ?", [run["design_id"]])
    # Like the app: every task of the run in one statement (subtasks found by their run).
    every = sql_rows(
        conn,
        "SELECT * FROM tasks WHERE production_run_id = ? ORDER BY position, created_at, id",
        [run["id"]],
    )
    tasks = [t for t in every if t["parent_task_id"] is None]
    subs = [t for t in every if t["parent_task_id"] is not None]
    task_ids = [t["id"] for t in tasks]
    marks = ", ".join("?" for _ in task_ids) or "NULL"
    comments = sql_rows(
        conn,
        f"SELECT * FROM task_comments WHERE task_id IN ({marks}) ORDER BY created_at",
        task_ids,
    )
    relatives = sql_rows(
        conn,
        "SELECT * FROM production_runs WHERE id = ? OR parent_run_id = ?"
        " ORDER BY sequence, created_at, id",
        [run["parent_run_id"], run["parent_run_id"]],
    )
    out_tasks = []
    for t in tasks:
        item = _row(t, TASK_JSON)
        item["subtasks"] = [_row(s, TASK_JSON) for s in subs if s["parent_task_id"] == t["id"]]
        item["comments"] = [
            {**_row(c, set()), "comment": c["body"]} for c in comments if c["task_id"] == t["id"]
        ]
        out_tasks.append(item)
    live = [t for t in tasks if t["status"] != "cancelled"]
    completed = sum(1 for t in live if t["status"] == "completed")
    by_id = {r["id"]: r for r in relatives}
    deps = json_value(run["depends_on_run_ids"]) or []
    body = _row(run, RUN_JSON)
    json_design = ("specifications", "colors", "sizes", "media_files")
    body["design"] = {k: design[k] for k in ("id", "name", "description", "status")}
    body["design"]["thumbnail_url"] = design["thumbnail_url"]
    body["design"].update({k: json_value(design[k]) for k in json_design})
    body["tasks"] = out_tasks
    body["progress"] = {
        "completed": completed,
        "total": len(live),
        "percent": round(100 * completed / len(live)) if live else 0,
    }
    parent = by_id.get(run["parent_run_id"])
    siblings = [
        r for r in relatives if r["parent_run_id"] == run["parent_run_id"] and r["id"] != run["id"]
    ]
    body["related"] = {
        "parent": {"id": parent["id"], "status": parent["status"]} if parent else None,
        "siblings": [{"id": r["id"], "status": r["status"]} for r in siblings],
        "dependents": [
            {"id": r["id"]} for r in siblings if run["id"] in (json_value(r["depends_on_run_ids"]))
        ],
        "waiting_on": [
            {"id": d, "status": by_id[d]["status"] if d in by_id else None}
            for d in deps
            if d not in by_id or by_id[d]["status"] != "completed"
        ],
    }
    return {"production_run": body}


def _shape(body: dict[str, Any]) -> Any:
    run = body["production_run"]
    return (
        run["id"],
        run["status"],
        run["design"]["name"],
        [(t["id"], [s["id"] for s in t["subtasks"]], len(t["comments"])) for t in run["tasks"]],
        run["progress"],
        run["related"]["parent"],
        sorted(s["id"] for s in run["related"]["siblings"]),
    )


# --- servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def server(factory: str, env: dict[str, str], ready: str) -> Iterator[tuple[str, int]]:
    """``uvicorn --factory`` on a free port; yields (base URL, pid)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
    with served(command, env, f"http://127.0.0.1:{port}", ready) as out:
        yield out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _db_bytes(path: Path | None) -> int:
    if path is None:
        return 0
    files = [path, path.with_name(path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists())


def partner_headers(ids: dict[str, Any]) -> dict[str, str]:
    from atelier.platform.security import issue_token
    from atelier.platform.settings import DEV_SECRET_KEY

    token = issue_token(
        DEV_SECRET_KEY,
        subject=ids["partner_user_id"],
        role="partner",
        partner_id=ids["partner_id"],
        ttl=timedelta(hours=6),
    )
    return {"Authorization": f"Bearer {token}"}


def main(argv: list[str] | None = None) -> None:
    global RUNS, TASKS
    parser = argparse.ArgumentParser(description="bench: partner run detail + waiting runs RSS")
    parser.add_argument("--database-url", default=os.environ.get("ATELIER_BENCH_DATABASE_URL"))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=RUNS, help="smaller for a smoke run")
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--ids-file", help="write the seeded ids here (or read them: --reuse)")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse a seeded --database-url; throughput only"
    )
    args = parser.parse_args(argv)
    RUNS, TASKS = args.runs, args.tasks
    wrk_args = {"duration": args.duration, "connections": args.connections, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        if args.reuse:
            if not (args.database_url and args.ids_file):
                raise SystemExit("--reuse needs --database-url and --ids-file")
            url = args.database_url
            ids = json.loads(Path(args.ids_file).read_text())
        else:
            url = fresh_database(args.database_url, Path(tmp))
            print(f"seeding {url.split(':', 1)[0]} ...", flush=True)
            ids = seed_database(url, seed)
            if args.ids_file:
                Path(args.ids_file).write_text(json.dumps(ids))
        kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        analyze(url)
        env = {
            "ATELIER_DATABASE_URL": url,
            "ATELIER_EMBEDDED_WORKER": "false",
            "ATELIER_ENV": "development",
            "ATELIER_LOG_LEVEL": "WARNING",
            ENV_KEY_SEED: json.dumps(ids),
            ENV_KEY_BARE: "bench.bench_partner_run_detail:bare_detail",
        }
        path = f"/partners/production-runs/{ids['run_id']}"
        headers = partner_headers(ids)
        with server("atelier.app:create_app", env, "/health") as (base, _pid):
            app_body = httpx.get(base + path, headers=headers, timeout=30)
            app_body.raise_for_status()
            run_wrk(base + path, headers=headers, duration=2, threads=1, connections=4)
            app = run_wrk(base + path, headers=headers, **wrk_args)
        with server("bench.common:bare_app", env, "/bare") as (base, _pid):
            bare_body = httpx.get(base + "/bare", timeout=30).json()
            run_wrk(base + "/bare", duration=2, threads=1, connections=4)
            bare = run_wrk(base + "/bare", **wrk_args)
        same = _shape(app_body.json()) == _shape(bare_body)
        print(f"\nGET /partners/production-runs/:id  ({kind}; {RUNS} runs, {TASKS} tasks;")
        print(f"  run with {BENCH_TASKS} tasks; {args.duration}s, {args.connections} connections)")
        print(f"  {'':30} {'req/s':>9} {'latency':>9} {'errors':>7}")
        for label, result in (("app (partner bearer)", app), ("bare ASGI + raw SQL floor", bare)):
            print(
                f"  {label:30} {result.requests_per_sec:>9.1f} "
                f"{result.latency_avg:>9} {result.errors:>7}"
            )
        ratio = app.requests_per_sec / bare.requests_per_sec if bare.requests_per_sec else 0
        print(
            f"  ratio app/floor = {ratio:.3f}"
            f"  (same runs/tasks/progress: {'yes' if same else 'NO'})"
        )

        if args.reuse:
            return
        # --- waiting runs cost rows, not memory --------------------------------------------
        live = {**env, "ATELIER_EMBEDDED_WORKER": "true"}
        db_file = Path(url.split("///", 1)[1]) if kind == "sqlite" else None
        with server("atelier.app:create_app", live, "/health") as (base, pid):
            run_wrk(base + path, headers=headers, duration=3, threads=1, connections=4)
            before = rss_kib(pid)
            size_before = _db_bytes(db_file)
            seed_waiting(url, ids)
            size_after = _db_bytes(db_file)
            run_wrk(base + path, headers=headers, duration=3, threads=1, connections=4)
            after = rss_kib(pid)
        release_sweeper_slot(url)
        started = time.monotonic()
        with server("atelier.app:create_app", live, "/health") as (base, pid):
            # A fresh process: its scheduler sweeps at start and flags the 5k passed gates.
            deadline = time.monotonic() + 120
            while overdue_count(url) < WAITING // 2 and time.monotonic() < deadline:
                time.sleep(0.5)
            flagged = overdue_count(url)
            swept_in = time.monotonic() - started
            run_wrk(base + path, headers=headers, duration=3, threads=1, connections=4)
            fresh = rss_kib(pid)
        print(f"\nserver RSS with {WAITING} runs waiting at gates (embedded worker + scheduler on)")
        print(f"  before inserting them            {before / 1024:8.1f} MiB")
        print(
            f"  after inserting them (same proc) {after / 1024:8.1f} MiB"
            f"  (delta {after - before:+d} KiB)"
        )
        print(
            f"  fresh process after its sweeper flagged {flagged} overdue runs "
            f"(within {swept_in:.1f}s of start): {fresh / 1024:.1f} MiB"
        )
        if db_file:
            per_run = (size_after - size_before) / WAITING
            print(f"  database growth: {per_run:.0f} bytes per waiting run (SQLite file)")


if __name__ == "__main__":
    main()
