"""A single-run backfill over several days: each day's materialization carries that day's own
figures (rows read, verdicts, its quarantine table, what it queued), not the totals of the range."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from amili_pipelines.definitions import build_definitions
from amili_pipelines.defs.extract.assets import extract_asset_key
from amili_pipelines.defs.register.assets import NO_REGISTRATIONS, SE_REGISTRATIONS
from amili_pipelines.defs.validate.assets import VALIDATED_INVOICES
from amili_pipelines.settings import load_creditors
from amili_pipelines.sources.validate import validate_partition
from amili_pipelines.warehouse import open_warehouse
from tests.support import synthetic

pytestmark = pytest.mark.integration

SOURCE = "acme-erp"
# Early in the synthetic invoices' year, a few more become overdue every day: the days differ.
DAYS = [date(2026, 2, 20) + timedelta(days=i) for i in range(3)]
KEYS = [d.isoformat() for d in DAYS]


def _creditors_file(tmp_path: Path, emulator) -> Path:
    synthetic.write_se_csv(tmp_path / "unpaid.csv", invoices=800, seed=31, invalid_share=0.3, encoding="utf-8")
    path = tmp_path / "creditors.yaml"
    path.write_text(yaml.safe_dump({"creditors": [{
        "key": "acme", "name": "Acme AB", "market": "SE", "account_id": emulator.se_account,
        "creditor_id": emulator.se_creditor, "grace_days": 10,
        "sources": [{"name": SOURCE, "kind": "csv", "path": str(tmp_path / "unpaid.csv"), "column_preset": "se-erp",
                     "delimiter": ";", "decimal": ",", "thousands": " ", "payment_reference_scheme": "ocr-length",
                     "read_once": False}],
    }]}), encoding="utf-8")
    return path


def _per_day(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, dict]:
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=KEYS),
                                              limit=10).records
    out = {r.partition_key: {k: v.value for k, v in r.asset_materialization.metadata.items()} for r in records}
    assert sorted(out) == KEYS, f"one materialization per day for {key.to_user_string()}"
    assert len({r.run_id for r in records}) == 1, "the whole range ran as one run"
    return out


def test_a_three_day_backfill_reports_each_day_on_its_own(pipeline_env, fresh_emulator, monkeypatch):
    creditors_path = _creditors_file(pipeline_env, fresh_emulator)
    monkeypatch.setenv("AMILI_CREDITORS_FILE", str(creditors_path))
    job = build_definitions().resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={extract_asset_key(SOURCE), VALIDATED_INVOICES, SE_REGISTRATIONS, NO_REGISTRATIONS})
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, tags={
            "dagster/asset_partition_range_start": KEYS[0], "dagster/asset_partition_range_end": KEYS[-1]})
        assert result.success
        extracted = _per_day(instance, extract_asset_key(SOURCE))
        validated = _per_day(instance, VALIDATED_INVOICES)
        registered = _per_day(instance, SE_REGISTRATIONS)

    with open_warehouse(pipeline_env / "amili.duckdb") as wh:
        rows = dict(wh.connection.execute(
            "SELECT strftime(partition_date, '%Y-%m-%d'), count(*) FROM extracted_invoices GROUP BY 1").fetchall())
        valid = dict(wh.connection.execute(
            "SELECT strftime(partition_date, '%Y-%m-%d'), count(*) FILTER (WHERE is_valid) FROM extracted_invoices "
            "GROUP BY 1").fetchall())
        queued = wh.connection.execute("SELECT count(*) FROM registration_outbox").fetchone()[0]
        # What each day alone gives, validated again on its own (idempotent).
        tables = {d.isoformat(): validate_partition(wh, creditors=load_creditors(creditors_path), partition_date=d)
                  .markdown_table() for d in DAYS}

    assert len(set(rows.values())) == 3 and len(set(valid.values())) == 3, f"the days must differ: {rows} {valid}"
    for day in KEYS:
        assert extracted[day]["extracted"] == extracted[day]["dagster/row_count"] == rows[day]
        assert "source_error" not in extracted[day]
        v = validated[day]
        assert (v["extracted"], v["valid"]) == (rows[day], valid[day])
        assert v["extracted"] == v["valid"] + v["quarantined"]
        assert v["quarantine_reasons"] == tables[day], "the day's own quarantine table, once"
        assert sum(v["issues_by_rule"].values()) >= v["quarantined"] > 0
        r = registered[day]
        assert r["enqueued_new"] + r["requeued_after_fix"] + r["already_in_outbox"] == valid[day]
    assert sum(e["extracted"] for e in extracted.values()) == sum(rows.values())
    assert len({v["quarantine_reasons"] for v in validated.values()}) == 3
    assert sum(r["enqueued_new"] for r in registered.values()) == queued
    assert registered[KEYS[0]]["already_in_outbox"] == 0 and registered[KEYS[1]]["already_in_outbox"] > 0
    # Sending is the run's (one run sends every pending invoice): the same figures on each day.
    assert {r["sent"] for r in registered.values()} == {queued}
