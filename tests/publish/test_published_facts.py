"""The published file from stored facts, without the emulator: what analysts read, column by column,
is the same whichever profile published it, and every value arrives whole."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.issues import Issue, Severity
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.warehouse import Warehouse, open_warehouse
from amili_pipelines.warehouse.tables import extraction_tables
from tests.support.records import case, entry, invoice, line, payout, validated

AS_OF = date(2026, 6, 1)
# Invoice numbers with a slash, as many ERPs number them (year / sequence).
QUARANTINED, TWO_CASES = "2026/0042", "2026/0043"


def _facts(wh: Warehouse) -> None:
    """Open, paid and closed cases, money lines and a payout, a quarantined and a rejected invoice
    and an invoice with two cases: something in every published table."""
    broken = Issue(rule="text.control_characters", severity=Severity.ERROR, field="customer_name",
                   message="export.csv row 3: customer_name: contains control characters", location="export.csv", row=3)
    invoices, issues = extraction_tables(partition_date=AS_OF, source="erp", validated=[
        validated(invoice("A", row=1)), validated(invoice("B", row=2)), validated(invoice(QUARANTINED, row=3), broken),
        validated(invoice(TWO_CASES, row=4))])
    wh.invoices.insert(invoices=invoices, issues=issues)
    for number, claimed in (("A", "100.00"), ("B", "200.00"), ("C", "300.00"), (TWO_CASES, "400.00")):
        wh.outbox.enqueue([entry(number, amount=claimed)])
        wh.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{number}", OutboxState.REGISTERED,
                                           case_id=f"c-{number}")])
    wh.outbox.record_outcomes([Outcome(Market.SE, f"demo-se/{TWO_CASES}", OutboxState.REGISTERED,
                                       case_id=f"c-{TWO_CASES}",
                                       seen_cases=((f"c-{TWO_CASES}", None), ("c-other", None)))])
    # Names as ERPs write them: quotes, a line break, separators, an empty one (not unknown).
    named = dataclasses.replace(case("c-A", "A", claimed="100.00"), customer_name='Åsa "Sol" Öberg,\n; AB ')
    wh.cases.upsert_cases([named, dataclasses.replace(case("c-B", "B", claimed="200.00", remaining="150.00"),
                                                      customer_name=""),
                           case("c-C", "C", claimed="300.00", closed="paid"),
                           case(f"c-{TWO_CASES}", TWO_CASES, claimed="400.00")])
    wh.settlements.upsert_lines([line("l1", "c-B", "50.00", number="B"), line("l2", "c-C", "100.00", number="C"),
                                 line("l3", "c-C", "200.00", number="C", payout_id="p1")])
    wh.settlements.upsert_payouts([payout("p1", "175.00")])
    wh.outbox.enqueue([entry("R-1")])
    wh.outbox.record_outcomes([Outcome(Market.SE, "demo-se/R-1", OutboxState.REJECTED, error="debtor unknown",
                                       rejection=[{"message": "debtor unknown"}])])
    wh.reconciliation.rebuild(as_of=AS_OF)


def _publish(location: str | Path, target: Path) -> dict[str, int]:
    with open_warehouse(location) as wh:
        _facts(wh)
        return wh.analytics.publish(analytics_path=target, as_of=AS_OF, published_at="2026-06-01T12:00:00")


def _read(path: Path) -> dict[str, tuple[list[tuple[str, str]], list[tuple]]]:
    """Per table: (column, type) and the rows, without the columns stamped with the time of writing."""
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
            columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?"
                                  " ORDER BY column_index", [table]).fetchall()
            stable = [f'"{c}"' for c, t in columns if t != "TIMESTAMP"]
            out[table] = (columns, con.execute(f"SELECT {', '.join(stable)} FROM {table}").fetchall())
    return out


@pytest.mark.integration
def test_both_profiles_publish_the_same_types_and_values(tmp_path, postgres_server):
    duck = _publish(tmp_path / "op.duckdb", tmp_path / "duck" / "analytics.duckdb")
    pg = _publish(postgres_server.create_database(f"publish_{abs(hash(str(tmp_path))) % 10**12}"),
                  tmp_path / "pg" / "analytics.duckdb")
    assert duck == pg and all(duck.values())
    from_duck, from_pg = _read(tmp_path / "duck" / "analytics.duckdb"), _read(tmp_path / "pg" / "analytics.duckdb")
    assert from_duck.keys() == from_pg.keys()
    for table in from_duck:
        assert from_duck[table][0] == from_pg[table][0], f"{table}: column types differ between the profiles"
        assert from_duck[table][1] == from_pg[table][1], f"{table}: values differ between the profiles"


def test_invoice_numbers_with_a_slash_are_published_whole(tmp_path):
    target = tmp_path / "published" / "analytics.duckdb"
    _publish(tmp_path / "op.duckdb", target)
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT DISTINCT creditor, invoice_number FROM quarantine").fetchall() == [
            ("demo-se", QUARANTINED)]
        assert con.execute("SELECT invoice_number, reason FROM discrepancies").fetchall() == [
            (TWO_CASES, "invoice_with_two_cases")]
        assert con.execute("SELECT count(*) FROM open_cases WHERE invoice_number = ?", [TWO_CASES]).fetchall() == [(1,)]


@pytest.mark.integration
def test_a_slower_publish_of_older_facts_never_replaces_a_newer_file(tmp_path, postgres_server, monkeypatch,
                                                                     caplog):
    """Production runs write in parallel and each ends with a publish: the one that read the
    database first must not rename its older copy over a newer one that finished before it."""
    from amili_pipelines.publish import publish_analytics
    from amili_pipelines.warehouse.postgres.analytics import PgAnalyticsStore

    caplog.set_level(logging.INFO, logger="amili_pipelines.warehouse.postgres")
    url = postgres_server.create_database(f"publish_race_{abs(hash(str(tmp_path))) % 10**12}")
    target = tmp_path / "published" / "analytics.duckdb"
    with open_warehouse(url) as wh:
        _facts(wh)
    first_has_read, go_on = threading.Event(), threading.Event()
    copy_out = PgAnalyticsStore._copy_out

    def slow_for_the_first(self, relation, *args):
        copy_out(self, relation, *args)
        if threading.current_thread().name == "first" and not first_has_read.is_set():
            first_has_read.set()  # its snapshot is taken: it publishes the facts as they were
            go_on.wait(30)

    monkeypatch.setattr(PgAnalyticsStore, "_copy_out", slow_for_the_first)
    errors: list[BaseException] = []

    def publish(name: str, before=None) -> threading.Thread:
        def run() -> None:
            try:
                with open_warehouse(url) as wh:
                    if before:
                        before(wh)
                    publish_analytics(wh, analytics_path=target, as_of=AS_OF)
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)
        thread = threading.Thread(target=run, name=name)
        thread.start()
        return thread

    first = publish("first")
    assert first_has_read.wait(30)
    second = publish("second", before=lambda wh: wh.cases.upsert_cases([case("c-new", "NEW", claimed="10.00")]))
    # Either the second publish finishes (nothing stops it) or it says it waits for the first one.
    deadline = time.monotonic() + 20
    while second.is_alive() and time.monotonic() < deadline and not any(
            r.getMessage().startswith("waiting for publish analytics") for r in caplog.records):
        time.sleep(0.05)
    go_on.set()
    first.join(30)
    second.join(30)
    assert not errors, errors
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM open_cases WHERE invoice_number = 'NEW'").fetchall() == [(1,)], \
            "the newest facts are what analysts read"


def test_a_write_ahead_log_left_by_an_analyst_does_not_lock_readers_out_of_the_next_copy(tmp_path):
    """A BI tool that opens the file read-write and writes to it (or dies while it does) leaves
    ``<file>.wal`` behind. That log belongs to the file being replaced: next to the new copy DuckDB
    refuses to open the file at all, for every reader."""
    target = tmp_path / "published" / "analytics.duckdb"
    _publish(tmp_path / "op.duckdb", target)
    analyst = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, os
        con = duckdb.connect({str(target)!r})
        con.execute("CREATE TABLE my_notes AS SELECT 1 AS x")
        os._exit(0)  # gone without a checkpoint, as a killed notebook kernel goes
    """)], capture_output=True, text=True, timeout=60)
    assert analyst.returncode == 0, analyst.stderr
    assert target.with_name(target.name + ".wal").exists()
    with open_warehouse(tmp_path / "op.duckdb") as wh:
        wh.analytics.publish(analytics_path=target, as_of=AS_OF, published_at="2026-06-02T12:00:00")
    reader = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb
        con = duckdb.connect({str(target)!r}, read_only=True)
        print(con.execute("SELECT CAST(published_at AS VARCHAR) FROM publish_info").fetchall()[0][0])
    """)], capture_output=True, text=True, timeout=60)
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "2026-06-02 12:00:00"


def test_the_file_can_live_in_any_folder(tmp_path):
    target = tmp_path / "ekonomi O'Brien" / "analytics.duckdb"
    assert _publish(tmp_path / "op.duckdb", target)["open_cases"] == 3
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM open_cases").fetchall() == [(3,)]
