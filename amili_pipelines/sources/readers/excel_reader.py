"""Excel .xlsx (openpyxl, read-only, cached values): formula cells yield their last computed value.

Row numbers in messages are the sheet's row numbers (the header on ``header_row``, blank rows counted)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from amili_pipelines.sources.readers import (
    RecordStream,
    SourceFileError,
    header_index,
    snippet,
)


def read_excel(path: Path, *, columns: Mapping[str, str], sheet: str | None, header_row: int) -> RecordStream:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # data_only: a formula cell gives its cached value (None if never calculated), never the formula.
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SourceFileError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__}: {snippet(exc)})") from None
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
    except (KeyError, IndexError):
        wb.close()
        raise SourceFileError(f"{path}: no sheet {sheet!r} (sheets: {wb.sheetnames})") from None
    # Read-only mode stops at the sheet's stored <dimension ref>, which some writers leave smaller
    # than the data: rows past it would be lost without a trace. Read every row the sheet holds.
    ws.reset_dimensions()
    rows = ws.iter_rows(min_row=header_row, values_only=True)
    try:
        header = [str(h) if h is not None else "" for h in next(rows)]
    except StopIteration:
        wb.close()
        raise SourceFileError(f"{path}: empty sheet {ws.title!r}") from None
    try:
        found, missing = header_index(header, columns, where=str(path))
    except SourceFileError:
        wb.close()
        raise
    if not found:
        wb.close()
        found_text = snippet(", ".join(str(h) for h in header[:6]))
        raise SourceFileError(f"{path}: none of the expected columns in row {header_row} (found {found_text!r})")

    def records() -> Iterator[tuple[int, Mapping[str, object]]]:
        # The row number is the sheet's own (as a person sees it in Excel): openpyxl yields every
        # row from the header on, an empty tuple for a row the file leaves out.
        try:
            for row, values in enumerate(rows, start=header_row + 1):
                if values is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                n = len(values)
                yield row, {f: values[i] for f, i in found if i < n}
        finally:
            wb.close()

    return RecordStream(records=records(), missing_columns=missing, close=wb.close)
