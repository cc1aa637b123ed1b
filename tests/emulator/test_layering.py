"""The emulator is the test bed layer: it must not import the client or any other project code."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import amili_pipelines.emulator as emulator_pkg

ALLOWED_THIRD_PARTY = {"starlette", "uvicorn", "pydantic", "jwt", "cryptography", "yaml", "httpx", "uvloop", "pytest"}


def _modules() -> list[Path]:
    root = Path(emulator_pkg.__file__).parent
    return sorted(root.glob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level and node.level > 0:
                if node.level > 1:
                    names.add("amili_pipelines.<parent-relative>")
                continue
            names.add(node.module or "")
    return names


def test_emulator_imports_nothing_from_the_rest_of_the_project() -> None:
    offenders = {}
    for path in _modules():
        bad = {n for n in _imports(path)
               if n.startswith("amili_pipelines") and not n.startswith("amili_pipelines.emulator")}
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_emulator_uses_only_stdlib_and_allowed_libraries() -> None:
    import sys

    stdlib = set(sys.stdlib_module_names)
    for path in _modules():
        for name in _imports(path):
            top = name.split(".")[0]
            if top in ("", "amili_pipelines"):
                continue
            assert top in stdlib or top in ALLOWED_THIRD_PARTY, f"{path.name} imports {name}"


def test_every_emulator_module_imports() -> None:
    for info in pkgutil.iter_modules(emulator_pkg.__path__):
        importlib.import_module(f"amili_pipelines.emulator.{info.name}")
