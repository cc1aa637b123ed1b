"""Creditors and their sources, as configured in the creditors file (pure model, no file I/O).

Each creditor names its Amili market, its ids there and the sources its unpaid invoices come
from. Reading the file is the settings layer's job (``amili_pipelines.settings``); this module
only validates what was read and explains what is wrong in words a finance team can act on.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from amili_pipelines.domain.books import DEFAULT_CLOSED_UNPAID_GRACE_DAYS, BooksConfig
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.masking import mask_identity_numbers
from amili_pipelines.domain.source_specs import SourceSpec

# What one claim may be at most unless the creditor's ``max_claim`` says otherwise (SEK or NOK).
DEFAULT_MAX_CLAIM = Decimal("10000000")


class CreditorConfig(BaseModel):
    """One creditor: which Amili market it belongs to, its ids there, and where its invoices live."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short stable name used in keys and tables")
    name: str
    market: Market
    # Sweden: the Amili account and creditor ObjectIds.
    account_id: str | None = None
    creditor_id: str | None = None
    # Norway: the organization UUID issued by Amili.
    organization_id: str | None = None
    # Days after the due date before an unpaid invoice is handed over.
    grace_days: int = Field(default=0, ge=0)
    # The largest open balance one claim may have; a larger one is quarantined for a person to confirm.
    max_claim: Decimal = Field(default=DEFAULT_MAX_CLAIM, gt=0, max_digits=18, decimal_places=2)
    sources: list[SourceSpec] = Field(default_factory=list)
    # Days after Amili closed a case as paid before the creditor's books must show it paid too.
    closed_but_source_unpaid_grace_days: int = Field(default=DEFAULT_CLOSED_UNPAID_GRACE_DAYS, ge=0)
    # What the creditor's ERP and ledger get back: file format, columns, accounts.
    books: BooksConfig = Field(default_factory=BooksConfig)

    @model_validator(mode="after")
    def _ids_for_market(self) -> CreditorConfig:
        if self.market is Market.SE and not (self.account_id and self.creditor_id):
            raise ValueError("a Swedish creditor needs account_id and creditor_id")
        if self.market is Market.NO and not self.organization_id:
            raise ValueError("a Norwegian creditor needs organization_id")
        return self


class CreditorsFile(BaseModel):
    """Every configured creditor; relative source paths resolve against ``base_dir``."""

    model_config = ConfigDict(extra="forbid")

    creditors: list[CreditorConfig]
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _unique(self) -> CreditorsFile:
        keys = [c.key for c in self.creditors]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"creditor keys must be unique, repeated: {dupes}")
        names = [s.name for c in self.creditors for s in c.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique across creditors, repeated: {dupes}")
        return self

    def creditor(self, key: str) -> CreditorConfig:
        for c in self.creditors:
            if c.key == key:
                return c
        raise KeyError(f"no creditor {key!r} in the creditors file (known: {[c.key for c in self.creditors]})")

    def grace_days(self) -> dict[str, int]:
        """creditor -> days its books get to show a case Amili closed as paid."""
        return {c.key: c.closed_but_source_unpaid_grace_days for c in self.creditors}

    def in_market(self, market: Market) -> list[CreditorConfig]:
        return [c for c in self.creditors if c.market is market]

    @property
    def markets(self) -> set[Market]:
        return {c.market for c in self.creditors}

    def source(self, name: str) -> tuple[CreditorConfig, SourceSpec]:
        for c in self.creditors:
            for s in c.sources:
                if s.name == name:
                    return c, s
        known = [s.name for c in self.creditors for s in c.sources]
        raise KeyError(f"no source {name!r} in the creditors file (known: {known})")

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p)


class CreditorsFileError(ValueError):
    """The creditors file cannot be used; the message names the file, creditor, source and key.

    The message is masked by content: it is printed, logged and shown in the Dagster UI."""

    def __init__(self, message: str) -> None:
        super().__init__(mask_identity_numbers(message))


def parse_creditors(data: Any, *, origin: str, base_dir: Path) -> CreditorsFile:
    """Validate the parsed YAML of a creditors file, or raise one readable :class:`CreditorsFileError`."""
    if not isinstance(data, dict):
        raise CreditorsFileError(f"{origin}: expected a mapping with a 'creditors' list at the top, "
                                 f"found {type(data).__name__}")
    try:
        return CreditorsFile.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        problems = [_describe_error(data, err) for err in exc.errors(include_url=False)]
        raise CreditorsFileError(
            f"{origin} cannot be used ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
            + "\n".join(f"  - {p}" for p in problems[:20])
            + ("\n  - …" if len(problems) > 20 else "")
        ) from None


def _describe_error(data: dict, err: dict) -> str:
    """'creditor 'demo-se' (entry 1), source 'x': key 'path': Field required' from a pydantic error."""
    loc = list(err.get("loc", ()))
    where: list[str] = []
    if loc[:1] == ["creditors"] and len(loc) > 1 and isinstance(loc[1], int):
        idx = loc[1]
        entries = data.get("creditors") or []
        entry = entries[idx] if isinstance(entries, list) and idx < len(entries) else {}
        key = entry.get("key") if isinstance(entry, dict) else None
        where.append(f"creditor {key!r} (entry {idx + 1})" if key else f"creditor entry {idx + 1}")
        loc = loc[2:]
        if loc[:1] == ["sources"] and len(loc) > 1 and isinstance(loc[1], int):
            sidx = loc[1]
            sources = entry.get("sources") if isinstance(entry, dict) else None
            src = sources[sidx] if isinstance(sources, list) and sidx < len(sources) else {}
            name = src.get("name") if isinstance(src, dict) else None
            where.append(f"source {name!r}" if name else f"source entry {sidx + 1}")
            loc = loc[2:]
            if loc and isinstance(loc[0], str) and loc[0] in {"csv", "excel", "jsonl", "parquet", "sql", "peppol"}:
                loc = loc[1:]  # the discriminator's branch name is noise to a reader
    keys = ".".join(str(p) for p in loc if p != "__root__")
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    value = err.get("input")
    shown = ""
    secret = any(word in keys.lower() for word in ("password", "secret", "token", "key_", "api_key", "url"))
    if keys and not secret and err.get("type") not in ("missing",) and isinstance(value, str | int | float | bool):
        shown = f" (found {str(value)[:40]!r})"
    head = ", ".join(where) or "top level"
    return f"{head}: " + (f"key {keys!r}: " if keys else "") + message + shown
