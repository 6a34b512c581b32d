"""What must hold in the database after any burst, crash and restart.

Read straight from the tables (plain SQL) so a check never goes through the code under test:

- every event is delivered, and to every subscriber registered for its name exactly once
  (``outbox_deliveries``), none twice;
- every inventory level equals the sum of its movements (the ledger explains every change);
- no half-applied run: a completed run has its ``completed`` audit entry and its
  ``production_run.completed`` event once each, its consumption logs committed with one movement
  each, and at most one output movement; a run that is not completed has no committed
  consumption and no movement at all.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from atelier.app import load_subscribers
from atelier.platform import outbox


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    with connect(url) as conn:
        return list(conn.execute(text(sql), params))


def scalar(url: str, sql: str, **params: Any) -> Any:
    with connect(url) as conn:
        return conn.execute(text(sql), params).scalar()


def _payload(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        loaded: dict[str, Any] = json.loads(value)
        return loaded
    return dict(value or {})


def undelivered(url: str) -> int:
    count: int = scalar(url, "SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL")
    return count


def wait_delivered(url: str, *, timeout: float) -> None:
    """Wait until every outbox event is delivered (a worker must be running)."""
    deadline = time.monotonic() + timeout
    while True:
        left = undelivered(url)
        if left == 0:
            return
        if time.monotonic() >= deadline:
            stuck = rows(
                url,
                "SELECT name, attempts, locked_by, locked_until, last_error FROM outbox_events "
                "WHERE delivered_at IS NULL ORDER BY available_at LIMIT 5",
            )
            raise AssertionError(f"{left} events still undelivered after {timeout:.0f} s: {stuck}")
        time.sleep(0.5)


def delivery_violations(url: str) -> list[str]:
    """Events not delivered exactly once to each subscriber registered for their name."""
    load_subscribers()
    events = rows(url, "SELECT id, name, delivered_at FROM outbox_events")
    deliveries: dict[str, Counter[str]] = defaultdict(Counter)
    for event_id, subscriber in rows(url, "SELECT event_id, subscriber FROM outbox_deliveries"):
        deliveries[event_id][subscriber] += 1
    problems: list[str] = []
    for event_id, name, delivered_at in events:
        expected = {s.name for s in outbox.registry.for_event(name)}
        got = deliveries.pop(event_id, Counter())
        if delivered_at is None:
            problems.append(f"{name} {event_id} not delivered")
        twice = {s: n for s, n in got.items() if n != 1}
        if twice:
            problems.append(f"{name} {event_id} delivered more than once: {twice}")
        if delivered_at is not None and set(got) != expected:
            problems.append(f"{name} {event_id} delivered to {sorted(got)}, expected {expected}")
    for event_id in deliveries:
        problems.append(f"delivery rows for unknown event {event_id}")
    return problems


def ledger_violations(url: str) -> list[str]:
    """Levels that differ from the sum of their movements (and movements without a level)."""
    levels = {
        (item, loc): float(qty)
        for item, loc, qty in rows(
            url, "SELECT inventory_item_id, location_id, stocked_quantity FROM inventory_levels"
        )
    }
    sums = {
        (item, loc): float(total)
        for item, loc, total in rows(
            url,
            "SELECT inventory_item_id, location_id, sum(quantity_delta) FROM inventory_movements "
            "GROUP BY inventory_item_id, location_id",
        )
    }
    problems = []
    for key in sorted(set(levels) | set(sums)):
        level, moved = levels.get(key), sums.get(key, 0.0)
        if level is None or abs(level - moved) > 1e-6:
            problems.append(f"level {key} is {level}, its movements sum to {moved}")
    return problems


def run_violations(url: str) -> list[str]:
    """Runs whose completion is half applied (see the module docstring)."""
    runs = {
        run_id: status for run_id, status in rows(url, "SELECT id, status FROM production_runs")
    }
    completed_audit = Counter(
        run_id for (run_id,) in rows(url, "SELECT run_id FROM run_events WHERE kind = 'completed'")
    )
    completed_events: Counter[str] = Counter()
    for (payload,) in rows(
        url, "SELECT payload FROM outbox_events WHERE name = 'production_run.completed'"
    ):
        completed_events[str(_payload(payload).get("production_run_id"))] += 1
    movements: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for run_id, reason, key in rows(
        url,
        "SELECT production_run_id, reason, idempotency_key FROM inventory_movements "
        "WHERE production_run_id IS NOT NULL",
    ):
        movements[run_id].append((reason, key))
    logs: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for run_id, log_id, committed in rows(
        url,
        "SELECT production_run_id, id, is_committed FROM consumption_logs "
        "WHERE production_run_id IS NOT NULL",
    ):
        logs[run_id].append((log_id, bool(committed)))
    problems: list[str] = []
    for run_id, status in runs.items():
        moved = movements.get(run_id, [])
        keys = Counter(key for _, key in moved)
        if status != "completed":
            if moved:
                problems.append(f"{run_id} is {status} but moved stock: {moved}")
            if any(committed for _, committed in logs.get(run_id, [])):
                problems.append(f"{run_id} is {status} but has committed consumption")
            if completed_audit[run_id] or completed_events[run_id]:
                problems.append(f"{run_id} is {status} but has a completion record")
            continue
        if completed_audit[run_id] != 1:
            problems.append(f"{run_id}: {completed_audit[run_id]} 'completed' audit entries")
        if completed_events[run_id] != 1:
            problems.append(f"{run_id}: {completed_events[run_id]} production_run.completed")
        for log_id, committed in logs.get(run_id, []):
            if not committed:
                problems.append(f"{run_id} completed with uncommitted consumption log {log_id}")
            elif keys[f"clog:{log_id}"] != 1:
                problems.append(
                    f"{run_id}: consumption log {log_id} moved {keys[f'clog:{log_id}']}x"
                )
        outputs = [key for reason, key in moved if reason == "production_output"]
        if len(outputs) > 1:
            problems.append(f"{run_id}: {len(outputs)} output movements")
    return problems


def all_violations(url: str) -> list[str]:
    return delivery_violations(url) + ledger_violations(url) + run_violations(url)
