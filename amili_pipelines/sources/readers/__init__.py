"""One reader per source kind. Tabular readers yield (row number, record keyed by canonical field)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

# A record the reader could not read at all (bad JSON line, broken row) carries this key with
# the reason; the assembler turns it into a parse issue so the row is quarantined, not dropped.
RECORD_ERROR = "_record_error"


@dataclass
class RecordStream:
    """What a tabular reader returns for one file/table."""

    records: Iterator[tuple[int, Mapping[str, object]]]
    missing_columns: list[str] = field(default_factory=list)  # canonical fields the source lacks


def header_index(header: list[str], columns: Mapping[str, str]) -> tuple[list[tuple[str, int]], list[str]]:
    """Match the source's header to the mapping (case- and space-insensitive).

    Returns [(canonical field, column index)] and the canonical fields whose column is absent.
    """
    norm = {}
    for i, h in enumerate(header):
        key = (h or "").strip().lstrip("\ufeff").casefold()
        norm.setdefault(key, i)
    found, missing = [], []
    for canonical, col in columns.items():
        i = norm.get(col.strip().casefold())
        if i is None:
            missing.append(canonical)
        else:
            found.append((canonical, i))
    return found, missing
