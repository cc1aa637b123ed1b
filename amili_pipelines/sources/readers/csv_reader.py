"""CSV exports: delimiter, encoding (UTF-8 with BOM, Windows-1252, ISO-8859-1) per source.

Before a record is handed on, the file is checked as a whole, because each of these would
otherwise lose or garble invoices without a trace: a UTF-8 file configured as a one-byte
encoding (every name garbled), and an unterminated quote (the rows after it swallowed into one
field). Either fails the file with a message naming the cause; nothing of it is registered.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from amili_pipelines.sources.readers import (
    RECORD_ERROR,
    RecordStream,
    SourceFileError,
    header_index,
    snippet,
)

__all__ = ["SourceFileError", "read_csv"]

# One-byte encodings in which any byte sequence is "valid": a UTF-8 file read in one of them
# yields mojibake ("Ã…sa Ã–berg") that no later check can tell from a real name.
_ONE_BYTE = frozenset({"cp1252", "iso8859-1", "iso8859-15"})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NOT_REGISTERED = "Nothing of this file was registered."


@dataclass(frozen=True)
class _Bytes:
    """What one pass over the raw bytes tells before the file is decoded."""

    quote: bool  # a '"' anywhere: only then can a record span several lines
    nul: bool  # a NUL byte anywhere: only then are values searched for one
    utf8_text: bool  # non-ASCII bytes, all of them valid UTF-8 sequences


def read_csv(path: Path, *, columns: Mapping[str, str], delimiter: str, encoding: str) -> RecordStream:
    scan = _scan_bytes(path)
    _check_encoding(path, encoding, scan)
    # errors="replace": a wrong encoding must not crash the run; the assembler flags U+FFFD.
    fh = open(path, encoding=encoding, errors="replace", newline="")
    reader = csv.reader(fh, delimiter=delimiter)
    try:
        header = _header(reader)
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
        if missing and codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
            _check_header_as_utf8(path, columns=columns, delimiter=delimiter, encoding=encoding,
                                  found={f for f, _ in found})
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
    if scan.quote:
        try:
            _check_no_swallowed_rows(path, encoding=encoding, delimiter=delimiter, width=width)
        except (SourceFileError, OSError):
            fh.close()
            raise
    nul_columns = [(f, i, columns[f]) for f, i in found] if scan.nul else []
    fields = tuple(f for f, _ in found)
    # A whole row's record in one C call (a dict comprehension per row was a tenth of extraction).
    cells = itemgetter(*(i for _, i in found)) if len(found) > 1 else (lambda values: (values[found[0][1]],))

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
                if n == width and not nul_columns:
                    yield row, dict(zip(fields, cells(values)))
                    continue
                rec: dict[str, object] = {f: values[i] for f, i in found if i < n}
                if nul_columns or n != width:
                    problems = _nul_problems(rec, values, nul_columns) if nul_columns else []
                    if n != width:
                        problems.append(f"row has {n} fields, the header has {width} (truncated or shifted row)")
                    if problems:
                        rec[RECORD_ERROR] = "; ".join(problems)
                yield row, rec
        finally:
            fh.close()

    return RecordStream(records=records(), missing_columns=missing, close=fh.close, whole_record_fields=fields)


def _is_blank(values: list[str]) -> bool:
    return not values or (len(values) == 1 and not values[0].strip())


def _header(reader: Iterator[list[str]]) -> list[str]:
    """The first record that is not a blank line (an export may start with one); StopIteration if none."""
    while True:
        values = next(reader)
        if not _is_blank(values):
            return values


def _nul_problems(rec: dict[str, object], values: list[str], columns: list[tuple[str, int, str]]) -> list[str]:
    """A NUL byte is never part of a value (it is damage or a wrong encoding): the value is not
    used (an amount stripped of it could read as another amount, or as 0) and the row says where.
    The value is not quoted: a NUL inside an identity number would hide it from masking."""
    out = []
    n = len(values)
    for f, i, col in columns:
        if i < n and "\0" in values[i]:
            del rec[f]
            out.append(f"column {snippet(col, 40)!r} ({f}) contains a NUL byte (character "
                       f"{values[i].index(chr(0)) + 1} of {len(values[i])}); the value is not used: fix the export")
    return out


def _scan_bytes(path: Path) -> _Bytes:
    decoder = codecs.getincrementaldecoder("utf-8")()
    quote = nul = non_ascii = False
    utf8 = True
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            quote = quote or b'"' in chunk
            nul = nul or b"\0" in chunk
            non_ascii = non_ascii or not chunk.isascii()
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return _Bytes(quote=quote, nul=nul, utf8_text=utf8 and non_ascii)


def _check_encoding(path: Path, encoding: str, scan: _Bytes) -> None:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise SourceFileError(f"{path}: the source's encoding {snippet(encoding, 40)!r} is not a known encoding; "
                              "set 'encoding' to e.g. utf-8-sig or cp1252") from None
    if name in _ONE_BYTE and scan.utf8_text:
        raise SourceFileError(
            f"{path}: the source's encoding is {encoding}, but the file is UTF-8 (all its non-ASCII bytes are UTF-8 "
            f"characters; read as {encoding}, 'Åsa Öberg' would become 'Ã…sa Ã–berg'): set the source's 'encoding' "
            f"to utf-8-sig. {_NOT_REGISTERED}")


def _check_header_as_utf8(path: Path, *, columns: Mapping[str, str], delimiter: str, encoding: str,
                          found: set[str]) -> None:
    """Columns are missing as the file was decoded: if the header matches better as UTF-8, say so
    (a UTF-8 export with a few bytes that are not, configured as a one-byte encoding)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            header = _header(csv.reader(fh, delimiter=delimiter))
        as_utf8, _ = header_index(header, columns, where=str(path))
    except (StopIteration, csv.Error, SourceFileError, OSError):
        return
    gained = [f"{snippet(columns[f], 40)!r} ({f})" for f, _ in as_utf8 if f not in found]
    if gained:
        raise SourceFileError(
            f"{path}: column(s) {', '.join(gained[:3])} not found when the file is read as {encoding}, but found "
            f"when its header is read as UTF-8: the file is "
            f"probably UTF-8 (with some bytes that are not); set the source's 'encoding' to utf-8-sig and check "
            f"the export. {_NOT_REGISTERED}")


