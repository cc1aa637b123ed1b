"""Amounts: JSON numbers on the wire, integer minor units (öre / øre) inside the emulator.

Keeping money in integers is what lets the per-case identity (see ``ledger.py``) hold exactly, however
many partial payments, fees and interest postings a case sees. Rounding is half-up, as on an invoice.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any


def to_minor(value: Any) -> int:
    """Convert a JSON number (int/float/str) to integer minor units (öre / øre), half-up."""
    if isinstance(value, bool):
        raise ValueError("bool is not an amount")
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:  # pragma: no cover - validated before
        raise ValueError(str(value)) from exc
    return int((d * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(value: int) -> float | int:
    """Integer minor units -> JSON number (int when whole, else float with 2 decimals)."""
    if value % 100 == 0:
        return value // 100
    return round(value / 100, 2)


def pct_of(amount_minor: int, percent: Decimal | float | int | str) -> int:
    d = Decimal(amount_minor) * Decimal(str(percent)) / Decimal(100)
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def is_number(value: Any) -> bool:
    """A JSON number; ``True``/``False`` are not amounts even though Python counts them as ints."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
