"""What the follow-up records that needs a person reaches the attention report (the alert sensor, the
CLI's exit status): under the Dagster daemon a Norwegian batch's refusals are recorded by the batch
results asset, and a refused report of a payment by the case actions asset, not by registration."""

from __future__ import annotations

from amili_pipelines.alerts.attention import needs_attention
from amili_pipelines.defs.reconcile.assets import AMILI_CASES, CASE_ACTIONS, NORWAY_BATCH_RESULTS
from amili_pipelines.reconciliation.actions import ActionSummary
from amili_pipelines.reconciliation.cases import CaseSyncSummary
from amili_pipelines.registration.batches import BatchResultsSummary


def _lines(key, summary) -> list[str]:
    # The assets' metadata as the sensor reads it back: plain values, under the asset's key.
    return needs_attention({key.to_user_string(): summary.metadata()})


def test_invoices_rejected_in_a_finished_batch_need_a_person():
    [line] = _lines(NORWAY_BATCH_RESULTS, BatchResultsSummary(batches_checked=1, batches_finished=1,
                                                              invoices_registered=3, invoices_rejected=2))
    assert line.startswith("NO: 2 invoice(s) rejected by Amili")


def test_a_refused_report_of_money_needs_a_person():
    [line] = _lines(CASE_ACTIONS, ActionSummary(detected_payments=2, sent=1, rejected=1))
    assert line.startswith("1 report(s) to Amili (payment, crediting, cancellation, withdrawal) refused by Amili")
    batch = {**BatchResultsSummary(batches_checked=1).metadata(), "action_batches_sent": 1, "action_batches_rejected": 1}
    [line] = needs_attention({NORWAY_BATCH_RESULTS.to_user_string(): batch})
    assert "refused by Amili" in line


def test_unclear_reports_and_cases_amili_does_not_know_need_a_person():
    lines = _lines(CASE_ACTIONS, ActionSummary(unknown_outcome=3))
    assert lines == ["3 report(s) to Amili with an unclear outcome: the next run looks them up before anything "
                     "is sent again"]
    [line] = _lines(AMILI_CASES, CaseSyncSummary(no_cases_seen=4, not_found=1))
    assert line.startswith("1 case(s) of ours Amili does not know")


def test_a_follow_up_with_nothing_wrong_needs_nobody():
    assert _lines(CASE_ACTIONS, ActionSummary(detected_payments=2, sent=2)) == []
    assert _lines(NORWAY_BATCH_RESULTS, BatchResultsSummary(batches_checked=2, batches_finished=2,
                                                            invoices_registered=5)) == []
    assert _lines(AMILI_CASES, CaseSyncSummary(se_cases_seen=3, updated=1)) == []
