"""The dispatcher works a claimed batch with a fixed number of statements and transactions
besides each delivery's own: the settled subscribers are read with the claim, the events
finished together."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from atelier.platform.db import Database
from atelier.platform.dispatcher import OutboxDispatcher
from atelier.platform.models import OutboxEvent
from atelier.platform.outbox import SubscriberRegistry, emit_many
from tests.production.read_support import statement_shapes, statements


@pytest.fixture
def registry() -> SubscriberRegistry:
    registry = SubscriberRegistry()
    registry.register("x.happened", name="noop")(lambda session, evt: None)
    return registry


def _drain(db: Database, registry: SubscriberRegistry, events: int) -> tuple[list[str], int]:
    """Statement shapes and commits of draining ``events`` new events (one batch)."""
    with db.session() as session:
        emit_many(session, "x.happened", [{"n": n} for n in range(events)])
    commits: list[Any] = []

    def _commit(_conn: Any) -> None:
        commits.append(_conn)

    # A finish interval longer than the test: the whole batch is finished at its end.
    dispatcher = OutboxDispatcher(
        db, worker_id="batches", registry=registry, batch_size=50, finish_interval=600
    )
    event.listen(db.engine, "commit", _commit)
    try:
        with statements(db) as seen:
            assert dispatcher.run_once() == events
    finally:
        event.remove(db.engine, "commit", _commit)
    return statement_shapes(seen), len(commits)


def test_each_further_event_costs_only_its_delivery(
    db: Database, registry: SubscriberRegistry
) -> None:
    one, one_commits = _drain(db, registry, 1)
    ten, ten_commits = _drain(db, registry, 10)
    extra = list(ten)
    for shape in one:
        extra.remove(shape)
    assert extra == ["INSERT outbox_deliveries"] * 9, (one, ten)
    assert ten_commits - one_commits == 9
    with db.session(write=False) as session:
        rows = session.query(OutboxEvent).all()
        assert all(row.delivered_at is not None and row.locked_by is None for row in rows)
