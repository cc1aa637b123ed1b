"""Where a creditor's invoices are read from: one declarative model per source kind.

The ``kind`` field discriminates. Adding a source is a change to the creditors file, never to code.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

# How the creditor's payment reference is checked. None: the market default
# (SE: OCR with Luhn check digit, length digit optional; NO: KID with MOD10 or MOD11).
ReferenceScheme = Literal["ocr", "ocr-length", "kid", "kid-mod10", "kid-mod11", "none"]


class _SourceBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str | None = None
    # Canonical field name -> the source's own column name. Unset fields use the preset.
    columns: dict[str, str] = Field(default_factory=dict)
    column_preset: str | None = None
    payment_reference_scheme: ReferenceScheme | None = None
    # Values written into every record when the source has no column for them (e.g. currency: SEK).
    defaults: dict[str, str] = Field(default_factory=dict)
    # A source without an open-balance column: say explicitly that its invoice totals are what is
    # still owed (nothing was ever paid on them). Otherwise a missing balance column is an error.
    totals_are_open_balances: bool = False


class _FileSource(_SourceBase):
    path: str  # a file or a glob, relative to the creditors file
    # Each file is read once unless its content changes (sha256). Turn off for a full snapshot
    # export that must be re-read every day.
    read_once: bool = True
    # A path or glob that matches no file is a source error, unless the source may be empty some days.
    optional: bool = False


class CsvSource(_FileSource):
    kind: Literal["csv"] = "csv"
    delimiter: str = ";"
    decimal: str = ","
    thousands: str | None = None
    encoding: str = "utf-8-sig"
    date_format: str | None = None  # strptime format; None accepts ISO dates (and YYYYMMDD, DD.MM.YYYY)


class ExcelSource(_FileSource):
    kind: Literal["excel"] = "excel"
    sheet: str | None = None  # None: the first sheet
    header_row: int = 1  # 1-based row holding the column names
    decimal: str = ","  # only used for amounts stored as text
    thousands: str | None = None
    date_format: str | None = None


class JsonlSource(_FileSource):
    kind: Literal["jsonl"] = "jsonl"
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    date_format: str | None = None


class ParquetSource(_FileSource):
    kind: Literal["parquet"] = "parquet"
    decimal: str = "."
    thousands: str | None = None
    date_format: str | None = None


class SqlSource(_SourceBase):
    kind: Literal["sql"] = "sql"
    url: str  # SQLAlchemy URL; "${ENV_VAR}" parts are expanded from the environment
    query: str | None = None
    table: str | None = None  # used when no query is given: SELECT * FROM table
    decimal: str = "."
    thousands: str | None = None
    date_format: str | None = None


class PeppolSource(_FileSource):
    kind: Literal["peppol"] = "peppol"


SourceSpec = Annotated[
    Union[CsvSource, ExcelSource, JsonlSource, ParquetSource, SqlSource, PeppolSource],
    Field(discriminator="kind"),
]

FILE_KINDS = {".csv": "csv", ".txt": "csv", ".xlsx": "excel", ".xlsm": "excel", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".parquet": "parquet", ".xml": "peppol"}
