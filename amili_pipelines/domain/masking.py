"""Masking of personal identity numbers wherever analysts or logs see them."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


def mask_id_number(value: str | None) -> str | None:
    """Keep the birth date part (or the first 6 digits), hide the rest.

    ``19900101-1234`` -> ``19900101-****``, ``010190 12345`` -> ``010190 *****``. Organisation
    numbers are public and need no masking, but callers that do not know which kind a value is
    mask it anyway: the birth-date prefix is enough to recognise a row.
    """
    if value is None:
        return None
    digits_seen = 0
    keep = 8 if len(_DIGITS.findall(value)) >= 12 else 6
    out = []
    for ch in value:
        if ch.isdigit():
            digits_seen += 1
            out.append(ch if digits_seen <= keep else "*")
        else:
            out.append(ch)
    return "".join(out)
