"""Identifier arithmetic: Eve ETags and the Luhn check digit of Swedish OCR numbers.

Both are pure functions of their inputs, so the same seed and the same calls always give the same
ids (the determinism tests rely on it); the sequences that feed them live in ``state.py``.
"""

from __future__ import annotations

import hashlib
from typing import Any


def etag_for(*parts: Any) -> str:
    return hashlib.sha1(":".join(str(p) for p in parts).encode()).hexdigest()


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)
