"""CSV exports: delimiter, encoding (UTF-8 with BOM, Windows-1252, ISO-8859-1) per source."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

from amili_pipelines.sources.readers import (
    RECORD_ERROR,
    RecordStream,
    SourceFileError,
    header_index,
    snippet,
)

__all__ = ["SourceFileError", "read_csv"]


def read_csv(path: Path, *, columns: Mapping[str, str], delimiter: str, encoding: str) -> RecordStream:
    # errors="replace": a wrong encoding must not crash the run; the assembler flags U+FFFD.
    fh = open(path, encoding=encoding, errors="replace", newline="")
    # NUL bytes make the csv module raise mid-file; they never carry meaning in an export.
    lines = (line.replace("\0", "") if "\0" in line else line for line in fh)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise SourceFileError(f"{path}: empty file (no header row)") from None
    except csv.Error as exc:
        fh.close()
        raise SourceFileError(f"{path}: not a readable CSV header: {snippet(exc)}") from None
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    try:
        found, missing = header_index(header, columns, where=str(path))
    except SourceFileError:
        fh.close()
        raise
    garbled = [h for h in header if "\ufffd" in h]
    if garbled and (missing or not found):
        # A header that is not valid in the configured encoding hides columns: say why, not just
        # "column not found" (the usual cause is a Windows-1252 export read as UTF-8).
        fh.close()
        raise SourceFileError(f"{path}: the header is not valid {encoding} (e.g. column {snippet(garbled[0], 40)!r}), "
                              "so expected columns cannot be matched; set the source's 'encoding' (e.g. cp1252 for a Windows "
                              "export, utf-16 for Excel's Unicode text)")
    if not found:
        fh.close()
        raise SourceFileError(f"{path}: none of the expected columns found in the first line; "
                              + _delimiter_hint(header, delimiter))
    width = len(header)

    def records() -> Iterator[tuple[int, Mapping[str, object]]]:
        row = 0
        try:
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    row += 1
                    yield row, {RECORD_ERROR: f"unreadable CSV row: {snippet(exc)}"}
                    continue
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue  # blank line: not a record
                row += 1
                n = len(values)
                rec: dict[str, object] = {f: values[i] for f, i in found if i < n}
                if n != width:
                    rec[RECORD_ERROR] = f"row has {n} fields, the header has {width} (truncated or shifted row)"
                yield row, rec
        finally:
            fh.close()

    return RecordStream(records=records(), missing_columns=missing, close=fh.close)


def _delimiter_hint(header: list[str], delimiter: str) -> str:
    """Why the header may not match, without quoting the line (it may be anything, e.g. a system file)."""
    line = delimiter.join(header)
    counts = {d: line.count(d) for d in (",", ";", "\t", "|") if d != delimiter}
    likely = max(counts, key=counts.__getitem__)
    if counts[likely] >= 2:
        return (f"split at {delimiter!r} it has {len(header)} column(s), but it holds {counts[likely]} "
                f"{likely!r}: is the source's delimiter {likely!r}?")
    return f"split at {delimiter!r} it has {len(header)} column(s); it does not look like this export's header"
