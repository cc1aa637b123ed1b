"""CSV exports: delimiter, encoding (UTF-8 with BOM, Windows-1252, ISO-8859-1) per source."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from pathlib import Path

from amili_pipelines.sources.readers import RECORD_ERROR, RecordStream, header_index


class SourceFileError(Exception):
    """The file as a whole cannot be read (empty, not the expected format)."""


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
        raise SourceFileError(f"{path}: not a readable CSV header: {exc}") from None
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    found, missing = header_index(header, columns)
    if not found:
        fh.close()
        raise SourceFileError(
            f"{path}: none of the expected columns found (delimiter {delimiter!r}? header starts {header[:5]!r})"
        )
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
                    yield row, {RECORD_ERROR: f"unreadable CSV row: {exc}"}
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

    return RecordStream(records=records(), missing_columns=missing)


def sniff_text(path: Path) -> str:
    """First bytes as text, for error messages."""
    with open(path, "rb") as fh:
        return io.TextIOWrapper(io.BytesIO(fh.read(200)), encoding="utf-8", errors="replace").read()
