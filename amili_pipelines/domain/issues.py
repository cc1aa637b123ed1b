"""What is wrong with an invoice: one :class:`Issue` per broken rule."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator

from amili_pipelines.domain.masking import mask_identity_numbers


class Severity(StrEnum):
    ERROR = "error"  # blocks registration; the invoice is quarantined
    WARNING = "warning"  # recorded; the invoice proceeds


class Issue(BaseModel):
    """A broken rule on one field of one invoice.

    ``message`` is meant for the person who fixes the source: it names the file or table, the
    row, the field and the value. Message, value and location are masked by content when built: a
    personnummer that a shifted column put into another field is masked like one in its own, and
    so is one in a file's name (a folder of e-invoices named after the debtor).
    """

    model_config = ConfigDict(frozen=True)

    rule: str  # stable id, e.g. "se.personnummer.checksum"
    severity: Severity
    field: str  # canonical field name, e.g. "customer_id_number" or "lines[2].total_excl_vat"
    message: str
    value: str | None = None  # masked where it is a personal identity number
    location: str | None = None
    row: int | None = None

    @field_validator("message", "value", "location")
    @classmethod
    def _mask(cls, text: str | None) -> str | None:
        return mask_identity_numbers(text)
