"""Validation of canonical invoices: Nordic identifiers, amounts, dates, uniqueness (no I/O).

``validate_invoices`` is the pure entry point; the use case that reads and writes the warehouse
is :func:`amili_pipelines.sources.validate.validate_partition`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.issues import Issue
from amili_pipelines.domain.validated import ValidatedInvoice
from amili_pipelines.domain.validation.bulk import single_invoice_issues
from amili_pipelines.domain.validation.catalogue import RULES, Rule, severity_of
from amili_pipelines.domain.validation.cross import cross_invoice_issues
from amili_pipelines.domain.validation.rules import validate_invoice

# Bump when a single-invoice rule changes what it finds: extractions checked under another version
# are re-validated by validate_partition instead of trusting the issues stored at extract time.
_RULES_REVISION = "3"
# The rules that look across invoices of a partition (validate_partition re-runs only these).
CROSS_RULES = ("invoice.number.unique", "invoice.conflict_across_sources", "invoice.duplicate_across_sources")
RULES_VERSION = _RULES_REVISION + ":" + hashlib.sha256(
    "|".join(f"{r.id}={r.severity.value}" for r in RULES.values()).encode()).hexdigest()[:12]


def validate_invoices(
    invoices: Sequence[SourceInvoice],
    *,
    reference_schemes: Mapping[str, str | None] | None = None,
    cross: bool = True,
) -> list[ValidatedInvoice]:
    """Validate a set of invoices (a whole partition, for the cross-invoice rules).

    ``reference_schemes`` maps source name -> payment reference scheme (ocr, ocr-length, kid,
    kid-mod10, kid-mod11, none); unset sources use the market default. Each invoice gets what
    ``validate_invoice`` gives it, then its cross-invoice issues (with ``cross``); the single-invoice
    rules run over the whole list at once (bulk.py), so a chunk of invoices is best passed in one call.
    """
    found = single_invoice_issues(invoices, reference_schemes or {})
    if cross:
        for i, more in cross_invoice_issues(invoices).items():
            found.setdefault(i, []).extend(more)
    issues: list[tuple[Issue, ...]] = [()] * len(invoices)
    for i, own in found.items():
        issues[i] = tuple(own)
    return list(map(ValidatedInvoice, invoices, issues))


__all__ = ["CROSS_RULES", "RULES", "RULES_VERSION", "Rule", "severity_of", "validate_invoice", "validate_invoices",
           "cross_invoice_issues"]
