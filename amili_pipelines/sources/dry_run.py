"""``amili-pipelines validate TARGET``: read and validate a source without storing or sending anything.

TARGET is a configured source name or a file path (kind guessed from the extension). Nothing
touches Amili or the operational DuckDB file: invoices are validated in memory.
"""

from __future__ import annotations

import codecs
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from amili_pipelines.domain.creditors import CreditorConfig, CreditorsFile
from amili_pipelines.domain.invoice import SourceInvoice
from amili_pipelines.domain.issues import Issue, Severity
from amili_pipelines.domain.masking import MaskedStream, mask_identity_numbers
from amili_pipelines.domain.source_specs import (
    FILE_KINDS,
    CsvSource,
    ExcelSource,
    JsonlSource,
    ParquetSource,
    PeppolSource,
)
from amili_pipelines.domain.validated import ValidatedInvoice
from amili_pipelines.domain.validation import validate_invoices
from amili_pipelines.domain.validation.plausibility import ClaimRow, plausibility_issues
from amili_pipelines.sources.extract import NOT_DUE, PAID, UNPAID, unpaid_status
from amili_pipelines.sources.readers import snippet
from amili_pipelines.sources.reading import (
    AnySpec,
    SourceFileError,
    iter_units,
    read_unit,
)


def _shown(text: str) -> str:
    """For the terminal: masked by content, and never read as rich markup (a file name with [..])."""
    return escape(mask_identity_numbers(text) or "")


def _with_ceiling(validated: list[ValidatedInvoice], creditor: CreditorConfig) -> list[ValidatedInvoice]:
    """The claim ceiling as the pipeline applies it (there is no history here for the outlier rule)."""
    claims = [ClaimRow(v.invoice.source, v.invoice.creditor, v.invoice.invoice_key, v.invoice.location,
                       v.invoice.row, v.invoice.open_balance, v.invoice.currency)
              for v in validated if v.invoice.open_balance is not None]
    at = [i for i, v in enumerate(validated) if v.invoice.open_balance is not None]
    found = plausibility_issues(claims, max_claims={creditor.key: creditor.max_claim}, history={})
    out = list(validated)
    for i, issues in found.items():
        v = out[at[i]]
        out[at[i]] = ValidatedInvoice(v.invoice, v.issues + tuple(issues))
    return out


_SNIFF = 65536


def _guess_csv(path: Path, *, name: str) -> CsvSource:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF)
        whole = not fh.read(1)
    try:
        # Incremental, so that a character cut at the end of the sniffed part (a file longer than
        # it) is left out instead of making a valid UTF-8 file look like Windows-1252.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=whole)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        text = head.decode("cp1252", errors="replace")
        encoding = "cp1252"
    first = next((line for line in text.splitlines() if line.strip()), "")  # the header, after any blank lines
    delimiter = max((";", ",", "\t", "|"), key=first.count)
    folded = first.casefold()
    preset = ("se-erp" if "förfallodatum" in folded else "no-erp" if "forfallsdato" in folded else "canonical")
    date_format = "%d.%m.%Y" if preset == "no-erp" else None
    return CsvSource(name=name, path=str(path), delimiter=delimiter, decimal="," if delimiter == ";" else ".",
                     thousands=" " if delimiter == ";" else None, encoding=encoding, column_preset=preset,
                     date_format=date_format)


def _spec_for_file(path: Path, *, creditor: CreditorConfig) -> AnySpec:
    kind = FILE_KINDS.get(path.suffix.lower())
    name = "dry-run"
    if kind == "csv":
        return _guess_csv(path, name=name)
    if kind == "excel":
        return ExcelSource(name=name, path=str(path), column_preset="se-erp" if creditor.market.value == "SE" else "no-erp")
    if kind == "jsonl":
        return JsonlSource(name=name, path=str(path))
    if kind == "parquet":
        return ParquetSource(name=name, path=str(path))
    if kind == "peppol":
        return PeppolSource(name=name, path=str(path))
    raise ValueError(f"cannot guess the source kind of {path} (known extensions: {sorted(FILE_KINDS)})")


def _pick_creditor(creditors: CreditorsFile, key: str | None) -> CreditorConfig:
    if key:
        return creditors.creditor(key)
    if len(creditors.creditors) == 1:
        return creditors.creditors[0]
    raise ValueError(f"several creditors configured, pick one with --creditor ({[c.key for c in creditors.creditors]})")


