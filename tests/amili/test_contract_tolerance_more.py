"""More of F.3 "client tolerance": shapes a conforming server may send that the emulator does not.

* Norway batch items: invoice numbers and ids sent as JSON numbers are read as their text
  (``1001.0`` as "1001") and still match the outbox rows they belong to;
* Sweden's registration result: an OCR number sent as a JSON number is read as its digits;
* Sweden's ``Case.closed``: a plain date, an object without ``reason``, ``true`` (besides F.1.10's
  ``{"date", "reason"}``) keep their meaning: closed, when, why (or unknown);
* Norway's problem+json ``errors`` as a list (of entries or of messages) still gives field-path
  issues, so a refusal naming one item rejects only that item; Sweden's ``_issues`` as a list keeps
  its messages.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import ApiIssue, ApiRejection
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.no.models import Batch, Claim, Debtor, InvoiceCreate
from amili_pipelines.amili.se.errors import decode_eve_error
from amili_pipelines.amili.se.models import Case as SeCase
from amili_pipelines.amili.se.models import InvoiceRegistrationRecord, InvoiceRegistrationResult
from amili_pipelines.domain.outbox import BatchItemRow, OutboxState
from amili_pipelines.reconciliation.cases import se_case_row
from amili_pipelines.registration.batches import batch_outcomes
from amili_pipelines.registration.norway import offending_items

# -- 1. Norway batch items with numeric invoice numbers and ids -------------------------------------


def test_norway_batch_items_with_numeric_invoice_numbers_parse_and_match_their_rows():
    batch = Batch.model_validate({
        "batchId": "b1", "status": "PARTIAL",
        "succeeded": [{"invoiceId": 501, "invoiceNumber": 1001, "caseId": 9001, "uniqueSourceInvoiceId": 11}],
        "failed": [{"invoiceNumber": 1002.0, "uniqueSourceInvoiceId": 12.0,
                    "errors": [{"code": 4001, "message": "dueDate before invoiceDate", "field": "dueDate"}]}],
    })
    [ok], [bad] = batch.succeeded, batch.failed
    assert (ok.invoice_id, ok.invoice_number, ok.case_id, ok.unique_source_invoice_id) == ("501", "1001", "9001", "11")
    assert (bad.invoice_number, bad.unique_source_invoice_id) == ("1002", "12")  # not "1002.0"

    rows = [BatchItemRow("k-1001", "1001", OutboxState.WAITING_FOR_BATCH),
            BatchItemRow("k-1002", "1002", OutboxState.WAITING_FOR_BATCH)]
    outcomes, summary = batch_outcomes(batch, rows)
    by_key = {o.invoice_key: o for o in outcomes}
    assert by_key["k-1001"].state is OutboxState.REGISTERED and by_key["k-1001"].case_id == "9001"
    assert by_key["k-1002"].state is OutboxState.REJECTED
    assert (summary.registered, summary.rejected, summary.absent, summary.unmatched) == (1, 1, 0, 0)


def test_a_succeeded_item_is_matched_by_our_own_key_when_its_number_is_written_otherwise():
    batch = Batch.model_validate({"batchId": "b2", "status": "SUCCESS", "succeeded": [
        {"invoiceId": "i1", "invoiceNumber": 1001, "caseId": "c1", "uniqueSourceInvoiceId": "demo-no/01001"}]})
    rows = [BatchItemRow("demo-no/01001", "01001", OutboxState.WAITING_FOR_BATCH)]
    [outcome], summary = batch_outcomes(batch, rows)
    assert outcome.state is OutboxState.REGISTERED and outcome.case_id == "c1"
    assert (summary.registered, summary.absent, summary.unmatched) == (1, 0, 0)


def test_an_item_that_matches_no_row_keeps_the_unplaced_rows_waiting_never_sends_them_again():
    # "01001" at our side, 1001 at Amili's and no key echoed: the item may be our row, so it is not
    # proof that Amili lacks the invoice (a pending row would be registered a second time).
    batch = Batch.model_validate({"batchId": "b3", "status": "SUCCESS", "succeeded": [
        {"invoiceId": "i1", "invoiceNumber": 1001, "caseId": "c1"}]})
    rows = [BatchItemRow("demo-no/01001", "01001", OutboxState.WAITING_FOR_BATCH)]
    outcomes, summary = batch_outcomes(batch, rows)
    assert outcomes == [] and (summary.unmatched, summary.absent) == (1, 0)
    empty = Batch.model_validate({"batchId": "b4", "status": "SUCCESS", "succeeded": []})
    [absent], _ = batch_outcomes(empty, rows)  # nothing unmatched: a finished batch without it proves absence
    assert absent.state is OutboxState.PENDING


def test_an_item_path_in_other_letter_case_still_names_the_item():
    exc = ApiRejection("422", issues=[ApiIssue(field="Invoices[1].DueDate", message="must be after InvoiceDate")])
    assert set(offending_items(exc, 3)) == {1}


# -- 2. Sweden's registration result with a numeric OCR ---------------------------------------------


@pytest.mark.parametrize("key", ["ocr_number_ocr", "_ocr_number_ocr"])
def test_sweden_registration_result_reads_a_numeric_ocr_as_its_digits(key: str):
    body = b'{"_id": "r1", "_case": "c1", "_status": "OK", "%s": 20251855102634171529}' % key.encode()
    assert InvoiceRegistrationResult.model_validate_json(body).ocr_number_ocr == "20251855102634171529"
    assert InvoiceRegistrationResult.model_validate(json.loads(body)).ocr_number_ocr == "20251855102634171529"
    assert InvoiceRegistrationRecord.model_validate({"_id": "r1", key: 123.0}).ocr_number_ocr == "123"
    # A string keeps its leading zeros; a float whose digits are already lost gives no OCR, not a wrong one.
    assert InvoiceRegistrationResult.model_validate({"_id": "r", "_case": "c", key: "0042"}).ocr_number_ocr == "0042"
    assert InvoiceRegistrationResult.model_validate({"_id": "r", "_case": "c", key: 2.0251855102634172e19}).ocr_number_ocr is None


# -- 3. Sweden's Case.closed in other shapes -------------------------------------------------------

_JULY_4 = datetime(2025, 7, 4, 8, 20, 41, tzinfo=UTC)


@pytest.mark.parametrize(("closed", "is_closed", "closed_at", "reason"), [
    (None, False, None, None),
    ({"date": "Fri, 04 Jul 2025 08:20:41 GMT", "reason": "paid"}, True, _JULY_4, "paid"),  # F.1.10
    ("Fri, 04 Jul 2025 08:20:41 GMT", True, _JULY_4, None),
    ("2025-07-04T08:20:41.000Z", True, _JULY_4, None),
    ("2025-07-04", True, datetime(2025, 7, 4, tzinfo=UTC), None),
    ({"date": "2025-07-04T08:20:41Z"}, True, _JULY_4, None),
    (True, True, None, None),
])
def test_sweden_case_closed_in_other_shapes_keeps_its_meaning(closed: Any, is_closed: bool, closed_at: Any, reason: Any):
    case = SeCase.model_validate({"_id": "c1", "state": "closed" if is_closed else "invoice", "closed": closed})
    assert (case.is_closed, case.closed_at, case.closed_reason) == (is_closed, closed_at, reason)

    row = se_case_row(case, creditor_by_amili_id={})  # what reconciliation records
    assert row.is_closed is is_closed
    assert row.closed_at == (closed_at.replace(tzinfo=None) if closed_at else None)
    assert row.closed_reason == (reason or ("closed" if is_closed else None))


# -- 4. Error bodies with list-shaped issues -------------------------------------------------------


def _invoice(n: str) -> InvoiceCreate:
    return InvoiceCreate(
        invoice_number=n, original_invoice_amount=100, invoice_date="2024-01-15", due_date="2024-02-15",
        debtors=[Debtor(type="PRIVATE", name="Ola Nordmann")], claims=[Claim(remaining_amount=100)],
    )


def _refused_submit(errors: Any) -> ApiRejection:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
        return httpx.Response(422, headers={"Content-Type": "application/problem+json"}, json={
            "type": "https://tools.ietf.org/html/rfc4918#section-11.2", "title": "Validation failed",
            "status": 422, "traceId": "00-abc", "errors": errors})

    client = AmiliNoClient(base_url="http://no.test/collection/v1", auth_url="http://no.test/token", client_id="c",
                           client_secret=SecretStr("s"), transport=httpx.MockTransport(handler),
                           requests_per_second=1000, max_retries=0, backoff_base=0.001)

    async def go() -> None:
        async with client:
            await client.submit_invoices(organization_id="org", invoices=[_invoice(str(n)) for n in range(3)],
                                         idempotency_key="k1")

    with pytest.raises(ApiRejection) as caught:
        asyncio.run(go())
    return caught.value


def test_norway_problem_errors_as_a_list_of_entries_still_name_the_item():
    exc = _refused_submit([{"field": "invoices[1].dueDate", "message": "must be after invoiceDate", "code": 4001},
                           {"field": "invoices[2].currency", "message": "unknown currency"}])
    assert exc.status_code == 422 and "Validation failed" in str(exc)
    assert exc.issues == (ApiIssue("invoices[1].dueDate", "must be after invoiceDate", "4001"),
                          ApiIssue("invoices[2].currency", "unknown currency"))
    named = offending_items(exc, 3)
    assert sorted(named) == [1, 2]  # only these items are rejected; item 0 is sent again
    assert named[1] == [{"field": "invoices[1].dueDate", "message": "must be after invoiceDate", "code": "4001"}]


def test_norway_problem_errors_as_a_list_of_messages_keeps_the_messages():
    exc = _refused_submit(["invoice number already used", "debtor missing"])
    assert [(i.field, i.message) for i in exc.issues] == [("_", "invoice number already used"), ("_", "debtor missing")]
    assert offending_items(exc, 3) == {}  # no item named: the route halves the batch instead
    # F.2.1's own shape reads as before.
    exc = _refused_submit({"invoices[0].dueDate": ["required"]})
    assert exc.issues == (ApiIssue("invoices[0].dueDate", "required"),)
    assert sorted(offending_items(exc, 3)) == [0]


def test_sweden_issues_as_a_list_keep_their_messages_and_fields():
    strings = decode_eve_error(httpx.Response(422, json={"_status": "ERR", "_issues": ["bad date", "bad amount"]}))
    assert [(i.field, i.message) for i in strings.issues] == [("_", "bad date"), ("_", "bad amount")]
    entries = decode_eve_error(httpx.Response(422, json={
        "_status": "ERR", "_error": {"code": 422, "message": "Insertion failure"},
        "_issues": [{"field": "customer.name", "message": "required field"}, "also this"]}))
    assert entries.message == "Insertion failure"
    assert [(i.field, i.message) for i in entries.issues] == [("customer.name", "required field"), ("_", "also this")]


def test_sweden_payout_lines_with_numeric_ids_and_references_parse():
    from amili_pipelines.amili.se.finance_models import Payout, PayoutSpecification

    spec = PayoutSpecification.model_validate({"_id": 5, "case": 123, "payout": 7, "invoice_number": 1001,
                                               "payout_reference": 42, "amount": "10.50"})
    assert (spec.id, spec.case, spec.payout, spec.invoice_number, spec.payout_reference) == ("5", "123", "7", "1001", "42")
    assert Payout.model_validate({"_id": 8, "creditor": 99, "payout_reference": 42}).creditor == "99"
