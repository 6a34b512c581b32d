"""Bare-ASGI floors of the suite's scenarios that have none in the older bench scripts: the
admin list variants, the partner runs list, the milestone writes and the order webhook. Each
does the same SQL as the app through the raw DB-API driver (see ``bench.common.bare_app``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from bench.bench_admin_runs import RUN_COLUMNS, bare_list, run_json
from bench.common import is_sqlite, sql_rows

WEBHOOK_SECRET = "bench-webhook-secret-0123456789"
PARTNER_LIST_LIMIT = 50
_counters: dict[str, itertools.count[int]] = {}


def _next(name: str, pool: list[Any]) -> Any:
    counter = _counters.setdefault(name, itertools.count())
    return pool[next(counter) % len(pool)]


def list_default(conn: Any, ids: dict[str, Any]) -> Any:
    return bare_list(conn, {**ids, "scenario": "default"})


def list_filtered(conn: Any, ids: dict[str, Any]) -> Any:
    return bare_list(conn, {**ids, "partner_id": ids["busy_partner_id"], "scenario": "filters"})


def list_q(conn: Any, ids: dict[str, Any]) -> Any:
    return bare_list(conn, {**ids, "scenario": "search"})


def _principal(conn: Any, user_id: str, partner_id: str) -> None:
    sql_rows(conn, "SELECT * FROM partner_users WHERE id = ?", [user_id])
    sql_rows(conn, "SELECT * FROM partners WHERE id = ?", [partner_id])


# The page's ids cut on the covering partner index, then its runs read whole (as the app).
_PARTNER_PAGE = (
    "SELECT "
    + ", ".join(f"r.{name.strip()}" for name in RUN_COLUMNS.split(","))
    + ", d.name AS design_name, d.thumbnail_url AS design_thumbnail_url"
    " FROM (SELECT id, created_at FROM production_runs WHERE partner_id = ?"
    f" ORDER BY created_at DESC, id DESC LIMIT {PARTNER_LIST_LIMIT} OFFSET 0) page"
    " JOIN production_runs r ON r.id = page.id JOIN designs d ON d.id = r.design_id"
    " ORDER BY page.created_at DESC, page.id DESC"
)


def partner_runs(conn: Any, ids: dict[str, Any]) -> Any:
    """The partner's runs newest first, every field the app shows (``ProductionRunRead``) with
    design name and thumbnail, the count, and each run's task progress (three statements, like
    the app; the same JSON body)."""
    partner = ids["partner_id"]
    _principal(conn, ids["partner_user_id"], partner)
    [count] = sql_rows(
        conn, "SELECT count(*) AS n FROM production_runs WHERE partner_id = ?", [partner]
    )
    rows = sql_rows(conn, _PARTNER_PAGE, [partner])
    run_ids = [row["id"] for row in rows]
    progress: dict[str, tuple[int, int]] = {}
    if run_ids:
        marks = ", ".join("?" for _ in run_ids)
        for p in sql_rows(
            conn,
            "SELECT production_run_id AS id, sum(CASE WHEN status = 'completed' THEN 1 ELSE 0"
            " END) AS done, count(id) AS total FROM tasks WHERE production_run_id IN"
            f" ({marks}) AND parent_task_id IS NULL AND status <> 'cancelled'"
            " GROUP BY production_run_id",
            sorted(run_ids),
        ):
            progress[p["id"]] = (int(p["done"] or 0), int(p["total"]))
    out = []
    for raw in rows:
        name, thumbnail = raw.pop("design_name"), raw.pop("design_thumbnail_url")
        row = run_json(raw)
        row["design"] = {"id": row["design_id"], "name": name, "thumbnail_url": thumbnail}
        done, total = progress.get(row["id"], (0, 0))
        percent = round(100 * done / total) if total else 0
        row["progress"] = {"completed": done, "total": total, "percent": percent}
        out.append(row)
    return {
        "production_runs": out,
        "count": count["n"],
        "limit": PARTNER_LIST_LIMIT,
        "offset": 0,
    }


# --- writes ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _transaction(conn: Any) -> Iterator[None]:
    """One transaction, like the app's session: SQLite takes the write lock up front; psycopg
    connections are in autocommit mode, so a block opens one (a commit per statement would
    pay a WAL flush each)."""
    if is_sqlite(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.rollback()  # never leave the connection inside a failed transaction
            raise
        conn.commit()
    else:
        with conn.transaction():
            yield


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _milestone(
    conn: Any, ids: dict[str, Any], run_id: str, kind: str, changes: dict[str, Any]
) -> Any:
    """Principal, the run locked and checked, the run updated, an audit row and an outbox
    event, one commit: what a milestone costs in SQL."""
    _principal(conn, ids["writer_user_id"], ids["writer_partner_id"])
    with _transaction(conn):
        return _milestone_writes(conn, ids, run_id, kind, changes)


def _milestone_writes(
    conn: Any, ids: dict[str, Any], run_id: str, kind: str, changes: dict[str, Any]
) -> Any:
    from atelier.platform.ids import new_id

    sqlite = is_sqlite(conn)
    lock = "" if sqlite else " FOR UPDATE"
    [run] = sql_rows(conn, f"SELECT * FROM production_runs WHERE id = ?{lock}", [run_id])
    now = _now()
    values = {**changes, "last_activity_at": now, "updated_at": now}
    assignments = ", ".join(f"{key} = ?" for key in values)
    placeholder = "?" if sqlite else "%s"
    conn.execute(
        f"UPDATE production_runs SET {assignments} WHERE id = ?".replace("?", placeholder),
        [*values.values(), run_id],
    )
    conn.execute(
        "INSERT INTO run_events (id, run_id, kind, actor_type, actor_id, channel, data,"
        " occurred_at) VALUES (?, ?, ?, 'partner', ?, 'api', ?, ?)".replace("?", placeholder),
        [new_id("revt"), run_id, kind, ids["writer_user_id"], json.dumps(changes), now],
    )
    payload = json.dumps({"run_id": run_id, "status": run["status"], **changes})
    conn.execute(
        "INSERT INTO outbox_events (id, name, payload, created_at, available_at, attempts,"
        " manual_retries) VALUES (?, ?, ?, ?, ?, 0, 0)".replace("?", placeholder),
        [new_id("evt"), f"production_run.{kind}", payload, now, now],
    )
    return {"message": kind, "production_run": {"id": run_id}}


def milestone(conn: Any, ids: dict[str, Any]) -> Any:
    """Request 3k accepts run k, 3k+1 starts it, 3k+2 records progress (one floor thread, so
    the steps of a run arrive in order)."""
    counter = _counters.setdefault("milestone", itertools.count())
    n = next(counter)
    run_id = ids["pool_floor"][(n // 3) % len(ids["pool_floor"])]
    now = _now()
    if n % 3 == 0:
        return _milestone(
            conn, ids, run_id, "accepted", {"status": "in_progress", "accepted_at": now}
        )
    if n % 3 == 1:
        return _milestone(conn, ids, run_id, "started", {"started_at": now})
    changes = {"produced_quantity": 5, "last_progress_at": now}
    return _milestone(conn, ids, run_id, "progress_updated", changes)


def webhook_bodies(ids: dict[str, Any], side: str, count: int) -> list[tuple[str, bytes]]:
    """``count`` signed generic order bodies (two lines each), unique per side."""
    products = ids["product_ids"]
    out = []
    for i in range(count):
        body = json.dumps(
            {
                "external_id": f"bench-{side}-{i}",
                "email": f"buyer{i}@example.com",
                "items": [
                    {"product_id": products[i % len(products)], "quantity": 1 + i % 3},
                    {"product_id": products[(i + 7) % len(products)], "quantity": 2},
                ],
            }
        ).encode()
        signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        out.append((f"sha256={signature}", body))
    return out


_bodies: list[tuple[str, bytes]] = []


def webhook(conn: Any, ids: dict[str, Any]) -> Any:
    """Verify the signature, parse, look up the external id and the products, insert the
    order, its lines and the ``order.placed`` event, commit."""
    if not _bodies:
        _bodies.extend(webhook_bodies(ids, "floor", ids["webhook_bodies"]))
    signature, body = _next("webhook", _bodies)
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        raise ValueError("bad signature")
    data = json.loads(body)
    with _transaction(conn):
        return _order_writes(conn, data)


def _order_writes(conn: Any, data: dict[str, Any]) -> Any:
    from atelier.platform.ids import new_id

    placeholder = "?" if is_sqlite(conn) else "%s"
    existing = sql_rows(conn, "SELECT id FROM orders WHERE external_id = ?", [data["external_id"]])
    if existing:  # a repeated delivery: the existing order, nothing written (as the app does)
        return {"order": {"id": existing[0]["id"], "external_id": data["external_id"]}}
    product_ids = [item["product_id"] for item in data["items"]]
    marks = ", ".join("?" for _ in product_ids)
    sql_rows(conn, f"SELECT * FROM products WHERE id IN ({marks})", product_ids)
    order_id, now = new_id("order"), _now()
    conn.execute(
        "INSERT INTO orders (id, external_id, email, source, metadata, created_at,"
        " updated_at) VALUES (?, ?, ?, 'webhook:generic', '{}', ?, ?)".replace("?", placeholder),
        [order_id, data["external_id"], data["email"], now, now],
    )
    lines = []
    for position, item in enumerate(data["items"]):
        line_id = new_id("oli")
        lines.append({"id": line_id, **item})
        conn.execute(
            "INSERT INTO order_line_items (id, order_id, position, product_id, quantity,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)".replace("?", placeholder),
            [line_id, order_id, position, item["product_id"], item["quantity"], now],
        )
    conn.execute(
        "INSERT INTO outbox_events (id, name, payload, created_at, available_at, attempts,"
        " manual_retries) VALUES (?, 'order.placed', ?, ?, ?, 0, 0)".replace("?", placeholder),
        [new_id("evt"), json.dumps({"order_id": order_id, "items": lines}), now, now],
    )
    return {"order": {"id": order_id, "external_id": data["external_id"], "items": lines}}
