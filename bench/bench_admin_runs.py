"""GET /admin/production-runs over 100k runs (filters, and filters + q search) through the real
app vs a bare ASGI handler running the same SQL through the raw DB-API driver.

.venv/bin/python -m bench.bench_admin_runs [--database-url postgresql+psycopg://...]
    [--duration 10] [--runs 100000] [--scenario filters|search|default|all]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.orm import Session

from bench.common import (
    ENV_KEY_BARE,
    ENV_KEY_SEED,
    admin_token,
    dbapi_connect,
    fresh_database,
    is_sqlite,
    iso_datetime,
    json_value,
    run_wrk,
    seed_database,
    sql_rows,
    uvicorn_server,
)

STATUSES = [
    "pending_review",
    "approved",
    "sent_to_partner",
    "in_progress",
    "completed",
    "cancelled",
    "awaiting_reassignment",
]
WORDS = ["indigo", "silk", "linen", "block", "kurta", "saree", "wrap", "shirt", "dupatta", "ikat"]
LIMIT = 50
JSON_COLUMNS = {
    "depends_on_run_ids",
    "snapshot",
    "dispatch_template_names",
    "dispatch_template_ids",
    "dispatched_template_ids",
    "reminder_counts",
    "metadata",
}
DATETIME_COLUMNS = {
    "captured_at",
    "accepted_at",
    "started_at",
    "finished_at",
    "completed_at",
    "cancelled_at",
    "last_progress_at",
    "last_activity_at",
    "dispatch_started_at",
    "dispatch_completed_at",
    "gate_deadline_at",
    "overdue_at",
    "last_reminder_at",
    "held_at",
    "created_at",
    "updated_at",
}


# Every column of ``ProductionRunRead`` in its field order: what the app's list selects and shows.
RUN_COLUMNS = (
    "id, status, run_type, quantity, role, parent_run_id, design_id, partner_id,"
    " previous_partner_id, order_id, order_line_item_id, product_id, variant_id,"
    " depends_on_run_ids, sequence, snapshot, captured_at, accepted_at, started_at, finished_at,"
    " completed_at, cancelled_at, cancelled_reason, finish_notes, completion_notes,"
    " produced_quantity, rejected_quantity, rejection_reason, rejection_notes, last_progress_at,"
    " last_activity_at, dispatch_state, dispatch_started_at, dispatch_completed_at,"
    " dispatch_template_names, dispatch_template_ids, dispatched_template_ids,"
    " partner_cost_estimate, cost_type, current_gate, gate_deadline_at, overdue_gate, overdue_at,"
    " last_reminder_at, reminder_counts, on_hold, hold_reason, held_at, metadata, created_at,"
    " updated_at"
)
# The same, prefixed with the runs' alias ``r``, and the names the admin list shows after them.
_LIST_COLUMNS = (
    ", ".join(f"r.{name.strip()}" for name in RUN_COLUMNS.split(","))
    + ", d.name AS design_name, p.name AS partner_name, p.handle AS partner_handle"
)


def make_seed(total: int) -> Any:
    def seed(session: Session) -> dict[str, Any]:
        """200 designs, 100 partners, ``total`` runs (10% children) bulk-inserted in chunks."""
        from atelier.catalog.models import Design
        from atelier.partners.models import Partner
        from atelier.platform.ids import new_id
        from atelier.production.models import ProductionRun

        rng = random.Random(7)
        designs = [
            {
                "id": new_id("design"),
                "name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {i}",
                "status": "Commerce_Ready",
                "media_files": [],
                "specifications": {},
                "colors": [],
                "sizes": [],
                "moodboard": {},
                "metadata_": {},
            }
            for i in range(200)
        ]
        partners = [
            {
                "id": new_id("partner"),
                "name": f"{rng.choice(WORDS).title()} Works {i}",
                "handle": f"works-{i}",
                "status": "active",
                "metadata_": {},
            }
            for i in range(100)
        ]
        session.execute(insert(Design), designs)
        session.execute(insert(Partner), partners)
        base = datetime(2026, 1, 1, tzinfo=UTC)
        snapshot = {"name": "seed", "colors": ["indigo"], "sizes": ["M"], "bom": []}
        parents: list[str] = []
        chunk: list[dict[str, Any]] = []
        for i in range(total):
            created = base + timedelta(seconds=i * 30)
            run_id = new_id("prod_run")
            is_child = parents and i % 10 == 0
            chunk.append(
                {
                    "id": run_id,
                    "status": rng.choice(STATUSES),
                    "run_type": "sample" if i % 7 == 0 else "production",
                    "quantity": rng.randint(1, 500),
                    "design_id": rng.choice(designs)["id"],
                    "partner_id": rng.choice(partners)["id"] if i % 5 else None,
                    "parent_run_id": rng.choice(parents[-50:]) if is_child else None,
                    "depends_on_run_ids": [],
                    "snapshot": snapshot,
                    "captured_at": created,
                    "dispatch_state": "idle",
                    "dispatch_template_names": [],
                    "dispatch_template_ids": [],
                    "dispatched_template_ids": [],
                    "reminder_counts": {},
                    "partner_cost_estimate": Decimal("12.5000") if i % 3 == 0 else None,
                    "metadata_": {"source": "bench"},
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if not is_child:
                parents.append(run_id)
            if len(chunk) == 5000:
                session.execute(insert(ProductionRun), chunk)
                chunk = []
        if chunk:
            session.execute(insert(ProductionRun), chunk)
        busy = partners[0]["id"]
        word = designs[0]["name"].split()[0].lower()
        return {"partner_id": busy, "q": word, "total": total}

    return seed


def scenario_query(name: str, ids: dict[str, Any]) -> dict[str, Any]:
    """The list's query parameters per scenario."""
    if name == "filters":
        return {"status": "approved,sent_to_partner,in_progress", "partner_id": ids["partner_id"]}
    if name == "search":
        return {"status": "in_progress,approved", "q": ids["q"]}
    return {}


