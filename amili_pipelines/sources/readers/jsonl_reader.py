"""JSON Lines: one JSON object per line; a line that is not an object is a quarantined record."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from amili_pipelines.sources.readers import (
    RECORD_ERROR,
    RecordStream,
    SourceFileError,
    snippet,
)

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_jsonl(path: Path, *, columns: Mapping[str, str], encoding: str) -> RecordStream:
    pairs = [(canonical, col.strip().casefold()) for canonical, col in columns.items()]
    encoding = _checked_encoding(path, encoding)

    def records() -> Iterator[tuple[int, Mapping[str, object]]]:
        row = 0
        with open(path, encoding=encoding, errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row += 1
                yield row, _record(line, pairs)

    return RecordStream(records=records())


def _checked_encoding(path: Path, encoding: str) -> str:
    """The encoding to open the file with. A UTF-8 file may start with a byte order mark (Windows
    tools write one): it is not part of the first record. A UTF-16 file read as a one-byte or UTF-8
    text is unreadable as a whole, not line by line: that is the file's error, naming the encoding."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise SourceFileError(f"{path}: the source's encoding {snippet(encoding, 40)!r} is not a known encoding; "
                              "set 'encoding' to e.g. utf-8") from None
    if name.startswith(("utf-16", "utf-32")):
        return encoding
    with open(path, "rb") as fh:
        head = fh.read(4096)
    # JSON text never holds a raw NUL byte; UTF-16 text of ASCII characters is every other byte NUL.
    utf16 = head.startswith(_UTF16_BOMS) or (len(head) >= 4 and (
        head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4))
    if utf16:
        raise SourceFileError(f"{path}: the file is UTF-16 text (as Windows' 'Unicode' saves it), but the source reads "
                              f"it as {encoding}: save it as UTF-8, or set the source's 'encoding' to utf-16. "
                              "Nothing of this file was registered.")
    return "utf-8-sig" if name == "utf-8" else encoding


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
