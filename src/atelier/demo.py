"""Demo data for ``atelier demo`` / ``atelier serve --demo``: idempotent (placeholder)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from atelier.platform.db import Database


@dataclass
class DemoReport:
    created: int = 0
    existing: int = 0


def load_demo(db: Database, *, console: Console | None = None) -> DemoReport:
    """Create the demo records that do not exist yet; running it twice changes nothing."""
    return DemoReport()
