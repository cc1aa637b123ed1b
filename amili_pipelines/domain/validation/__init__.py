"""Validation of canonical invoices: Nordic identifiers, amounts, dates, uniqueness (no I/O).

``validate_invoices`` is the pure entry point; the use case that reads and writes the warehouse
is :func:`amili_pipelines.sources.validate.validate_partition`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.validated import ValidatedInvoice
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
    kid-mod10, kid-mod11, none); unset sources use the market default.
    """
    schemes = reference_schemes or {}
    extra = cross_invoice_issues(invoices) if cross else {}
    out = []
    for i, inv in enumerate(invoices):
        issues = validate_invoice(inv, reference_scheme=schemes.get(inv.source))
        more = extra.get(i)
        if more:
            issues.extend(more)
        out.append(ValidatedInvoice(inv, tuple(issues)))
    return out


__all__ = ["CROSS_RULES", "RULES", "RULES_VERSION", "Rule", "severity_of", "validate_invoice", "validate_invoices", "cross_invoice_issues"]
