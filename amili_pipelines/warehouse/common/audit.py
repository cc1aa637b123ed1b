"""The operator audit, for both databases (append-only; an entry is completed once, never otherwise changed)."""

from __future__ import annotations

from datetime import datetime

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.domain.operator import REQUESTED, AuditEntry
from amili_pipelines.warehouse.common import SqlSession

_COLUMNS = ("audit_id, requested_at, actor, via, run_id, action, market, invoice_key, case_id, reason, request,"
            " subject_key, outcome, answer, finished_at")


class SqlAuditStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def record_request(self, entry: AuditEntry) -> None:
        self.db.execute(
            f"INSERT INTO operator_audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [entry.audit_id, entry.requested_at, entry.actor, entry.via, entry.run_id, entry.action, entry.market,
             entry.invoice_key, entry.case_id, entry.reason, entry.request, entry.subject_key, entry.outcome,
             entry.answer, entry.finished_at],
        )

    def record_outcome(self, audit_id: str, *, outcome: str, answer: str | None, case_id: str | None = None,
                       finished_at: datetime | None = None) -> None:
        # Only a request still open is completed: an entry, once finished, is history.
        self.db.execute(
            "UPDATE operator_audit SET outcome = ?, answer = ?, case_id = coalesce(?, case_id), finished_at = ?"
            " WHERE audit_id = ? AND outcome = ?",
            [outcome, answer, case_id, finished_at or utcnow(), audit_id, REQUESTED],
        )

    def for_invoice(self, invoice_key: str) -> list[AuditEntry]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM operator_audit WHERE invoice_key = ?"
                               " ORDER BY requested_at, audit_id", [invoice_key]).fetchall()
        return [AuditEntry(*r) for r in rows]

    def recent(self, *, limit: int = 50, action: str | None = None) -> list[AuditEntry]:
        sql, params = f"SELECT {_COLUMNS} FROM operator_audit", []
        if action:
            sql += " WHERE action = ?"
            params.append(action)
        sql += f" ORDER BY requested_at DESC, audit_id DESC LIMIT {int(limit)}"
        return [AuditEntry(*r) for r in self.db.execute(sql, params).fetchall()]
