"""A whole run over every hostile case, as an operator starts it (``amili-pipelines run``, a
Dagster instance on disk, the emulator over HTTP): the published analytics file, everything the
commands printed, the logs and the Dagster event log hold no unmasked identity number and no
raw content of a file that was not an invoice export."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from amili_pipelines.settings import PROJECT_ROOT
from tests.hostile.cases import IDENTITY_NUMBERS, SECRET_CONTENT, Case, all_cases
from tests.hostile.runner import AS_OF, all_cases_creditors

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("amili-pipelines"))


def _forms(number: str) -> set[str]:
    """The ways a number may be written: as generated, without separator, with a space."""
    return {number, number.replace("-", ""), number.replace("-", " ")}


FORBIDDEN = {form for n in IDENTITY_NUMBERS for form in _forms(n)} | {SECRET_CONTENT}


def _numbered(case: Case, index: int) -> Case:
    """The case with invoice numbers of its own, so that the accepted ones of every case register
    (in one run the same number from two sources would be a cross-source conflict instead)."""
    if case.kind not in ("csv", "jsonl", "peppol"):
        return case
    old, new = (b"2026001", f"20{index:05d}".encode()) if case.kind == "peppol" else (b"10000", f"9{index:03d}0".encode())
    assert not any(old.decode() in n.replace("-", "") for n in IDENTITY_NUMBERS)
    return Case(**{**case.__dict__, "files": {k: v.replace(old, new) for k, v in case.files.items()}})


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], cwd=PROJECT_ROOT, env={**os.environ, **env, "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=600)


def _published_text(path: Path) -> str:
    out = io.StringIO()
    con = duckdb.connect(str(path), read_only=True)
    try:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                out.write(" | ".join("" if v is None else str(v) for v in row) + "\n")
    finally:
        con.close()
    return out.getvalue()


def _event_log_text(instance: dg.DagsterInstance) -> str:
    out = io.StringIO()
    runs = instance.get_runs()
    assert runs, "the run was not recorded in the instance"
    for run in runs:
        out.write(repr(run) + "\n")
        for entry in instance.all_logs(run.run_id):
            out.write(f"{entry.user_message}\n{entry!r}\n")
            out.write(dg._serdes.serialize_value(entry) + "\n")  # type: ignore[attr-defined]
    return out.getvalue()


def _file_text(path: Path) -> str:
    """A file as a person's program shows it: an Excel workbook's XML parts, any other file's text."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return path.read_bytes().decode("utf-8", "replace") + path.read_bytes().decode("cp1252", "replace")


def _leaks(text: str) -> list[str]:
    return sorted(f for f in FORBIDDEN if f in text)


@pytest.mark.timeout(900)
def test_a_run_over_every_hostile_case_leaks_no_identity_number(pipeline_env, tmp_path, monkeypatch):
    cases = [_numbered(c, i) for i, c in enumerate(all_cases())]
    creditors = all_cases_creditors(cases, tmp_path / "cases")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster_instance.yaml").read_text(), encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if k.startswith("AMILI_")}, "DAGSTER_HOME": str(home),
           "AMILI_CREDITORS_FILE": str(creditors)}

    run = _cli("run", "--partition", AS_OF.isoformat(), "--wait-for-batches", "60", env=env)
    # quarantined invoices and unreadable files need a person: finished, exit 3, and it says why
    assert run.returncode == 3, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stdout + run.stderr
    status = _cli("status", env=env)
    assert status.returncode == 0, status.stdout[-2000:] + status.stderr[-2000:]  # nothing left unsettled
    checks = []
    for source, code in (("csv-system-file-not-an-export", 3), ("csv-short-row-shifts-identity-number-into-another-field", 3),
                         ("csv-file-named-after-a-debtor", 0), ("csv-lines-disagree-on-identity-number", 3),
                         ("jsonl-not-json", 3)):
        result = _cli("validate", source, "--as-of", AS_OF.isoformat(), "--rows", "50", env=env)
        assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]
        assert "Traceback" not in result.stdout + result.stderr
        checks.append(result)

    printed = "\n".join(r.stdout + r.stderr for r in [run, status, *checks])
    assert "hostile-se" in printed and "quarantined" in printed  # the commands said something real
    assert _leaks(printed) == [], "an identity number or raw file content was printed"

    published = _published_text(pipeline_env / "amili_analytics.duckdb")
    assert "text.invisible_only" in published and "invoice.lines.disagree" in published
    assert _leaks(published) == [], "the analysts' file holds an unmasked identity number"

    # The files for the creditors' books and the report (next to the published file): people read them.
    books = [p for folder in ("books", "reports") for p in (pipeline_env / folder).rglob("*") if p.is_file()]
    assert any(p.name == "latest.html" for p in books) and any(p.suffix == ".xlsx" for p in books)
    for path in books:
        assert _leaks(_file_text(path)) == [], path

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        events = _event_log_text(instance)
    assert "validate/validated_invoices" in events or "validated_invoices" in events
    assert _leaks(events) == [], "the Dagster event log holds an identity number or raw content"

    # Everything the instance wrote to disk (event log, run storage, compute logs), byte for byte.
    for path in home.rglob("*"):
        if path.is_file():
            raw = path.read_bytes().decode("utf-8", "replace")
            assert _leaks(raw) == [], path
