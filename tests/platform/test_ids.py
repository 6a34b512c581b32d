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


def test_request_ids_are_ulids_unique_in_a_process_and_after_a_fork() -> None:
    import os

    from atelier.platform import ids

    made = [ids.request_ulid() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    assert all(len(value) == 26 and set(value) <= set(ids._ALPHABET) for value in made)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id after the fork
        os.write(write, ids.request_ulid().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read), os.close(write)
    parent = ids.request_ulid()

    # Same millisecond or not, the child's random part starts elsewhere than the parent's.
    def random_part(value: str) -> int:
        number = 0
        for char in value[10:]:
            number = number * 32 + ids._ALPHABET.index(char)
        return number

    assert abs(random_part(child) - random_part(parent)) > 1_000_000
