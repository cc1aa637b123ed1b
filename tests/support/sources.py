"""Helpers shared by the source tests: a creditors file written for one test."""

from __future__ import annotations

from pathlib import Path

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.settings import PROJECT_ROOT, load_creditors

DEMO_CREDITORS = PROJECT_ROOT / "creditors.yaml"


def creditors_with(tmp_path: Path, yaml_text: str) -> CreditorsFile:
    p = tmp_path / "creditors.yaml"
    p.write_text(yaml_text, encoding="utf-8")
    return load_creditors(p)


# One Swedish creditor ``acme``; its sources follow.
ACME_HEAD = """creditors:
  - key: acme
    name: Acme AB
    market: SE
    account_id: a1
    creditor_id: c1
    sources:
"""


def one_source_yaml(kind: str, path: str, extra: str = "", *, tabular: str = "column_preset: se-erp\n"
                    "thousands: ' '\n", name: str = "src") -> str:
    """A creditors file of one Swedish creditor ``acme`` with one source ``name``; ``tabular`` holds
    the source's reading options (empty for Peppol), ``extra`` more lines of the source."""
    options = "".join(f"        {line}\n" for line in tabular.splitlines())
    return f"""{ACME_HEAD}      - name: {name}
        kind: {kind}
        path: "{path}"
{options}{extra}"""
