"""Flow engine tests build their own flows (no seeded ones) and walk the clock over days:
admin tokens must outlive that."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atelier.platform.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"token_ttl": timedelta(days=400), "seed_flows": False})