def dry_run_command(
    target: str,
    *,
    creditors: CreditorsFile,
    creditor: str | None,
    as_of: date | None,
    max_rows_shown: int = 10,
    console: Console | None = None,
) -> int:
    """Print a validation report for ``target``; exit code 3 when any error rule fires or a file is
    unreadable (a person must fix the source), 2 when the target is unusable."""
    console = console or Console(file=MaskedStream(lambda: sys.stdout))
    as_of = as_of or date.today()
    spec: AnySpec | None = None
    cred: CreditorConfig | None = None
    for c in creditors.creditors:
        for s in c.sources:
            if s.name == target:
                spec, cred = s, c
    try:
        if spec is None:
            path = Path(target)
            if not path.exists():
                console.print(f"[red]{_shown(target)}: neither a configured source nor an existing file[/red]")
                return 2
            if path.is_dir():
                console.print(f"[red]{_shown(target)}: is a folder, not a file: name the export file itself (or "
                              "configure a source whose path matches the files in it)[/red]")
                return 2
            cred = _pick_creditor(creditors, creditor)
            spec = _spec_for_file(path.resolve(), creditor=cred)
            base = Path.cwd()
        else:
            base = creditors.base_dir
    except (ValueError, KeyError) as exc:
        console.print(f"[red]{_shown(str(exc))}[/red]")
        return 2
    except OSError as exc:  # e.g. no permission to read it: the target is unusable, said without a traceback
        console.print(f"[red]{_shown(target)}: cannot be read ({type(exc).__name__}: {_shown(exc.strerror or str(exc))})"
                      "[/red]")
        return 2
    assert cred is not None

    statuses: Counter[str] = Counter()
    unpaid: list[SourceInvoice] = []
    errors: list[str] = []
    units = iter_units(spec, base_dir=base)
    for unit in units:
        try:
            for inv in read_unit(spec, unit, creditor=cred.key, market=cred.market):
                st = unpaid_status(inv, partition_date=as_of, grace_days=cred.grace_days)
                statuses[st] += 1
                if st == UNPAID:
                    unpaid.append(inv)
        except (SourceFileError, Exception) as exc:  # noqa: BLE001 - report, never crash
            errors.append(str(exc) if isinstance(exc, SourceFileError)
                          else f"{unit.location}: {type(exc).__name__}: {snippet(exc)}")

    validated = _with_ceiling(validate_invoices(unpaid, reference_schemes={spec.name: spec.payment_reference_scheme}),
                              cred)
    by_rule: Counter[str] = Counter()
    severity: dict[str, Severity] = {}
    offending: list[Issue] = []
    quarantined = 0
    for v in validated:
        if not v.is_valid:
            quarantined += 1
        for rule in {i.rule for i in v.issues}:
            by_rule[rule] += 1
        for i in v.issues:
            severity[i.rule] = i.severity
            if i.severity is Severity.ERROR and len(offending) < max_rows_shown:
                offending.append(i)

    console.rule(f"[bold]Dry run: {_shown(target)}[/bold] (creditor {cred.key}, {cred.market.value}, as of {as_of})")
    t = Table(title="Counts", show_header=False)
    t.add_row("files / tables", str(len(units)))
    t.add_row("invoices read", str(sum(statuses.values())))
    t.add_row("paid (balance 0)", str(statuses[PAID]))
    t.add_row(f"not yet due (+{cred.grace_days} grace days)", str(statuses[NOT_DUE]))
    t.add_row("to hand over", str(statuses[UNPAID]))
    t.add_row("  valid", f"[green]{len(validated) - quarantined}[/green]")
    t.add_row("  quarantined", f"[red]{quarantined}[/red]" if quarantined else "0")
    console.print(t)
    for e in errors:
        console.print(f"[red]unreadable:[/red] {_shown(e)}")
    if by_rule:
        rt = Table(title="Issues per rule")
        rt.add_column("rule")
        rt.add_column("severity")
        rt.add_column("invoices", justify="right")
        for rule, n in sorted(by_rule.items(), key=lambda kv: (severity[kv[0]] is not Severity.ERROR, -kv[1])):
            sev = severity[rule]
            rt.add_row(rule, f"[red]{sev.value}[/red]" if sev is Severity.ERROR else f"[yellow]{sev.value}[/yellow]",
                       str(n))
        console.print(rt)
    if offending:
        ot = Table(title=f"First {len(offending)} errors")
        for col in ("location", "row", "field", "value", "rule", "message"):
            ot.add_column(col, overflow="fold")
        for i in offending:
            ot.add_row(_shown(i.location or ""), str(i.row or ""), escape(i.field), escape(i.value or ""), i.rule,
                       escape(i.message.split(": ", 2)[-1]))
        console.print(ot)
    failed = quarantined > 0 or bool(errors)
    console.print("[red]errors found[/red]" if failed else "[green]no errors[/green]")
    return 3 if failed else 0
