"""The clients read any server that keeps the public contract, not only the emulator (reference F.3).

* Norway batches: a numeric error ``code``, ``null`` lists and ``null`` items (B.7, F.2.3) parse;
  Sweden's case histories take ``null`` the same way;
* one batch that cannot be fetched or read does not stop the other batches from being recorded;
* a batch status is terminal in any letter case ("Success");
* a date field written as a datetime with an offset keeps the calendar date as written;
* a token's ``expires_on``/``expires_in`` may be fractional (B.1).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
from pydantic import SecretStr

from amili_pipelines.amili.errors import AuthenticationFailed
from amili_pipelines.amili.fields import parse_date
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.no.models import Batch, InvoiceRecord, NoToken, Settlement
from amili_pipelines.amili.se.models import Case as SeCase
from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.outbox import OutboxState
from amili_pipelines.registration.batches import (
    BatchOutcome,
    BatchResultsSummary,
    batch_outcomes,
    record_finished_batches,
)
from amili_pipelines.registration.engine import enqueue_valid_invoices, register_pending
from amili_pipelines.settings import PROJECT_ROOT, load_creditors
from amili_pipelines.warehouse import open_warehouse
from tests.support.invoices import make_invoices

NO = Market.NO


@pytest.fixture(scope="module")
def creditors():
    return load_creditors(PROJECT_ROOT / "creditors.yaml")


def _no_client(emu) -> AmiliNoClient:
    return AmiliNoClient(base_url=emu.no_base_url, auth_url=emu.no_auth_url, client_id="demo-client",
                         client_secret=SecretStr("demo-secret"), requests_per_second=2000, max_concurrency=8,
                         max_retries=2, backoff_base=0.01, backoff_cap=0.05)


# -- 1. Norway batch items (B.7, F.2.3) and Sweden's case histories ---------------------------------


def test_a_norway_batch_with_numeric_codes_and_null_lists_parses():
    batch = Batch.model_validate({
        "batchId": "b1", "type": "INVOICE", "status": "PARTIAL",
        "succeeded": [None, {"invoiceId": "i0", "invoiceNumber": "N0", "caseId": "c0"}],
        "failed": [
            None,
            {"index": 1, "invoiceNumber": "N1", "uniqueSourceInvoiceId": "K1",
             "errors": [{"code": 4001, "message": "dueDate before invoiceDate", "field": "dueDate"}, None]},
            {"index": 2, "invoiceNumber": "N2", "errors": None},
        ],
    })
    assert [s.case_id for s in batch.succeeded] == ["c0"]
    assert [f.invoice_number for f in batch.failed] == ["N1", "N2"]
    assert [e.code for e in batch.failed[0].errors] == ["4001"], "a numeric code is kept, as text"
    assert batch.failed[1].errors == []
    assert batch.failed[0].to_rejection().issues[0].code == "4001"

    for empty in ({"succeeded": None, "failed": None}, {"failed": [None]}, {"failed": [None], "succeeded": [None]}):
        queued = Batch.model_validate({"batchId": "b2", "status": "FAILED", **empty})
        assert (queued.succeeded, queued.failed) == ([], [])

    assert Batch.model_validate({"batchId": "b3", "failed": [{"errors": [{"code": "DUPLICATE"}]}]}).failed[0].errors[0].code \
        == "DUPLICATE"

    case = SeCase.model_validate({"_id": "a", "state_history": None,
                                  "status_history": [None, {"status": "open", "status_date": "2024-01-15"}]})
    assert case.state_history == []
    assert [s.status for s in case.status_history] == ["open"]


# -- 2. one unreadable batch does not hold up the others --------------------------------------------


def _register_two_batches(wh, emu, creditors, prefix: str) -> list[str]:
    invoices = make_invoices(NO, 6, prefix=prefix)
    enqueue_valid_invoices(wh, invoices, creditors=creditors)

    async def send():
        async with _no_client(emu) as no:
            await register_pending(wh, creditors=creditors, no_client=no, no_batch_size=3)

    asyncio.run(send())
    batch_ids = sorted({w.batch_id for w in wh.outbox.waiting_batches()})
    assert len(batch_ids) == 2, batch_ids
    return batch_ids


def _keys_of(wh, batch_id: str) -> list[str]:
    return [r.invoice_key for r in wh.outbox.batch_rows(batch_id)]


def test_one_batch_that_cannot_be_fetched_does_not_stop_the_others(tmp_path, emulator, creditors, caplog):
    org = creditors.creditor("demo-no").organization_id
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        broken, fine = _register_two_batches(wh, emulator, creditors, "ONEBAD")  # broken sorts first
        emulator.admin.set_faults(error_rates={"404": 1.0}, methods=["GET"],
                                  path_prefixes=[f"/collection/v1/orgs/{org}/batches/{broken}"])

        async def record() -> BatchResultsSummary:
            async with _no_client(emulator) as no:
                return await record_finished_batches(wh, no_client=no, creditors=creditors)

        with caplog.at_level(logging.WARNING, logger="amili_pipelines.registration.batches"):
            summary = asyncio.run(record())
        assert set(summary.failed) == {broken}
        assert "NotFound" in summary.failed[broken]
        assert (summary.batches_failed, summary.batches_finished, summary.invoices_registered) == (1, 1, 3)
        assert summary.statuses == {fine: "SUCCESS"}
        assert {wh.outbox.record(NO, k).state for k in _keys_of(wh, fine)} == {OutboxState.REGISTERED}
        assert {wh.outbox.record(NO, k).state for k in _keys_of(wh, broken)} == {OutboxState.WAITING_FOR_BATCH}
        assert any(broken in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
        meta = summary.metadata()
        assert meta["batches_failed"] == 1 and broken[:8] in meta["failed_batches"]
        assert all(isinstance(v, int | float | str) for v in meta.values()), meta

        emulator.admin.clear_faults()  # the next pass picks the batch up
        later = asyncio.run(record())
        assert (later.failed, later.invoices_registered) == ({}, 3)
        summary.merge(later)
        assert (summary.failed, summary.batches_failed, summary.batches_checked) == ({}, 0, 2)
        assert wh.outbox.state_counts(market=NO)["registered"] == 6


def test_refused_credentials_still_stop_the_pass(tmp_path, emulator, creditors):
    org = creditors.creditor("demo-no").organization_id
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        _register_two_batches(wh, emulator, creditors, "AUTHBAD")
        emulator.admin.set_faults(error_rates={"401": 1.0}, methods=["GET"],
                                  path_prefixes=[f"/collection/v1/orgs/{org}/batches"])

        async def record() -> None:
            async with _no_client(emulator) as no:
                await record_finished_batches(wh, no_client=no, creditors=creditors)

        with pytest.raises(AuthenticationFailed):
            asyncio.run(record())


# -- 3. batch status in any letter case ------------------------------------------------------------


class _TitleCaseStatus:
    """The real client against the emulator, but the batch status written as another server might ("Success")."""

    def __init__(self, client: AmiliNoClient) -> None:
        self._client = client

    async def get_batch(self, *, organization_id: str, batch_id: str) -> Batch:
        batch = await self._client.get_batch(organization_id=organization_id, batch_id=batch_id)
        return batch.model_copy(update={"status": (batch.status or "").title()})


def test_a_batch_status_in_other_letter_case_is_finished(tmp_path, emulator, creditors):
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        _register_two_batches(wh, emulator, creditors, "CASE")

        async def record() -> BatchResultsSummary:
            async with _no_client(emulator) as no:
                return await record_finished_batches(wh, no_client=_TitleCaseStatus(no), creditors=creditors)

        summary = asyncio.run(record())
        assert set(summary.statuses.values()) == {"Success"}
        assert (summary.batches_finished, summary.still_running, summary.invoices_registered) == (2, 0, 6)
        assert wh.outbox.state_counts(market=NO)["registered"] == 6
        assert not wh.outbox.waiting_batches()

    assert BatchOutcome(batch_id="b", status="partial").finished
    assert not BatchOutcome(batch_id="b", status="Queued").finished
    _, outcome = batch_outcomes(Batch.model_validate({"batchId": "b", "status": "Failed"}), [])
    assert outcome.finished


# -- 4. a date written with an offset keeps its calendar date ----------------------------------------


def test_a_date_with_an_offset_keeps_the_calendar_date_as_written():
    assert parse_date("2024-01-15T00:00:00+01:00") == date(2024, 1, 15)
    assert parse_date("2024-01-15T23:30:00-05:00") == date(2024, 1, 15)
    assert parse_date("Mon, 15 Jan 2024 00:30:00 +0200") == date(2024, 1, 15)
    assert parse_date(datetime(2024, 1, 15, 0, 30, tzinfo=timezone(timedelta(hours=1)))) == date(2024, 1, 15)
    # Unchanged: UTC, naive and plain dates.
    assert parse_date("2024-01-15T00:00:00Z") == date(2024, 1, 15)
    assert parse_date("2024-01-15") == date(2024, 1, 15)
    assert parse_date("Mon, 15 Jan 2024 23:59:59 GMT") == date(2024, 1, 15)
    assert Settlement.model_validate({"settlementId": "s", "settlementDate": "2024-01-15T00:00:00+01:00"}) \
        .settlement_date == date(2024, 1, 15)
    assert InvoiceRecord.model_validate({"id": "x", "invoiceDate": "2024-02-01T00:00:00+02:00"}).invoice_date \
        == date(2024, 2, 1)


# -- 5. fractional token times (B.1) ---------------------------------------------------------------


def test_a_token_with_fractional_expiry_is_accepted():
    token = NoToken.model_validate({"access_token": "x", "expires_in": 3599.5, "expires_on": 1767225600.5,
                                    "not_before": "1767222000.25"})
    assert (token.expires_in, token.expires_on, token.not_before) == (3599, 1767225600, 1767222000)
    assert NoToken.model_validate({"access_token": "x", "expires_on": "1767225600"}).expires_on == 1767225600

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/token"
        return httpx.Response(200, content=json.dumps({"access_token": "tok", "token_type": "Bearer",
                                                       "expires_in": 3600.0, "expires_on": 4102444800.75}).encode(),
                              headers={"Content-Type": "application/json"})

    async def authenticate() -> NoToken:
        async with AmiliNoClient(base_url="http://no.test/collection/v1", auth_url="http://no.test/token",
                                 client_id="c", client_secret=SecretStr("s"), transport=httpx.MockTransport(handle),
                                 max_retries=0, backoff_base=0.0) as no:
            return await no.authenticate()

    assert asyncio.run(authenticate()).expires_on == 4102444800
