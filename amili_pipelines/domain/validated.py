"""An invoice together with the verdict of validation."""

from __future__ import annotations

from dataclasses import dataclass

from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.issues import Issue, Severity


@dataclass(frozen=True, slots=True)
class ValidatedInvoice:
    invoice: SourceInvoice
    issues: tuple[Issue, ...] = ()

    @property
    def is_valid(self) -> bool:
        """Valid means ready to register: no error-severity issue (warnings do not block)."""
        return not any(i.severity is Severity.ERROR for i in self.issues)

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)
