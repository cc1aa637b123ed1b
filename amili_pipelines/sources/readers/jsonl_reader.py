"""JSON Lines: one JSON object per line; a line that is not an object is a quarantined record."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from amili_pipelines.sources.readers import RECORD_ERROR, RecordStream, snippet


def read_jsonl(path: Path, *, columns: Mapping[str, str], encoding: str) -> RecordStream:
    pairs = [(canonical, col.strip().casefold()) for canonical, col in columns.items()]

    def records() -> Iterator[tuple[int, Mapping[str, object]]]:
        row = 0
        with open(path, encoding=encoding, errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row += 1
                yield row, _record(line, pairs)

    return RecordStream(records=records())


class _Object(dict):  # type: ignore[type-arg]
    """A JSON object with case- and space-folded keys, remembering keys it saw twice."""

    __slots__ = ("doubled",)


def _object(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object()
    obj.doubled = []
    for k, v in pairs:
        key = k.strip().casefold()
        if key in obj:
            obj.doubled.append(key)
        obj[key] = v
    return obj


def _record(line: str, pairs: list[tuple[str, str]]) -> dict[str, object]:
    """One line -> a record; whatever is wrong with the line (bad JSON, nesting deep enough to
    exhaust the parser's recursion, a key given twice) is that record's error, never the file's."""
    try:
        obj = json.loads(line, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        return {RECORD_ERROR: f"not valid JSON: {exc.msg} at column {exc.colno}"}
    except (RecursionError, ValueError) as exc:
        return {RECORD_ERROR: f"not readable JSON ({type(exc).__name__}: {snippet(exc)})"}
    if not isinstance(obj, dict):
        return {RECORD_ERROR: f"expected a JSON object, got {type(obj).__name__}"}
    doubled = sorted({c for c in obj.doubled if any(c == col for _, col in pairs)})
    if doubled:
        # Which of the two is the open balance is a guess this code does not make.
        return {RECORD_ERROR: "key(s) given more than once: " + ", ".join(repr(snippet(c, 40)) for c in doubled)}
    try:
        rec: dict[str, object] = {}
        for canonical, col in pairs:
            v = obj.get(col)
            if v is not None:
                # nested values (lists, objects) are not canonical fields: keep them as text
                rec[canonical] = json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
        return rec
    except (RecursionError, ValueError) as exc:
        return {RECORD_ERROR: f"a value could not be read ({type(exc).__name__})"}