def _check_no_swallowed_rows(path: Path, *, encoding: str, delimiter: str, width: int) -> None:
    """A quote that is never closed makes the csv module read every following line into one field,
    up to the next quote or the end of the file (or its field size limit): those rows would vanish
    while the file looks read. A record over several physical lines is fine (an address on two
    lines) unless it holds lines that look like records of their own, or has a wrong field count."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header_seen = False
        row = 0
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row += 1
                if reader.line_num > start:
                    # The reader gave up inside the field; it would have run on to the next quote.
                    end = reader.line_num
                    for line in fh:
                        end += 1
                        if '"' in line:
                            break
                    raise SourceFileError(
                        f"{path}: unterminated quote in row {row} (line {start}): lines {start}-{end} were read as "
                        f"one field ({snippet(exc)}); fix the quote in the source. {_NOT_REGISTERED}") from None
                continue
            if _is_blank(values):
                continue
            if not header_seen:
                header_seen = True
                continue
            row += 1
            if reader.line_num > start and _spans_records(values, delimiter=delimiter, width=width):
                raise SourceFileError(
                    f"{path}: unterminated quote in row {row} (line {start}): lines {start}-{reader.line_num} were "
                    f"read as one record of {len(values)} fields (the header has {width}); fix the quote in the "
                    f"source. {_NOT_REGISTERED}")


def _spans_records(values: list[str], *, delimiter: str, width: int) -> bool:
    """Whether a record read over several lines swallowed others: its field count is wrong, or a
    field holds a line with as many delimiters as a whole record has."""
    if len(values) != width:
        return True
    enough = max(1, width - 1)
    for v in values:
        if "\n" in v or "\r" in v:
            if any(line.count(delimiter) >= enough for line in _LINE_BREAK.split(v)[1:]):
                return True
    return False


def _delimiter_hint(header: list[str], delimiter: str) -> str:
    """Why the header may not match, without quoting the line (it may be anything, e.g. a system file)."""
    line = delimiter.join(header)
    counts = {d: line.count(d) for d in (",", ";", "\t", "|") if d != delimiter}
    likely = max(counts, key=counts.__getitem__)
    if counts[likely] >= 2:
        return (f"split at {delimiter!r} it has {len(header)} column(s), but it holds {counts[likely]} "
                f"{likely!r}: is the source's delimiter {likely!r}?")
    return f"split at {delimiter!r} it has {len(header)} column(s); it does not look like this export's header"
