"""Running hostile cases: one case through extract + validate, or all of them as one creditors file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from amili_pipelines.domain.creditors import CreditorsFileError
from amili_pipelines.settings import load_creditors
from amili_pipelines.sources.extract import ExtractSummary, extract_source
from amili_pipelines.sources.validate import ValidationSummary, validate_partition
from amili_pipelines.warehouse import Warehouse
from tests.hostile.cases import Case

AS_OF = date(2026, 11, 21)
# The emulator's demo creditors: a whole run over every case registers with them.
_SE_IDS = "    account_id: 674dbeaf08847b9501cc9132\n    creditor_id: 674dbeb208847b9501cc9138\n"
_NO_IDS = "    organization_id: 2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50\n"


@dataclass
class Outcome:
    extract: ExtractSummary | None = None
    validation: ValidationSummary | None = None
    # (rule, severity, row, message, value) of every issue the case's invoices got
    issues: list[tuple[str, str, int | None, str, str | None]] = field(default_factory=list)
    config_error: str | None = None


def write_files(case: Case, folder: Path) -> None:
    for name, data in case.files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def source_yaml(case: Case, folder: Path, *, name: str) -> str:
    lines = [f"name: {name}", f"kind: {case.kind}"]
    if case.kind != "sql":
        only = next(iter(case.files))
        rel = case.path or only
        lines.append(f"path: {(folder / rel).as_posix()!r}")
    lines += case.source.replace("{dir}", folder.as_posix()).splitlines()
    return "\n".join(("      - " if i == 0 else "        ") + ln for i, ln in enumerate(lines)) + "\n"


def creditor_yaml(*, key: str, market: str, sources: list[str], extra: str = "") -> str:
    ids = _SE_IDS if market == "SE" else _NO_IDS
    more = "".join(f"    {ln}\n" for ln in extra.splitlines())
    return (f"  - key: {key}\n    name: {key}\n    market: {market!r}\n{ids}{more}    sources:\n" + "".join(sources))


def run_case(case: Case, folder: Path, warehouse: Warehouse) -> Outcome:
    """Extract and validate one case's source as of :data:`AS_OF` into ``warehouse``."""
    folder.mkdir(parents=True, exist_ok=True)
    creditors_file = folder / "creditors.yaml"
    if case.creditors_yaml is not None:
        creditors_file.write_text(case.creditors_yaml, encoding="utf-8")
    else:
        write_files(case, folder)
        creditors_file.write_text("creditors:\n" + creditor_yaml(
            key="acme", market=case.market, sources=[source_yaml(case, folder, name="src")], extra=case.creditor),
            encoding="utf-8")
    try:
        creditors = load_creditors(creditors_file)
    except CreditorsFileError as exc:
        return Outcome(config_error=str(exc))
    out = Outcome()
    out.extract = extract_source(warehouse, creditors=creditors, source_name="src", partition_date=AS_OF)
    out.validation = validate_partition(warehouse, creditors=creditors, partition_date=AS_OF)
    out.issues = warehouse.connection.execute(
        "SELECT rule, severity, row_number, message, value FROM invoice_issues WHERE partition_date = ? "
        "ORDER BY row_number, rule", [AS_OF]).fetchall()
    return out


def all_cases_creditors(cases: list[Case], folder: Path) -> Path:
    """One creditors file holding every non-configuration case as a source of the demo creditors."""
    by_market: dict[str, list[str]] = {"SE": [], "NO": []}
    for case in cases:
        if case.creditors_yaml is not None:
            continue
        case_folder = folder / case.id
        write_files(case, case_folder)
        by_market[case.market].append(source_yaml(case, case_folder, name=case.id))
    text = "creditors:\n" + creditor_yaml(key="hostile-se", market="SE", sources=by_market["SE"])
    text += creditor_yaml(key="hostile-no", market="NO", sources=by_market["NO"])
    path = folder / "creditors.yaml"
    path.write_text(text, encoding="utf-8")
    return path