def _where(conn: Any, name: str, ids: dict[str, Any]) -> tuple[str, list[Any]]:
    """The same predicates the repository builds, written by hand."""
    query = scenario_query(name, ids)
    selective = "partner_id" in query or "q" in query
    clauses = ["COALESCE(r.parent_run_id, '') = ''" if selective else "r.parent_run_id IS NULL"]
    params: list[Any] = []
    if "status" in query:
        statuses = query["status"].split(",")
        clauses.append(f"r.status IN ({', '.join('?' for _ in statuses)})")
        params += statuses
    if "partner_id" in query:
        clauses.append("r.partner_id = ?")
        params.append(query["partner_id"])
    return " AND ".join(clauses), params


def run_json(raw: dict[str, Any]) -> dict[str, Any]:
    """A run's row as the API shows it: JSON columns parsed, timestamps as ISO strings, money
    as a string, ``on_hold`` a boolean (SQLite returns 0/1)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in JSON_COLUMNS:
            out[key] = json_value(value)
        elif key in DATETIME_COLUMNS:
            out[key] = iso_datetime(value)
        elif key == "partner_cost_estimate":
            out[key] = None if value is None else str(Decimal(str(value)))
        elif key == "on_hold":
            out[key] = None if value is None else bool(value)
        else:
            out[key] = value
    return out


# A word: the designs and partners naming it, then their runs from the covering design and
# partner indexes (a partner's run whose design also matched is counted once), the total
# beside the page.
_SEARCH = (
    "WITH named_designs AS (SELECT id FROM designs WHERE {design_match}),"
    " named_partners AS (SELECT id FROM partners WHERE {partner_match}),"
    " by_design AS (SELECT r.id, r.created_at FROM production_runs r"
    " WHERE r.design_id IN (SELECT id FROM named_designs) AND {where}),"
    " by_partner AS (SELECT r.id, r.created_at FROM production_runs r"
    " WHERE r.partner_id IN (SELECT id FROM named_partners)"
    " AND r.design_id NOT IN (SELECT id FROM named_designs) AND {where}),"
    " page AS (SELECT id, created_at FROM (SELECT * FROM by_design UNION ALL"
    " SELECT * FROM by_partner) m ORDER BY created_at DESC, id DESC LIMIT {limit})"
    f" SELECT {_LIST_COLUMNS},"
    " (SELECT count(*) FROM by_design) + (SELECT count(*) FROM by_partner) AS total_count"
    " FROM page JOIN production_runs r ON r.id = page.id"
    " JOIN designs d ON d.id = r.design_id LEFT JOIN partners p ON p.id = r.partner_id"
    " ORDER BY page.created_at DESC, page.id DESC"
)


def _search_rows(conn: Any, ids: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The repository's search of a word: names first, then runs by design and partner."""
    query = scenario_query("search", ids)
    statuses = query["status"].split(",")
    marks = ", ".join("?" for _ in statuses)
    where = f"r.status IN ({marks}) AND COALESCE(r.parent_run_id, '') = ''"
    if is_sqlite(conn):
        term = query["q"].lower()
        design_match = "instr(atelier_fold(name), ?) > 0"
        partner_match = "instr(atelier_fold(name), ?) > 0 OR instr(atelier_fold(handle), ?) > 0"
    else:
        term = f"%{query['q']}%"
        design_match = "name ILIKE ?"
        partner_match = "name ILIKE ? OR handle ILIKE ?"
    sql = _SEARCH.format(
        design_match=design_match, partner_match=partner_match, where=where, limit=LIMIT
    )
    params = [term, term, term, *statuses, *statuses]
    rows = sql_rows(conn, sql, params)
    count = rows[0]["total_count"] if rows else 0
    for row in rows:
        del row["total_count"]
    return rows, count


