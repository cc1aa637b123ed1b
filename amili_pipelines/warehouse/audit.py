"""The operator audit aggregate: who did what to which invoice, why, and what Amili answered."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from amili_pipelines.domain.operator import AuditEntry


class AuditStore(Protocol):
    def record_request(self, entry: AuditEntry) -> None:
        """Write an entry (normally ``requested``) before anything is sent; an id is written once."""

    def record_outcome(self, audit_id: str, *, outcome: str, answer: str | None, case_id: str | None = None,
                       finished_at: datetime | None = None) -> None:
        """Complete an entry with what happened and Amili's answer (masked by the caller)."""

    def for_invoice(self, invoice_key: str) -> list[AuditEntry]:
        """Every entry of one invoice, oldest first."""

    def recent(self, *, limit: int = 50, action: str | None = None) -> list[AuditEntry]:
        """The newest entries first."""
