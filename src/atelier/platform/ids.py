"""Prefixed ULIDs: ``prod_run_01J...``. Sortable by creation time, unique without coordination."""

from __future__ import annotations

import itertools
import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


# Two characters per 10 bits: a ULID (130 bits, the top two zero) in 13 look-ups and no calls
# (every audit row and outbox event of a write takes one).
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)


def _encode_ulid(ms: int, rand: int) -> str:
    """``_encode(ms, 10) + _encode(rand, 16)``, faster."""
    v = (ms << 80) | rand
    p = _PAIRS
    return (
        p[v >> 120]
        + p[(v >> 110) & 1023]
        + p[(v >> 100) & 1023]
        + p[(v >> 90) & 1023]
        + p[(v >> 80) & 1023]
        + p[(v >> 70) & 1023]
        + p[(v >> 60) & 1023]
        + p[(v >> 50) & 1023]
        + p[(v >> 40) & 1023]
        + p[(v >> 30) & 1023]
        + p[(v >> 20) & 1023]
        + p[(v >> 10) & 1023]
        + p[v & 1023]
    )


def ulid() -> str:
    """A monotonic ULID: ids made in the same millisecond still sort in creation order."""
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            rand = (_last_rand + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_rand = ms, rand
    return _encode_ulid(ms, rand)


def new_id(prefix: str) -> str:
    """A fresh id such as ``design_01J...``; ``prefix`` is given without the underscore."""
    return f"{prefix}_{ulid()}"


# Request ids: every response carries one, so they are made without a lock or a system call.
_RAND_MASK = (1 << 80) - 1
_request_base = int.from_bytes(os.urandom(10), "big")
_request_counter = itertools.count()


def request_ulid() -> str:
    """A ULID for a request id: the time in milliseconds, then a per-process random 80-bit
    start plus a counter (``next`` on an ``itertools.count`` is atomic). Unique in the
    process; across processes and machines as unlikely to collide as two random ULIDs (the
    starts are random). Not monotonic across threads within one millisecond, which a request
    id does not need. A forked child reseeds itself (:func:`reseed_request_ids`)."""
    rand = (_request_base + next(_request_counter)) & _RAND_MASK
    return _encode_ulid(time.time_ns() // 1_000_000, rand)


def reseed_request_ids() -> None:
    """A fresh random start for this process's request ids (after ``fork``)."""
    global _request_base
    _request_base = int.from_bytes(os.urandom(10), "big")


os.register_at_fork(after_in_child=reseed_request_ids)
