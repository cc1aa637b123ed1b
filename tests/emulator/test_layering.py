"""The emulator is the test bed layer: it must not import the client or any other project code.

Inside the emulator, the market-neutral core (state, ledger, lifecycle, Eve conventions, problems, ...)
must not depend on a market package, and the two markets must not depend on each other: only the
composition modules (engine, app, persistence, ...) see both.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

import amili_pipelines.emulator as emulator_pkg

ALLOWED_THIRD_PARTY = {"starlette", "uvicorn", "pydantic", "jwt", "cryptography", "yaml", "httpx", "uvloop", "pytest"}
ROOT = Path(emulator_pkg.__file__).parent
PKG = emulator_pkg.__name__
# the modules that wire everything together and so may import both markets
COMPOSITION = {"__init__", "__main__", "admin", "app", "background", "due_work", "engine", "persistence",
               "runtime", "server", "testing"}
MAX_MODULE_LINES = 400


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PKG, *parts])


def _imports(path: Path) -> set[str]:
    """Absolute names of everything ``path`` imports (relative imports resolved)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                names.add(node.module or "")
                continue
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            if node.module:
                names.add(f"{base}.{node.module}")
            else:
                names.update(f"{base}.{a.name}" for a in node.names)
    return names


def _is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_emulator_imports_nothing_from_the_rest_of_the_project() -> None:
    offenders = {}
    for path in _modules():
        bad = {n for n in _imports(path) if _is_under(n, "amili_pipelines") and not _is_under(n, PKG)}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_emulator_uses_only_stdlib_and_allowed_libraries() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in _modules():
        for name in _imports(path):
            top = name.split(".")[0]
            if top in ("", "amili_pipelines"):
                continue
            assert top in stdlib or top in ALLOWED_THIRD_PARTY, f"{path.name} imports {name}"


def test_core_modules_import_no_market_package() -> None:
    markets = (f"{PKG}.sweden", f"{PKG}.norway")
    offenders = {}
    for path in _modules():
        name = _module_name(path)
        if any(_is_under(name, m) for m in markets) or name.rsplit(".", 1)[-1] in COMPOSITION:
            continue
        bad = {n for n in _imports(path) if any(_is_under(n, m) for m in markets)}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_markets_do_not_import_each_other() -> None:
    for market, other in (("sweden", "norway"), ("norway", "sweden")):
        for path in sorted((ROOT / market).rglob("*.py")):
            bad = {n for n in _imports(path) if _is_under(n, f"{PKG}.{other}")}
            assert not bad, f"{market}/{path.name} imports {sorted(bad)}"


def test_no_module_is_too_long_to_read() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these modules (limit {MAX_MODULE_LINES} lines): {long}"


def test_every_emulator_module_imports() -> None:
    found = [info.name for info in pkgutil.walk_packages(emulator_pkg.__path__, prefix=f"{PKG}.")]
    assert {f"{PKG}.sweden.cases", f"{PKG}.norway.batches", f"{PKG}.eve.query"} <= set(found)
    for name in found:
        importlib.import_module(name)
