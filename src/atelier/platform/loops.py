"""Background loops that must work *outside* a database transaction (e.g. provider calls).

Outbox subscribers and scheduled jobs run inside a write transaction, which on SQLite holds the
one write lock; a slow HTTP call there would stall every writer. A loop instead claims work in a
short transaction, does its slow part with no transaction open, and records the outcome in
another short one. Domains register a factory with ``@background_loop(name)`` in their
``jobs.py``; ``platform.worker`` runs one thread per loop, woken after commits that queued
events and otherwise polling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from atelier.platform.db import Database
from atelier.platform.settings import Settings


class BackgroundLoop(Protocol):
    def run_once(self) -> int:
        """Do one round of work; return how many items were handled (0 = nothing due)."""
        ...


LoopFactory = Callable[[Database, Settings], BackgroundLoop]

_factories: dict[str, LoopFactory] = {}


def background_loop(name: str) -> Callable[[LoopFactory], LoopFactory]:
    """Register ``factory(db, settings) -> loop`` under ``name`` (re-registering replaces)."""

    def decorator(factory: LoopFactory) -> LoopFactory:
        _factories[name] = factory
        return factory

    return decorator


def registered_loops() -> dict[str, LoopFactory]:
    return dict(_factories)
