"""Seeding the flows is idempotent, also when two processes start at the same moment."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from atelier.flows import repository
from atelier.flows.models import Flow
from atelier.flows.seeds import SEEDS, seed_flows
from atelier.platform.db import Database
from atelier.platform.settings import Settings


def flow_count(db: Database) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Flow)) or 0)


def test_seeding_twice_creates_each_flow_once(
    app: FastAPI, db: Database, settings: Settings
) -> None:
    with db.session() as session:
        first = seed_flows(session, settings)
    with db.session() as session:
        second = seed_flows(session, settings)
    assert len(first.created) == len(SEEDS) and first.existing == []
    assert second.created == [] and len(second.existing) == len(SEEDS)
    assert flow_count(db) == len(SEEDS)


def test_a_seeder_that_loses_the_race_counts_the_flows_as_existing(
    app: FastAPI, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session() as session:
        seed_flows(session, settings)  # the other process, which got there first
    # Our existence check ran before the other process committed: it saw nothing.
    monkeypatch.setattr(repository, "flow_by_seed_key", lambda session, key: None)
    monkeypatch.setattr(repository, "flow_by_name", lambda session, name: None)
    with db.session() as session:
        report = seed_flows(session, settings)
    assert report.created == [] and len(report.existing) == len(SEEDS)
    assert flow_count(db) == len(SEEDS)
