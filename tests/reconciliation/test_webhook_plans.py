"""Which runs Norway's pushed events call for (the inbox sensor's decisions, no Dagster, no HTTP)."""

from __future__ import annotations

import json
from datetime import datetime

from amili_pipelines.reconciliation.webhooks import (
    BATCH_RESULTS,
    CASES,
    MAX_NAMED_CASES,
    NOTHING,
    SETTLEMENTS,
    plan_runs,
)
from amili_pipelines.warehouse.inbox import InboxEvent

ORG = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"


def _event(n: int, event: str, data: dict, name_key: str = "type") -> InboxEvent:
    body = json.dumps({"id": f"e{n}", name_key: event, "data": data})
    return InboxEvent(f"h{n:03d}", f"k{n}", datetime(2026, 6, 1), event, f"e{n}", body)


def _by_kind(events):
    return {p.kind: p for p in plan_runs(events, organization_ids={ORG})}


def test_one_run_per_kind_with_the_ids_the_events_name():
    plans = _by_kind([
        _event(1, "BATCH_COMPLETED", {"batchId": "b1", "organizationId": ORG, "status": "success", "type": "INVOICE"}),
        _event(2, "BATCH_COMPLETED", {"batchId": "b1", "organizationId": ORG, "status": "SUCCESS"}),  # duplicate
        _event(3, "CASE", {"caseId": "c1", "orgId": ORG}, name_key="eventType"),
        _event(4, "CASE_UPDATED", {"caseId": "c1", "orgId": ORG, "fields": ["status"]}, name_key="eventType"),
        _event(5, "SETTLEMENT_CREATED", {"settlementId": "s1", "organizationId": ORG, "caseNumber": 1042}),
    ])
    batches = plans[BATCH_RESULTS]
    assert batches.config == {"batch_results": {"batches": [
        {"organization_id": ORG, "batch_id": "b1", "status": "SUCCESS", "type": ""}]}}
    assert batches.event_hashes == ["h001", "h002"]
    assert plans[CASES].config == {"cases": {"norway_cases": [{"organization_id": ORG, "case_id": "c1"}]}}
    assert plans[SETTLEMENTS].config == {"cases": {"norway_cases": [{"organization_id": ORG, "case_number": "1042"}]}}
    assert NOTHING not in plans
    again = _by_kind([_event(2, "BATCH_COMPLETED", {"batchId": "b1", "organizationId": ORG}),
                      _event(1, "BATCH_COMPLETED", {"batchId": "b1", "organizationId": ORG})])
    assert again[BATCH_RESULTS].claim_id == batches.claim_id, "the same events make the same claim"


def test_many_cases_or_a_settlement_without_its_case_read_every_case():
    many = [_event(i, "CASE", {"caseId": f"c{i}", "orgId": ORG}, name_key="eventType")
            for i in range(MAX_NAMED_CASES + 1)]
    assert _by_kind(many)[CASES].config == {"cases": {"norway_cases": []}}
    unnamed = _by_kind([_event(1, "SETTLEMENT_CREATED", {"settlementId": "s1", "organizationId": ORG})])
    assert unnamed[SETTLEMENTS].config == {"cases": {"norway_cases": []}}


def test_events_no_run_can_use_are_kept_apart_with_the_reason():
    plans = _by_kind([
        InboxEvent("h1", "k1", datetime(2026, 6, 1), "?", None, "not json"),
        _event(2, "BATCH_COMPLETED", {"batchId": "b1", "organizationId": "someone-else"}),
        _event(3, "INVOICE_PAID", {"organizationId": ORG}),
        _event(4, "BATCH_COMPLETED", {"organizationId": ORG}),  # no batch id
    ])
    assert list(plans) == [NOTHING]
    notes = plans[NOTHING].notes
    assert len(notes) == 4 and "not JSON" in notes[0] and "not configured" in notes[1]
    assert "no run needed" in notes[2] and "no run needed" in notes[3]
