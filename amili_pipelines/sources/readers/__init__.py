"""One reader per source kind. Tabular readers yield (row number, record keyed by canonical field)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.sources.parsing import MASK_MARGIN, masked_cut

# A record the reader could not read at all (bad JSON line, broken row) carries this key with
# the reason; the assembler turns it into a parse issue so the row is quarantined, not dropped.
RECORD_ERROR = "_record_error"


class SourceFileError(Exception):
    """The file (or table) as a whole cannot be read: empty, not the expected format, ambiguous.

    Masked by content: the message names the file, and a file may be named after a debtor."""

    def __init__(self, message: str) -> None:
        super().__init__(mask_identity_numbers(message))


@dataclass
class RecordStream:
    """What a tabular reader returns for one file/table."""

    records: Iterator[tuple[int, Mapping[str, object]]]
    missing_columns: list[str] = field(default_factory=list)  # canonical fields the source lacks
    close: Callable[[], None] = lambda: None  # release the file when the stream is not read
    # Set by a reader whose records, when read whole, all have exactly these keys in this order and
    # text values (CSV); a record that is not whole differs in its keys (it carries RECORD_ERROR).
    whole_record_fields: tuple[str, ...] | None = None


def snippet(raw: object, limit: int = 60) -> str:
    """A short, printable, masked piece of raw content for a message (never the whole line).

    Masked before it is cut: a number cut in two escapes the masker's pattern. Masking keeps
    lengths, so masking the first ``limit + MASK_MARGIN`` characters masks the part shown exactly
    as masking the whole text would (a hostile 1 MB line is not scanned in full)."""
    printable = "".join(ch if unicodedata.category(ch)[0] != "C" else "?" for ch in str(raw)[: limit + MASK_MARGIN])
    return masked_cut(printable, limit)


def header_index(header: list[str], columns: Mapping[str, str], *, where: str) -> tuple[list[tuple[str, int]], list[str]]:
    """Match the source's header to the mapping (case- and space-insensitive).

    Returns [(canonical field, column index)] and the canonical fields whose column is absent.
    Raises :class:`SourceFileError` when a column the mapping uses appears more than once: which
    of the two holds the open balance is a guess this code does not make.
    """
    positions: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        positions.setdefault((h or "").strip().lstrip("\ufeff").casefold(), []).append(i)
    found, missing, doubled = [], [], []
    for canonical, col in columns.items():
        at = positions.get(col.strip().casefold())
        if at is None:
            missing.append(canonical)
        elif len(at) > 1:
            doubled.append(f"{snippet(col, 40)!r} ({canonical}) appears {len(at)} times, as columns "
                           + ", ".join(str(i + 1) for i in at))
        else:
            found.append((canonical, at[0]))
    if doubled:
        raise SourceFileError(f"{where}: ambiguous header: " + "; ".join(doubled)
                              + ". Rename or remove the extra column; nothing of this file was registered.")
    return found, missing
