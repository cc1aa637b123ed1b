"""Use cases: validate a partition's extracted invoices; hand the valid ones to registration."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import duckdb
from pydantic import TypeAdapter

from amili_pipelines.config import CreditorsFile
from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.issues import Severity
from amili_pipelines.domain.validation import RULES, validate_invoices
from amili_pipelines.warehouse.extraction import partition_invoice_json, replace_verdicts

_INVOICES = TypeAdapter(list[SourceInvoice])
_BATCH = 50_000


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


def validate_partition(
    conn: duckdb.DuckDBPyConnection, *, creditors: CreditorsFile, partition_date: date
) -> ValidationSummary:
    """Validate every extracted invoice of ``partition_date`` (all sources together, for the
    cross-source and per-creditor uniqueness rules); replace the partition's issues and verdicts.

    Raises AssertionError if extracted != valid + quarantined (nothing may vanish).
    """
    summary = ValidationSummary(partition_date=partition_date)
    tbl = partition_invoice_json(conn, partition_date=partition_date)
    rowids: list[int] = tbl.column("rid").to_pylist()
    sources: list[str] = tbl.column("source").to_pylist()
    texts: list[str] = tbl.column("invoice_json").to_pylist()
    del tbl
    invoices: list[SourceInvoice] = []
    for start in range(0, len(texts), _BATCH):
        part = texts[start:start + _BATCH]
        invoices.extend(_INVOICES.validate_json("[" + ",".join(part) + "]"))
    del texts
    validated = validate_invoices(invoices, reference_schemes=_schemes(creditors))
    by_rule: Counter[str] = Counter()
    per_source: dict[str, Counter[str]] = {}
    valid_flags: list[bool] = []
    issues: list[tuple[str, str, object]] = []
    for src, v in zip(sources, validated, strict=True):
        ok = v.is_valid
        valid_flags.append(ok)
        c = per_source.setdefault(src, Counter())
        c["extracted"] += 1
        c["valid" if ok else "quarantined"] += 1
        if ok:
            summary.valid += 1
        else:
            summary.quarantined += 1
        if v.issues:
            key = v.invoice.invoice_key
            seen = set()
            for i in v.issues:
                issues.append((src, key, i))
                if i.severity is Severity.WARNING:
                    summary.warnings += 1
                if i.rule not in seen:
                    seen.add(i.rule)
                    by_rule[i.rule] += 1
                    summary.examples.setdefault(i.rule, i.message)
    summary.extracted = len(validated)
    summary.by_rule = dict(by_rule.most_common())
    summary.by_source = {s: dict(c) for s, c in sorted(per_source.items())}
    summary.check()
    conn.execute("BEGIN TRANSACTION")
    try:
        replace_verdicts(conn, partition_date=partition_date, rowids=rowids, valid=valid_flags,
                         issues=issues)  # type: ignore[arg-type]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
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
