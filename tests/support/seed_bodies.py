"""The seed documents' example request bodies (assets/seeds/), shared by the emulator and client tests."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

SEEDS_DIR = Path(__file__).resolve().parents[2] / "assets" / "seeds"


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((SEEDS_DIR / f"invoice_registration_{name}.json").read_text(encoding="utf-8"))


def seed_body(name: str) -> dict[str, Any]:
    """A fresh copy of one example body: ``person``, ``company`` or ``jane_doe``."""
    return copy.deepcopy(_load(name))
