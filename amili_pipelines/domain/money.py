"""Amounts in kronor/kroner: every API amount becomes a Decimal rounded to the öre/øre."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Below one öre/øre: two amounts closer than this are equal.
TOLERANCE = Decimal("0.005")


def money(value: Any) -> Decimal | None:
    """Any API amount (Decimal, float, int, str) as a Decimal rounded to the öre/øre; None stays None.

    Floats go through ``repr`` so 0.1 becomes 0.10, not 0.1000000000000000055511151231257827.
    """
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money0(value: Any) -> Decimal:
    """Like :func:`money`, with a missing amount read as zero."""
    m = money(value)
    return ZERO if m is None else m
