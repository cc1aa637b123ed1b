"""A read-once source whose old file is skipped as unchanged still shows that file's invoices:
they are not taken for paid or removed at the source, so nothing is cancelled at Amili."""

from __future__ import annotations

from datetime import date

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState, Outcome
from amili_pipelines.reconciliation.actions import detect_source_changes
from amili_pipelines.registration.engine import enqueue_valid_invoices
from amili_pipelines.sources.extract import extract_source
from amili_pipelines.sources.validate import validate_partition
from tests.hostile.cases import csv_bytes, se_record
from tests.support.sources import creditors_with, one_source_yaml

DAY1, DAY2 = date(2026, 11, 20), date(2026, 11, 21)
_YAML = one_source_yaml("csv", "exports/*.csv", name="erp")


def test_an_unchanged_file_skipped_on_a_later_day_still_counts_as_unpaid_at_the_source(tmp_path, warehouse):
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "a.csv").write_bytes(csv_bytes([se_record(Fakturanr="100001")]))
    creditors = creditors_with(tmp_path, _YAML)
    first = extract_source(warehouse, creditors=creditors, source_name="erp", partition_date=DAY1)
    validate_partition(warehouse, creditors=creditors, partition_date=DAY1)
    assert (first.files_read, first.extracted) == (1, 1)
    enqueue_valid_invoices(warehouse, warehouse.invoices.valid_invoices(partition_date=DAY1), creditors=creditors)
    [row] = warehouse.outbox.rows_in_state([OutboxState.PENDING], market=Market.SE)
    warehouse.outbox.record_outcomes([Outcome(Market.SE, row.invoice_key, OutboxState.REGISTERED, case_id="case-1")])

    (tmp_path / "exports" / "b.csv").write_bytes(csv_bytes([se_record(Fakturanr="100002")]))
    second = extract_source(warehouse, creditors=creditors, source_name="erp", partition_date=DAY2)
    assert (second.files_read, second.files_unchanged) == (1, 1), "a.csv is not read again"

    [view] = [v for v in warehouse.actions.source_views() if v.invoice_number == "100001"]
    assert view.present and view.open_balance == view.claimed, "still unpaid at the source, in full"
    detected = detect_source_changes(warehouse, as_of=DAY2)
    assert (detected.detected_payments, detected.detected_creditings, detected.detected_cancellations) == (0, 0, 0)

    (tmp_path / "exports" / "a.csv").unlink()  # now it is really gone from the source
    third = extract_source(warehouse, creditors=creditors, source_name="erp", partition_date=date(2026, 11, 22))
    assert (third.files_read, third.files_unchanged) == (0, 1), "only b.csv is left, unchanged"
    assert detect_source_changes(warehouse, as_of=date(2026, 11, 22)).detected_cancellations == 1


def test_a_file_that_cannot_be_read_does_not_make_its_invoices_look_gone_from_the_source(tmp_path, warehouse):
    """An unreadable file says nothing about its invoices: the day's read of the source is not kept,
    so none of them is cancelled at Amili, and the source's last complete read still counts."""
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "a.csv").write_bytes(csv_bytes([se_record(Fakturanr="100001")]))
    (tmp_path / "exports" / "b.csv").write_bytes(csv_bytes([se_record(Fakturanr="100002")]))
    creditors = creditors_with(tmp_path, _YAML)
    extract_source(warehouse, creditors=creditors, source_name="erp", partition_date=DAY1)
    validate_partition(warehouse, creditors=creditors, partition_date=DAY1)
    enqueue_valid_invoices(warehouse, warehouse.invoices.valid_invoices(partition_date=DAY1), creditors=creditors)
    warehouse.outbox.record_outcomes([Outcome(Market.SE, r.invoice_key, OutboxState.REGISTERED, case_id=f"case-{n}")
                                      for n, r in enumerate(warehouse.outbox.rows_in_state([OutboxState.PENDING],
                                                                                           market=Market.SE))])

    (tmp_path / "exports" / "a.csv").write_bytes(b"\xff\xfe" + "not an export at all".encode("utf-16-le"))
    second = extract_source(warehouse, creditors=creditors, source_name="erp", partition_date=DAY2)
    assert second.files_failed == 1
    assert any("balances of this read are not kept" in w for w in second.warnings), second.warnings
    views = {v.invoice_number: v for v in warehouse.actions.source_views()}
    assert views["100001"].present, "the unreadable file's invoice is not taken for gone"
    detected = detect_source_changes(warehouse, as_of=DAY2)
    assert (detected.detected_payments, detected.detected_creditings, detected.detected_cancellations) == (0, 0, 0)
