"""Prefixed ULIDs: the table-driven encoder writes what the bit-by-bit one does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from atelier.platform import ids


@given(st.integers(0, (1 << 48) - 1), st.integers(0, (1 << 80) - 1))
def test_the_fast_encoder_matches_the_reference(ms: int, rand: int) -> None:
    assert ids._encode_ulid(ms, rand) == ids._encode(ms, 10) + ids._encode(rand, 16)


def test_bounds_and_order() -> None:
    assert ids._encode_ulid(0, 0) == "0" * 26
    assert ids._encode_ulid((1 << 48) - 1, (1 << 80) - 1) == "7" + "Z" * 25
    made = [ids.new_id("run") for _ in range(1000)]
    assert made == sorted(made)
    assert len(set(made)) == 1000
    assert all(len(i) == len("run_") + 26 and i.startswith("run_") for i in made)
