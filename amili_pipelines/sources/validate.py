"""Use cases: validate a partition's extracted invoices; hand the valid ones to registration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

import duckdb
from pydantic import TypeAdapter

from amili_pipelines.config import CreditorsFile
from amili_pipelines.domain.invoice import SourceInvoice, invoice_key
from amili_pipelines.domain.issues import Severity
from amili_pipelines.domain.validation import RULES, RULES_VERSION, cross_invoice_issues, validate_invoice
from amili_pipelines.warehouse.extraction import (
    CROSS_RULES,
    append_issues,
    delete_issues,
    duplicate_number_rows,
    iter_source_invoice_json,
    partition_sources,
    record_rule_check,
    rule_checks,
    set_verdicts_from_issues,
    verdict_summary,
)

_INVOICES = TypeAdapter(list[SourceInvoice])


@dataclass
class ValidationSummary:
    partition_date: date
    extracted: int = 0
    valid: int = 0
    quarantined: int = 0
    warnings: int = 0  # warning-severity issues recorded (they do not block)
    by_rule: dict[str, int] = field(default_factory=dict)  # rule id -> invoices it fired on
    examples: dict[str, str] = field(default_factory=dict)  # rule id -> first message
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> extracted/valid/quarantined

    def check(self) -> None:
        if self.extracted != self.valid + self.quarantined:
            raise AssertionError(
                f"partition {self.partition_date}: extracted {self.extracted} != valid {self.valid} + "
                f"quarantined {self.quarantined}"
            )

    def markdown_table(self, *, max_rows: int = 30) -> str:
        """Quarantine reasons (errors first), for Dagster metadata and the CLI."""
        if not self.by_rule:
            return "_no issues_"
        out = ["| rule | severity | invoices | example |", "|---|---|---:|---|"]
        rows = sorted(self.by_rule.items(),
                      key=lambda kv: (RULES[kv[0]].severity is not Severity.ERROR if kv[0] in RULES else False, -kv[1], kv[0]))
        for rule, n in rows[:max_rows]:
            sev = RULES[rule].severity.value if rule in RULES else "error"
            example = self.examples.get(rule, "").replace("|", "\\|")
            out.append(f"| `{rule}` | {sev} | {n} | {example} |")
        if len(rows) > max_rows:
            out.append(f"| … {len(rows) - max_rows} more rules | | | |")
        return "\n".join(out)

    def metadata(self) -> dict[str, object]:
        return {"partition_date": self.partition_date.isoformat(), "extracted": self.extracted,
                "valid": self.valid, "quarantined": self.quarantined, "warnings": self.warnings,
                "by_rule": dict(self.by_rule), "by_source": dict(self.by_source)}


def _schemes(creditors: CreditorsFile) -> dict[str, str | None]:
    return {s.name: s.payment_reference_scheme for c in creditors.creditors for s in c.sources}


def _stale_sources(conn: duckdb.DuckDBPyConnection, *, partition_date: date, schemes: dict[str, str | None]) -> list[str]:
    """Sources of the partition whose stored single-invoice issues are not from this rules version/scheme."""
    checks = rule_checks(conn, partition_date=partition_date)
    return [s for s in partition_sources(conn, partition_date=partition_date)
            if checks.get(s) != (RULES_VERSION, schemes.get(s))]


def _revalidate_source(conn: duckdb.DuckDBPyConnection, *, partition_date: date, source: str,
                       scheme: str | None) -> None:
    """Re-run the single-invoice rules of one source from the stored invoices, chunk by chunk."""
    delete_issues(conn, partition_date=partition_date, source=source)
    for texts in iter_source_invoice_json(conn, partition_date=partition_date, source=source):
        invoices = _INVOICES.validate_json("[" + ",".join(texts) + "]")
        append_issues(conn, partition_date=partition_date, source=source,
                      issues=[(inv.invoice_key, i) for inv in invoices
                              for i in validate_invoice(inv, reference_scheme=scheme)])
    record_rule_check(conn, partition_date=partition_date, source=source, rules_version=RULES_VERSION,
                      reference_scheme=scheme)


class _Keys(NamedTuple):
    """What the cross-invoice rules read of an invoice (a row of the small duplicate-number table)."""

    source: str
    creditor: str
    invoice_number: str
    location: str
    row: int
    open_balance: Decimal | None
    customer_id_number: str | None
    due_date: date | None
    currency: str | None

    @property
    def invoice_key(self) -> str:
        return invoice_key(self.creditor, self.invoice_number, self.location, self.row)


def validate_partition(
    conn: duckdb.DuckDBPyConnection, *, creditors: CreditorsFile, partition_date: date
) -> ValidationSummary:
    """Validate every extracted invoice of ``partition_date`` (all sources together, for the
    cross-source and per-creditor uniqueness rules); replace the partition's issues and verdicts.

    The single-invoice rules already ran in ``extract_source`` (their issues are stored); here only
    the cross-invoice rules run, on the few rows whose invoice number occurs more than once, and
    ``is_valid`` is set in bulk from the issues. A source extracted under other rules or another
    reference scheme is re-validated first, in chunks.

    Raises AssertionError if extracted != valid + quarantined (nothing may vanish).
    """
    summary = ValidationSummary(partition_date=partition_date)
    schemes = _schemes(creditors)
    conn.execute("BEGIN TRANSACTION")
    try:
        for source in _stale_sources(conn, partition_date=partition_date, schemes=schemes):
            _revalidate_source(conn, partition_date=partition_date, source=source, scheme=schemes.get(source))
        delete_issues(conn, partition_date=partition_date, rules=CROSS_RULES)
        keys = [_Keys(s, c, n, loc, row, None if bal is None else Decimal(bal), idn, due, cur)
                for s, c, n, loc, row, bal, idn, due, cur in duplicate_number_rows(conn, partition_date=partition_date)]
        if keys:
            extra = cross_invoice_issues(keys)  # type: ignore[arg-type]
            append_issues(conn, partition_date=partition_date, source=None,
                          issues=[(keys[i].source, keys[i].invoice_key, x) for i in sorted(extra) for x in extra[i]])
        set_verdicts_from_issues(conn, partition_date=partition_date)
        per_source, per_rule, summary.warnings = verdict_summary(conn, partition_date=partition_date)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    for source, extracted, valid in per_source:
        summary.by_source[source] = {"extracted": extracted, "valid": valid, "quarantined": extracted - valid}
        summary.extracted += extracted
        summary.valid += valid
        summary.quarantined += extracted - valid
    per_rule.sort(key=lambda r: (-r[1], r[0]))
    summary.by_rule = {rule: n for rule, n, _ in per_rule}
    summary.examples = {rule: example for rule, _, example in per_rule}
    summary.check()
    return summary


def load_valid_invoices(
    conn: duckdb.DuckDBPyConnection, *, partition_date: date | None = None, creditor: str | None = None
) -> list[SourceInvoice]:
    """Valid invoices ready to register, the newest extraction per invoice key.

    With ``partition_date``: the invoices extracted in that partition. Without: the newest
    extraction of every invoice ever extracted (the ``latest_invoices`` view).
    An invoice key extracted from several sources (identical duplicates) is returned once.
    """
    params: list[object] = []
    if partition_date is None:
        sql = "SELECT invoice_json::VARCHAR FROM latest_invoices WHERE is_valid"
    else:
        sql = ("SELECT invoice_json::VARCHAR FROM (SELECT *, row_number() OVER (PARTITION BY invoice_key"
               " ORDER BY extracted_at DESC, source) AS rn FROM extracted_invoices WHERE partition_date = ?)"
               " WHERE rn = 1 AND is_valid")
        params.append(partition_date)
    if creditor is not None:
        sql += " AND creditor = ?"
        params.append(creditor)
    sql += " ORDER BY invoice_key"
    rows = [r[0] for r in conn.execute(sql, params).fetchall()]
    if not rows:
        return []
    return _INVOICES.validate_json("[" + ",".join(rows) + "]")
