"""Secrets never leak: a whole headless Dagster run (with faults) writes no credential or token anywhere we can see.

A dedicated emulator accepts only non-demo secrets, so a value found in the output can only have
come from this run's configuration or from the tokens this emulator issued. Inspected: every
Python log record (caplog + an own root handler, with arguments and tracebacks), stdout/stderr,
every Dagster event of the run (message, metadata, full serialisation), the run record, and every
row of every table and view of the operational and the analytics DuckDB files (plus the raw bytes).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from amili_pipelines.emulator.config import (
    DEMO_NO_CLIENT_ID,
    DEMO_NO_ORG,
    DEMO_SE_ACCOUNT,
    ClientConfig,
    EmulatorConfig,
    FaultConfig,
    NorwayConfig,
    SwedenConfig,
)
from amili_pipelines.emulator.testing import running_emulator
from amili_pipelines.headless import run_daily_job
from amili_pipelines.settings import PROJECT_ROOT, Settings

SE_SECRET = "se-code-7f3a9c-SECRET"
NO_SECRET = "no-secret-2b81d4-SECRET"


class _TokenRecorder:
    """Wraps the emulator engine's token issuers so every token it ever hands out is remembered
    (expired tokens are dropped from the engine's own tables, so reading them at the end is not enough)."""

    def __init__(self, engine) -> None:
        self.se: list[str] = []
        self.no: list[str] = []
        self._lock = threading.Lock()
        se_issue, no_issue = engine.se_issue_token, engine.no_issue_token

        def se_wrapped(account):
            token, expires = se_issue(account)
            with self._lock:
                self.se.append(token)
            return token, expires

        def no_wrapped(client_id):
            token, *rest = no_issue(client_id)
            with self._lock:
                self.no.append(token)
            return (token, *rest)

        engine.se_issue_token = se_wrapped
        engine.no_issue_token = no_wrapped

    def all(self) -> list[str]:
        with self._lock:
            return [*self.se, *self.no]


@pytest.fixture()
def secret_emulator():
    config = EmulatorConfig(
        sweden=SwedenConfig(api_codes={SE_SECRET: DEMO_SE_ACCOUNT}),
        norway=NorwayConfig(clients=[ClientConfig(client_id=DEMO_NO_CLIENT_ID, client_secret=NO_SECRET,
                                                  organizations=[DEMO_NO_ORG])]),
        faults=FaultConfig(seed=4711, error_rates={502: 0.05}, token_actual_ttl_seconds=1.5),
    )
    with running_emulator(config) as emu:  # thread mode: the engine (and its tokens) is reachable
        recorder = _TokenRecorder(emu.engine)
        yield emu, recorder


def _needles(tokens: list[str]) -> dict[str, str]:
    """What must not appear: both secrets (whole and their distinctive core) and every issued token
    (whole and a 16-character prefix, which catches a truncated token but not a deliberate 4-char mask)."""
    needles = {SE_SECRET: "SE api code", NO_SECRET: "NO client secret",
               "7f3a9c": "SE api code (core)", "2b81d4": "NO client secret (core)"}
    for t in tokens:
        needles[t] = "issued token"
        needles[t[:16]] = "issued token (prefix)"
    return needles


def _dump_duckdb(path: Path) -> str:
    """Every row of every table and view, cast to text, plus the raw file bytes."""
    out = io.StringIO()
    conn = duckdb.connect(str(path), read_only=True)
    try:
        relations = conn.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
        assert relations, f"no tables in {path}"
        for schema, name, kind in relations:
            out.write(f"\n## {schema}.{name} ({kind})\n")
            for row in conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall():
                out.write(" | ".join("NULL" if v is None else str(v) for v in row) + "\n")
    finally:
        conn.close()
    out.write(path.read_bytes().decode("latin-1"))
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        out.write(wal.read_bytes().decode("latin-1"))
    return out.getvalue()


def _dagster_text(instance: dg.DagsterInstance, run_id: str) -> str:
    out = io.StringIO()
    run = instance.get_run_by_id(run_id)
    out.write(repr(run) + "\n")
    for entry in instance.all_logs(run_id):
        out.write(f"{entry.user_message}\n{entry.message}\n{entry!r}\n")
        event = entry.dagster_event
        if event is not None:
            out.write(f"{event.message}\n{event.event_specific_data!r}\n")
            data = event.event_specific_data
            mat = getattr(data, "materialization", None) or getattr(data, "asset_check_evaluation", None)
            for source in (mat, data):
                metadata = getattr(source, "metadata", None)
                if isinstance(metadata, dict):
                    for k, v in metadata.items():
                        out.write(f"{k}={v!r} {getattr(v, 'value', v)}\n")
        try:
            out.write(dg._serdes.serialize_value(entry) + "\n")  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 — the reprs above already cover the content
            pass
    return out.getvalue()


def test_pipeline_run_leaks_no_secret_and_no_token(secret_emulator, tmp_path, monkeypatch, caplog, capfd):
    emu, tokens = secret_emulator
    env = {
        "AMILI_SE_BASE_URL": emu.base_url,
        "AMILI_NO_BASE_URL": emu.no_base_url,
        "AMILI_NO_AUTH_URL": emu.no_auth_url,
        "AMILI_SE_API_CODE": SE_SECRET,
        "AMILI_NO_CLIENT_ID": DEMO_NO_CLIENT_ID,
        "AMILI_NO_CLIENT_SECRET": NO_SECRET,
        "AMILI_DUCKDB_PATH": str(tmp_path / "amili.duckdb"),
        "AMILI_ANALYTICS_PATH": str(tmp_path / "amili_analytics.duckdb"),
        "AMILI_CREDITORS_FILE": str(PROJECT_ROOT / "creditors.yaml"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    # Our own handler: formats the message with its args and any traceback, and keeps raw args/extras.
    buffer = io.StringIO()

    class _Everything(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                text = self.format(record)
            except Exception:  # noqa: BLE001
                text = f"{record.msg!r} {record.args!r}"
            buffer.write(f"{text}\n{record.msg!r} {record.args!r} {record.__dict__!r}\n")

    handler = _Everything(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    dagster_logger = logging.getLogger("dagster")
    extra_loggers = [dagster_logger] if not dagster_logger.propagate else []
    for lg in extra_loggers:
        lg.addHandler(handler)
    caplog.set_level(logging.DEBUG)

    started = time.monotonic()
    try:
        settings = Settings()
        assert settings.se_api_code.get_secret_value() == SE_SECRET
        with dg.DagsterInstance.ephemeral() as instance:
            outcome = run_daily_job(partition=date.today(), instance=instance)
            dagster_text = _dagster_text(instance, outcome.run_id)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for lg in extra_loggers:
            lg.removeHandler(handler)
    elapsed = time.monotonic() - started

    # Not vacuous: the run registered invoices in both markets, with faults on, and tokens were issued.
    stats = emu.admin.stats()
    with duckdb.connect(env["AMILI_DUCKDB_PATH"], read_only=True) as conn:
        states = dict(conn.execute(
            "SELECT market || ':' || state, count(*) FROM registration_outbox GROUP BY 1").fetchall())
    assert states.get("SE:registered", 0) > 50, states
    assert states.get("NO:registered", 0) + states.get("NO:waiting_for_batch", 0) > 0, states
    assert tokens.se and tokens.no, "the emulator issued no token; the run did not authenticate"
    assert stats["faults"].get("status_502", 0) > 0, stats["faults"]  # error paths ran
    assert outcome.metadata, "no materialization metadata"

    out, err = capfd.readouterr()
    sources = {
        "caplog": "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r} {r.exc_text or ''}" for r in caplog.records)
        + caplog.text,
        "root handler": buffer.getvalue(),
        "stdout": out,
        "stderr": err,
        "dagster event log": dagster_text,
        "run outcome": repr(outcome),
        "duckdb": _dump_duckdb(Path(env["AMILI_DUCKDB_PATH"])),
    }
    analytics = Path(env["AMILI_ANALYTICS_PATH"])
    if analytics.exists():
        sources["analytics duckdb"] = _dump_duckdb(analytics)
    assert caplog.records and buffer.getvalue() and dagster_text, "nothing captured; the check would be vacuous"

    leaks = [
        f"{what} ({needle[:6]}…) in {where}"
        for needle, what in _needles(tokens.all()).items()
        for where, text in sources.items()
        if needle in text
    ]
    assert not leaks, "secrets leaked:\n" + "\n".join(sorted(set(leaks)))
    assert elapsed < 60, f"run took {elapsed:.1f}s"
