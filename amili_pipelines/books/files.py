"""Files people and other systems pick up: written in one step, reproducible byte for byte.

A file is written to a temporary name in its folder and renamed over the target (``os.replace``),
so a reader (an ERP's import job, a spreadsheet program) sees the old file or the new one, never
half of one. A file whose bytes would not change is not touched at all, so re-running a day
changes nothing on disk. Excel files carry no clock: their timestamps are the business day's, so
the same rows give the same bytes. A temporary copy a killed run left behind is removed by a later
run (``remove_leftovers``): it never lies next to the files for ever, half-written perhaps.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from amili_pipelines.domain.masking import mask_identity_numbers

# Amounts in kronor/kroner: thousands grouped, two decimals, "kr" after (Excel shows the grouping
# and decimal signs of the reader's locale).
KR_FORMAT = '#,##0.00 "kr"'
DATE_FORMAT = "yyyy-mm-dd"


@dataclass(frozen=True)
class Written:
    path: Path
    sha256: str
    bytes: int
    changed: bool  # False: the file already held exactly these bytes


def write_atomically(path: Path, data: bytes) -> Written:
    """Write ``data`` to ``path`` in one step, unless the file already holds exactly these bytes."""
    digest = hashlib.sha256(data).hexdigest()
    if path.exists() and path.stat().st_size == len(data) and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
        return Written(path, digest, len(data), changed=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Written(path, digest, len(data), changed=True)


def write_counted(path: Path, data: bytes, summary: Any) -> Written:
    """:func:`write_atomically`, counted in ``summary`` (``files_written``, ``files_rewritten`` or
    ``files_unchanged``): what a books run tells about its folder."""
    existed = path.exists()
    written = write_atomically(path, data)
    if not written.changed:
        summary.files_unchanged += 1
    elif existed:
        summary.files_rewritten += 1
    else:
        summary.files_written += 1
    return written


# A run renames its temporary copy within moments; one this old was left by a killed run. Younger
# ones are left alone: they may be another run's (production runs in parallel), about to be renamed.
LEFTOVER_AFTER_S = 15 * 60


def remove_leftovers(folder: Path, *, older_than_s: float = LEFTOVER_AFTER_S) -> int:
    """Remove the temporary copies (``write_atomically``'s) in ``folder`` that no run will rename."""
    removed = 0
    for tmp in folder.glob(".*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:  # another run removed it first
            pass
    return removed


def masked(value: Any) -> Any:
    """Text as people may see it: identity numbers masked by content; other values as they are."""
    return mask_identity_numbers(value) if isinstance(value, str) else value


# A cell a spreadsheet program would run: a formula (=, +, -, @) or one hidden behind a tab or CR.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?[\d\s.,]+")


def as_text(value: Any) -> Any:
    """A CSV cell that a spreadsheet program opening the file shows instead of running: a text from
    Amili or a source system that starts like a formula gets a leading apostrophe (the usual
    defence); amounts, negative ones too, stay as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], *, delimiter: str, encoding: str) -> bytes:
    """A CSV file (CRLF line ends, as Windows ERPs expect); characters the encoding lacks become '?'."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else as_text(v) for v in row])
    return buf.getvalue().encode(encoding, errors="replace")


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a header row, typed rows (Decimal -> kr, date -> date), column widths.
    The caller masks what people must not see; cells are written as given."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    money_columns: frozenset[int] = frozenset()  # 0-based columns shown in kr
    note: str | None = None  # a line above the table (what the sheet shows, as of when)


def _write_sheet(ws: Any, sheet: Sheet) -> None:
    bold = Font(bold=True)
    start = 1
    if sheet.note:
        ws.cell(row=1, column=1, value=masked(sheet.note)).font = Font(italic=True)
        start = 3
    for col, name in enumerate(sheet.header, start=1):
        ws.cell(row=start, column=col, value=name).font = bold
    widths = [len(str(h)) for h in sheet.header]
    for r, row in enumerate(sheet.rows, start=start + 1):
        for c, value in enumerate(row):
            cell = ws.cell(row=r, column=c + 1, value=value)
            if cell.data_type == "f":
                cell.data_type = "s"  # a text from Amili or a source that starts with '=' is no formula of ours
            if c in sheet.money_columns:
                cell.number_format = KR_FORMAT
            elif isinstance(value, date):
                cell.number_format = DATE_FORMAT
            widths[c] = max(widths[c], len(str(value)) + (4 if c in sheet.money_columns else 0))
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = min(max(width + 2, 8), 60)
    ws.freeze_panes = ws.cell(row=start + 1, column=1)
    last = get_column_letter(max(len(sheet.header), 1))
    ws.auto_filter.ref = f"A{start}:{last}{start + max(len(sheet.rows), 1)}"


def xlsx_bytes(sheets: Sequence[Sheet], *, stamp: date, title: str) -> bytes:
    """An Excel workbook whose bytes depend only on ``sheets``, ``stamp`` and ``title``."""
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        _write_sheet(wb.create_sheet(title=sheet.title[:31]), sheet)
    moment = datetime(stamp.year, stamp.month, stamp.day)
    wb.properties.creator = "amili-pipelines"
    wb.properties.title = title
    wb.properties.created = moment
    raw = io.BytesIO()
    wb.save(raw)
    return _without_clock(raw.getvalue(), moment)


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _without_clock(data: bytes, moment: datetime) -> bytes:
    """The same workbook with every timestamp (zip entries, 'last modified') set to ``moment``."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=(max(moment.year, 1980), moment.month, moment.day, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, content)
    return out.getvalue()


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


class FolderDisagrees(RuntimeError):
    """The books store would give a file the folder already lists other rows."""


class Manifest:
    """``manifest.json`` of a folder: every file in it with its kind, day, rows, checksum and totals."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "manifest.json"
        self.files: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                self.files = {f["file"]: f for f in json.loads(self.path.read_text(encoding="utf-8"))["files"]}
            except (ValueError, KeyError, TypeError):
                self.files = {}  # unreadable: rebuilt from what is written now

    def knows(self, path: Path) -> bool:
        """The file exists and is byte for byte what the manifest lists (nothing to render)."""
        entry = self.files.get(path.name)
        return bool(entry and path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"])

    def check_same_rows(self, path: Path, *, rows: int, totals: dict[str, str]) -> None:
        """Refuse to give a listed name other rows than it was listed with.

        A name the manifest lists may be in the consumer's books already (an ERP remembers the names
        it imported): other rows under it would be never imported, or imported on top of the old
        ones. It happens when the books store no longer remembers what it exported (restored to an
        earlier point, or replaced) while the folder does; only a person can tell what the ERP holds.
        """
        entry = self.files.get(path.name)
        if entry is None or "rows" not in entry or "totals" not in entry:
            return  # a name not listed yet, or listed without what it held (nothing to compare)
        listed = entry["totals"] if isinstance(entry["totals"], dict) else {}
        # Only the totals both name are compared: a later version may list a total an older one did not.
        if entry["rows"] != rows or any(listed[k] != v for k, v in totals.items() if k in listed):
            raise FolderDisagrees(
                f"{path}: listed in {self.path} with {entry.get('rows')} rows ({entry.get('totals')}), the books "
                f"store now has {rows} ({totals}) for it: the store does not remember what it exported (restored "
                "to an earlier point or replaced?) and facts it exports again may be in the ERP's books already. "
                "Nothing was overwritten; check the ERP's books against the folder, move the folder's files "
                "aside, then run again.")

    def add(self, written: Written, **about: Any) -> None:
        self.files[written.path.name] = {"file": written.path.name, "sha256": written.sha256,
                                         "bytes": written.bytes, **about}

    def save(self) -> Written:
        entries = sorted(self.files.values(), key=lambda f: (f.get("day", ""), f.get("kind", ""), f.get("batch", 0),
                                                             f["file"]))
        return write_atomically(self.path, json_bytes({"files": entries}))
