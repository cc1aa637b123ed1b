"""The layer table of ARCHITECTURE.md holds: import contracts, SQL only in the stores, small modules."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from amili_pipelines.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "amili_pipelines"
# Statements, not words: "SELECT ... FROM", "INSERT INTO", "UPDATE x SET", "DELETE FROM", DDL.
SQL = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|"
                 r"\b(CREATE|ALTER|DROP)\s+(TABLE|VIEW|INDEX|MACRO)\b")
LAYER_FOLDERS = ("defs", "sources", "registration", "reconciliation", "publish", "alerts", "books", "amili", "warehouse",
                 "domain", "emulator", "webhooks")


def _modules(*, outside: tuple[str, ...] = ()) -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py")
            if not any(p.is_relative_to(PACKAGE / part) for part in outside)]


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal that is not a docstring, with its line (f-string parts joined)."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    in_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and id(node) not in in_fstrings):
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            out.append((node.lineno, "".join(v.value for v in node.values if isinstance(v, ast.Constant))))
    return out


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    kept = re.search(r"Contracts: (\d+) kept, (\d+) broken", proc.stdout)
    assert kept and int(kept.group(1)) >= 7 and kept.group(2) == "0", proc.stdout[-2000:]


def test_no_duckdb_and_no_sql_outside_the_stores():
    offenders = []
    for path in _modules(outside=("warehouse", "emulator")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "duckdb" or n.startswith("duckdb.") for n in names):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} imports duckdb")
        for line, text in _strings(tree):
            if SQL.search(text):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{line} holds SQL: {text.strip()[:60]!r}")
    assert not offenders, "\n".join(offenders)


def test_the_sql_detector_sees_sql():
    tree = ast.parse('q = "SELECT a FROM t"\nr = f"DELETE FROM {t} WHERE x"\np = "Select a source from the list."')
    assert [bool(SQL.search(s)) for _, s in _strings(tree)] == [True, True, False]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_500_lines(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= 500, f"{path.relative_to(PROJECT_ROOT)} has {lines} lines: split it where it reads better"


@pytest.mark.parametrize("folder", LAYER_FOLDERS)
def test_every_layer_folder_says_what_lives_there(folder):
    readme = PACKAGE / folder / "README.md"
    assert readme.exists(), f"{readme.relative_to(PROJECT_ROOT)} is missing"
    text = readme.read_text(encoding="utf-8")
    assert "import" in text.lower(), f"{readme.relative_to(PROJECT_ROOT)} must say what may be imported"
