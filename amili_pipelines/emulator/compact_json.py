"""The one JSON encoding the emulator writes: responses, webhook bodies and the state file.

Compact separators and UTF-8 without escapes, so a webhook signature computed over these bytes is the
signature of exactly what the receiver gets; ``default=str`` keeps odd values (dates) serialisable.
"""

from __future__ import annotations

import json
from typing import Any

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def dumps(obj: Any) -> bytes:
    return _encoder.encode(obj).encode("utf-8")
