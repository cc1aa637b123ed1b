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