def bare_list(conn: Any, ids: dict[str, Any]) -> dict[str, Any]:
    """Count + one joined page, like the app (two queries; a search: one), rendered to
    JSON-ready dicts."""
    if "q" in scenario_query(ids["scenario"], ids):
        rows, count = _search_rows(conn, ids)
    else:
        where, params = _where(conn, ids["scenario"], ids)
        rows = sql_rows(
            conn,
            f"SELECT {_LIST_COLUMNS} FROM production_runs r"
            " JOIN designs d ON d.id = r.design_id LEFT JOIN partners p ON p.id = r.partner_id"
            f" WHERE {where} ORDER BY r.created_at DESC, r.id DESC LIMIT {LIMIT} OFFSET 0",
            params,
        )
        [total] = sql_rows(
            conn, f"SELECT count(*) AS n FROM production_runs r WHERE {where}", params
        )
        count = total["n"]
    return {
        "production_runs": [run_json(r) for r in rows],
        "count": count,
        "limit": LIMIT,
        "offset": 0,
    }


def _same(app_body: dict[str, Any], bare_body: dict[str, Any]) -> bool:
    app_ids = [r["id"] for r in app_body["production_runs"]]
    bare_ids = [r["id"] for r in bare_body["production_runs"]]
    return app_ids == bare_ids and app_body["count"] == bare_body["count"]


def main() -> None:
    parser = argparse.ArgumentParser(description="bench: admin production-runs list")
    parser.add_argument("--database-url", default=os.environ.get("ATELIER_BENCH_DATABASE_URL"))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument(
        "--scenario", default="all", choices=["all", "filters", "search", "default"]
    )
    args = parser.parse_args()
    scenarios = ["filters", "search", "default"] if args.scenario == "all" else [args.scenario]
    wrk_args = {"duration": args.duration, "connections": args.connections, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database_url, Path(tmp))
        started = datetime.now(UTC)
        ids = seed_database(url, make_seed(args.runs))
        seconds = (datetime.now(UTC) - started).total_seconds()
        kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        # Planner statistics, as a live database has them (autovacuum / PRAGMA optimize).
        conn = dbapi_connect(url)
        conn.execute("VACUUM ANALYZE" if kind == "postgresql" else "ANALYZE")
        if kind == "sqlite":
            conn.commit()
        conn.close()
        print(f"seeded {args.runs} runs in {seconds:.1f}s ({kind})")
        results = []
        for name in scenarios:
            scenario_ids = {**ids, "scenario": name}
            env = {
                "ATELIER_DATABASE_URL": url,
                "ATELIER_EMBEDDED_WORKER": "false",
                "ATELIER_ENV": "development",
                "ATELIER_LOG_LEVEL": "WARNING",
                ENV_KEY_SEED: json.dumps(scenario_ids),
                ENV_KEY_BARE: "bench.bench_admin_runs:bare_list",
            }
            query = scenario_query(name, ids)
            path = "/admin/production-runs?" + "&".join(f"{k}={v}" for k, v in query.items())
            with uvicorn_server("atelier.app:create_app", env) as base:
                headers = {"Authorization": f"Bearer {admin_token(base)}"}
                app_body = httpx.get(base + path, headers=headers, timeout=60)
                app_body.raise_for_status()
                run_wrk(base + path, headers=headers, duration=2, threads=1, connections=4)
                app_result = run_wrk(base + path, headers=headers, **wrk_args)
            with uvicorn_server("bench.common:bare_app", env, ready_path="/bare") as base:
                bare_body = httpx.get(base + "/bare", timeout=60).json()
                run_wrk(base + "/bare", duration=2, threads=1, connections=4)
                bare_result = run_wrk(base + "/bare", **wrk_args)
            same = _same(app_body.json(), bare_body)
            results.append((name, path, app_result, bare_result, same, app_body.json()["count"]))
    print(
        f"\nGET /admin/production-runs over {args.runs} runs ({kind}, {args.duration}s, "
        f"{args.connections} connections)"
    )
    print(
        f"  {'scenario':10} {'app req/s':>10} {'bare req/s':>11} {'ratio':>6} "
        f"{'app lat':>9} {'bare lat':>9} {'count':>7} same"
    )
    for name, path, app_result, bare_result, same, count in results:
        ratio = app_result.requests_per_sec / max(bare_result.requests_per_sec, 0.001)
        app_rps, bare_rps = app_result.requests_per_sec, bare_result.requests_per_sec
        errors = f"errors={app_result.errors}/{bare_result.errors}"
        print(
            f"  {name:10} {app_rps:>10.1f} {bare_rps:>11.1f} {ratio:>6.3f}"
            f" {app_result.latency_avg:>9} {bare_result.latency_avg:>9}"
            f" {count:>7} {'yes' if same else 'NO'}  {errors}"
        )
        print(f"    {path}")


if __name__ == "__main__":
    main()
