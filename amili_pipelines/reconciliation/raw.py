"""Amili's own answer, kept as JSON next to each stored case and money line (for audits)."""

from __future__ import annotations

import json
from typing import Any


def to_json(value: Any) -> str:
    """JSON of an API object; pydantic models dumped in JSON mode (dates as strings), by alias."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", by_alias=True)
    return json.dumps(value, default=str, separators=(",", ":"))
