"""JSON Lines: one JSON object per line; a line that is not an object is a quarantined record."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from amili_pipelines.sources.readers import RECORD_ERROR, RecordStream


def read_jsonl(path: Path, *, columns: Mapping[str, str], encoding: str) -> RecordStream:
    pairs = [(canonical, col.strip().casefold()) for canonical, col in columns.items()]

    def records() -> Iterator[tuple[int, Mapping[str, object]]]:
        row = 0
        with open(path, encoding=encoding, errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row += 1
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield row, {RECORD_ERROR: f"not valid JSON: {exc.msg} at column {exc.colno}"}
                    continue
                if not isinstance(obj, dict):
                    yield row, {RECORD_ERROR: f"expected a JSON object, got {type(obj).__name__}"}
                    continue
                folded = {str(k).strip().casefold(): v for k, v in obj.items()}
                rec: dict[str, object] = {}
                for canonical, col in pairs:
                    v = folded.get(col)
                    if v is not None:
                        # nested values (lists, objects) are not canonical fields: keep them as text
                        rec[canonical] = json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                yield row, rec

    return RecordStream(records=records())
