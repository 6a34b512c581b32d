"""Decimals as people write them."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def plain_decimal(value: Decimal) -> Decimal:
    """``value`` without a positive exponent: ``Decimal("1e3")`` (which ``str`` writes as
    ``1E+3``) becomes ``Decimal("1000")``; any other value is returned as it is. A value too
    large to write out in full (beyond the context's 28 digits) is left for the caller's range
    check to refuse."""
    if not value.is_finite() or int(value.as_tuple().exponent) <= 0:
        return value
    try:
        return value.quantize(Decimal(1))
    except InvalidOperation:
        return value
