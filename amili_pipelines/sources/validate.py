"""Use case: validate a partition's extracted invoices (registration reads the valid ones from the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.issues import Severity
from amili_pipelines.domain.validation import (
    CROSS_RULES,
    RULES,
    RULES_VERSION,
    cross_invoice_issues,
    validate_invoices,
)
from amili_pipelines.domain.validation.plausibility import (
    PLAUSIBILITY_RULES,
    plausibility_issues,
    review_threshold,
)
from amili_pipelines.warehouse import Warehouse


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


def _stale_sources(warehouse: Warehouse, *, partition_date: date, schemes: dict[str, str | None]) -> list[str]:
    """Sources of the partition whose stored single-invoice issues are not from this rules version/scheme."""
    checks = warehouse.invoices.rule_checks(partition_date=partition_date)
    return [s for s in warehouse.invoices.partition_sources(partition_date=partition_date)
            if checks.get(s) != (RULES_VERSION, schemes.get(s))]


def _revalidate_source(warehouse: Warehouse, *, partition_date: date, source: str, scheme: str | None) -> None:
    """Re-run the single-invoice rules of one source from the stored invoices, chunk by chunk."""
    store = warehouse.invoices
    store.delete_issues(partition_date=partition_date, source=source)
    for invoices in store.iter_invoices(partition_date=partition_date, source=source):
        # The chunk at once, every invoice under this source's scheme (as stored, whatever it names).
        checked = validate_invoices(invoices, reference_schemes=dict.fromkeys({i.source for i in invoices}, scheme),
                                    cross=False)
        store.append_issues(partition_date=partition_date, source=source,
                            issues=[(v.invoice.invoice_key, i) for v in checked for i in v.issues])
    store.record_rule_check(partition_date=partition_date, source=source, rules_version=RULES_VERSION,
                            reference_scheme=scheme)


def _check_plausibility(warehouse: Warehouse, *, creditors: CreditorsFile, partition_date: date) -> None:
    """Claim ceilings and outliers: per partition, because both depend on the creditor (its
    ``max_claim`` may change between runs, its history grows), not on the invoice alone."""
    store = warehouse.invoices
    max_claims = {c.key: c.max_claim for c in creditors.creditors}
    history = store.claim_history(before=partition_date)
    thresholds = {key: review_threshold(limit, history.get(key)) for key, limit in max_claims.items()}
    rows = store.claims_above(partition_date=partition_date, thresholds=thresholds)
    found = plausibility_issues(rows, max_claims=max_claims, history=history)
    if found:
        store.append_issues(partition_date=partition_date, source=None,
                            issues=[(rows[i].source, rows[i].invoice_key, x) for i in sorted(found) for x in found[i]])


def validate_partition(warehouse: Warehouse, *, creditors: CreditorsFile, partition_date: date) -> ValidationSummary:
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
    store = warehouse.invoices
    # The partition's issues and verdicts are replaced as a whole: one run at a time per day.
    with warehouse.exclusive(f"validate/{partition_date}"), warehouse.transaction():
        for source in _stale_sources(warehouse, partition_date=partition_date, schemes=schemes):
            _revalidate_source(warehouse, partition_date=partition_date, source=source, scheme=schemes.get(source))
        store.delete_issues(partition_date=partition_date, rules=CROSS_RULES + PLAUSIBILITY_RULES)
        keys = store.duplicate_number_rows(partition_date=partition_date)
        if keys:
            extra = cross_invoice_issues(keys)  # type: ignore[arg-type]
            store.append_issues(partition_date=partition_date, source=None,
                                issues=[(keys[i].source, keys[i].invoice_key, x) for i in sorted(extra)
                                        if keys[i].extracted for x in extra[i]])
        _check_plausibility(warehouse, creditors=creditors, partition_date=partition_date)
        store.set_verdicts_from_issues(partition_date=partition_date)
        per_source, per_rule, summary.warnings = store.verdict_summary(partition_date=partition_date)
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

