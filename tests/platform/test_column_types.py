"""Column types on the read path: JSON columns load through pydantic-core's parser
(``platform.db.load_json``) and give the standard library's values whatever the document;
timestamps read back as aware UTC datetimes through one fused processor."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import literal, literal_column, select

from atelier.platform.db import Database, UTCDateTime, load_json
from atelier.platform.models import OutboxEvent
from atelier.platform.outbox import emit

DOCUMENTS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None, database=None)
@given(document=DOCUMENTS)
def test_values_are_the_standard_librarys(document: Any) -> None:
    for encoded in (json.dumps(document), json.dumps(document, ensure_ascii=False)):
        assert _same(load_json(encoded), json.loads(encoded))
        assert _same(load_json(encoded.encode()), json.loads(encoded))


def test_what_the_standard_library_accepts_still_loads() -> None:
    for encoded in ['"\\ud800"', "NaN", "[Infinity, -Infinity]", '{"a": 1, "a": 2}', "1e400"]:
        assert _same(load_json(encoded), json.loads(encoded)), encoded


def test_a_json_column_reads_back_through_the_engine(db: Database) -> None:
    payload = {"name": "Saree ✓", "bom": [{"qty": 1.5, "big": 10**25}], "none": None}
    with db.session() as session:
        event = emit(session, "test.json", payload)
        session.flush()
        event_id = event.id
    with db.session() as session:
        stored = session.execute(
            select(OutboxEvent.payload).where(OutboxEvent.id == event_id)
        ).scalar_one()
    assert stored == payload


class TestTimestamps:
    """``UTCDateTime`` reads through one fused processor: aware UTC values, as before."""

    def test_aware_values_come_back_in_utc(self, db: Database) -> None:
        moments = [
            datetime(2026, 11, 30, 7, 0, tzinfo=UTC),
            datetime(2026, 11, 30, 7, 0, 0, 123456, tzinfo=UTC),
            datetime(2026, 11, 30, 12, 30, 1, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
        ]
        with db.session() as session:
            for moment in moments:
                got = session.execute(select(literal(moment, UTCDateTime()))).scalar_one()
                assert got == moment and got.tzinfo is UTC
            assert session.execute(select(literal(None, UTCDateTime()))).scalar() is None

    def test_text_written_by_sql_reads_as_utc(self, db: Database) -> None:
        if not db.is_sqlite:
            pytest.skip("SQLite stores timestamps as text")
        with db.session() as session:
            for stored, expected in [
                ("2026-11-30 07:00:00", datetime(2026, 11, 30, 7, tzinfo=UTC)),
                ("2026-11-30 07:00:00.250000", datetime(2026, 11, 30, 7, 0, 0, 250000, tzinfo=UTC)),
            ]:
                column = literal_column(f"'{stored}'", UTCDateTime())
                assert session.execute(select(column)).scalar_one() == expected
