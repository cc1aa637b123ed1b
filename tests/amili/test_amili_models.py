"""Models: the seed bodies validate and round-trip, dates/money are tolerant, read models ignore the unknown."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from amili_pipelines.amili.fields import format_rfc1123, parse_datetime
from amili_pipelines.amili.no import models as no
from amili_pipelines.amili.se import finance_models as se_finance
from amili_pipelines.amili.se import models as se
from tests.support.amili import SEED_COMPANY, SEED_JANE_DOE

_DATE_LIKE = re.compile(r"^(\d{4}-\d{2}-\d{2}T|[A-Z][a-z]{2}, \d{2} )")


def _normalise(body: Any) -> Any:
    """Dates compared as instants, numbers as numbers: what round-tripping may change."""
    if isinstance(body, dict):
        return {k: _normalise(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_normalise(v) for v in body]
    if isinstance(body, str) and _DATE_LIKE.match(body):
        parsed = parse_datetime(body)
        assert isinstance(parsed, datetime)
        return parsed.replace(microsecond=0)
    if isinstance(body, (int, float)) and not isinstance(body, bool):
        return Decimal(str(body))
    return body


def test_seed_bodies_round_trip(seed_body: dict[str, Any]) -> None:
    model = se.InvoiceRegistration.model_validate(seed_body)
    dumped = model.to_body()
    json.dumps(dumped)  # the dump is the JSON body as is
    assert _normalise(dumped) == _normalise(seed_body)
    assert se.InvoiceRegistration.model_validate(dumped) == model.model_copy(
        update={"invoice_date": model.invoice_date.replace(microsecond=0)}
    )
    for key in ("invoice_date", "invoice_due_date"):
        assert dumped[key].endswith(" GMT") and dumped[key][3:5] == ", "


def test_dates_are_sent_as_rfc1123_with_the_true_weekday() -> None:
    body = se.InvoiceRegistration.model_validate(SEED_JANE_DOE).to_body()
    # The docs' example says "Wed, 21 Jan 2024"; that day is a Sunday. We send the correct name.
    assert body["invoice_date"] == "Sun, 21 Jan 2024 10:11:22 GMT"
    assert body["invoice_due_date"] == "Wed, 31 Jan 2024 10:11:22 GMT"


@pytest.mark.parametrize(
    "flags",
    [{}, {"is_person": True, "is_company": True}, {"is_person": False}, {"is_company": True, "is_foreign": True}],
)
def test_exactly_one_customer_kind(flags: dict[str, bool]) -> None:
    with pytest.raises(ValidationError, match="exactly one of is_person"):
        se.Customer(name="X", **flags)


def test_customer_kind_false_flags_are_allowed() -> None:
    assert se.Customer(name="X", is_person=False, is_company=True).kind == "company"


def test_request_models_reject_unknown_fields_and_other_currencies() -> None:
    body = copy.deepcopy(SEED_COMPANY)
    body["invoice_numbr"] = "x"
    with pytest.raises(ValidationError, match="invoice_numbr"):
        se.InvoiceRegistration.model_validate(body)
    body = copy.deepcopy(SEED_COMPANY)
    body["currency"] = "NOK"
    with pytest.raises(ValidationError):
        se.InvoiceRegistration.model_validate(body)
    body = copy.deepcopy(SEED_COMPANY)
    body["matrix"][0]["unit_vat_percent"] = "25"
    with pytest.raises(ValidationError):
        se.InvoiceRegistration.model_validate(body)


def test_car_registration_excludes_customer_number() -> None:
    with pytest.raises(ValidationError, match="car_registration"):
        se.Customer(name="X", is_person=True, customer_number="1", car_registration=se.CarRegistration(number="ABC123"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fri, 04 Jul 2025 08:20:41 GMT", datetime(2025, 7, 4, 8, 20, 41, tzinfo=UTC)),
        ("2025-07-04T08:20:41Z", datetime(2025, 7, 4, 8, 20, 41, tzinfo=UTC)),
        ("2025-07-04T08:20:41.123Z", datetime(2025, 7, 4, 8, 20, 41, 123000, tzinfo=UTC)),
        ("2025-07-04T08:20:41.1234567+00:00", None),  # .NET 7-digit fractions: parsed, value not pinned
        ("2025-07-04T10:20:41+02:00", datetime(2025, 7, 4, 8, 20, 41, tzinfo=UTC)),
        ("2025-07-04T08:20:41", datetime(2025, 7, 4, 8, 20, 41, tzinfo=UTC)),
        ("2025-07-04", datetime(2025, 7, 4, tzinfo=UTC)),
    ],
)
def test_date_formats_accepted(text: str, expected: datetime | None) -> None:
    record = se_finance.PayoutSpecification.model_validate({"_id": "1", "booking_date": text})
    assert record.booking_date is not None
    if expected is not None:
        assert record.booking_date == expected
    assert format_rfc1123(datetime(2025, 7, 4, 8, 20, 41, tzinfo=UTC)) == "Fri, 04 Jul 2025 08:20:41 GMT"


def test_registration_result_accepts_both_ocr_keys_and_ignores_unknown() -> None:
    base = {"_id": "a", "_case": "c", "_invoice": "i", "_ocr_number": "o", "_status": "OK", "_new_field": 1}
    assert se.InvoiceRegistrationResult.model_validate({**base, "ocr_number_ocr": "123"}).ocr_number_ocr == "123"
    assert se.InvoiceRegistrationResult.model_validate({**base, "_ocr_number_ocr": "456"}).ocr_number_ocr == "456"
    result = se.InvoiceRegistrationResult.model_validate(
        {**base, "_created": "Fri, 04 Jul 2025 08:20:41 GMT", "ocr_number_ocr": "1"}
    )
    assert result.case == "c" and result.eve_status == "OK" and result.created is not None


def test_case_is_tolerant() -> None:
    case = se.Case.model_validate(
        {
            "_id": "c1",
            "state": "some_future_state",
            "status": "whatever",
            "closed": {"date": "Fri, 04 Jul 2025 08:20:41 GMT", "reason": "paid"},
            "debt": {"invoice_number": "INV-1", "capital_to_claim": 1200.5},
            "local_remaining_capital_amount": 0,
            "state_history": [{"state": "invoice", "state_date": "2025-07-04"}],
            "unknown": {"x": 1},
        }
    )
    assert case.is_closed and case.invoice_number == "INV-1"
    assert case.debt is not None and case.debt.capital_to_claim == Decimal("1200.5")
    assert not se.Case.model_validate({"_id": "c2"}).is_closed
    assert se.Case.model_validate({"_id": "c3", "closed": None}).closed is None


def test_case_actions_need_case_xor_invoice_number() -> None:
    with pytest.raises(ValidationError):
        se.CreditorCancellation(creditor="c")
    with pytest.raises(ValidationError):
        se.CreditorCancellation(creditor="c", case="x", invoice_number="1")
    body = se.CreditorPayment(
        creditor="c", case="x", amount=Decimal("100.50"), bank_transaction_date=date(2025, 7, 4)
    ).model_dump(exclude_none=True)
    assert body == {
        "creditor": "c",
        "case": "x",
        "origin": "creditor_system",
        "currency": "SEK",
        "amount": 100.5,
        "bank_transaction_date": "Fri, 04 Jul 2025 00:00:00 GMT",
    }


def test_payout_models() -> None:
    payout = se_finance.Payout.model_validate(
        {"_id": "p", "amount": 10, "summary": {"capital": 8, "interest": 2.5}, "status": "paid", "payout_date": "2025-07-04"}
    )
    assert payout.summary == {"capital": Decimal(8), "interest": Decimal("2.5")}


def test_se_token_never_shows_the_token() -> None:
    token = se.SeToken.model_validate({"token": "s3cr3t-token", "_status": "OK"})
    assert "s3cr3t" not in repr(token) and "s3cr3t" not in str(token) and token.expires is None


# -- Norway -------------------------------------------------------------------------------------


def test_no_invoice_body_is_camel_case() -> None:
    invoice = no.InvoiceCreate(
        invoice_number="10001",
        original_invoice_amount=Decimal("1250.00"),
        invoice_date=date(2024, 1, 15),
        due_date="2024-02-01",
        ocr_reference_number="0000100012",
        unique_source_invoice_id="key-1",
        debtors=[no.Debtor(type="PRIVATE", firstname="Ola", lastname="Nordmann", date_of_birth=date(1990, 1, 1))],
        claims=[no.Claim(remaining_amount=Decimal("1250.00"))],
    )
    body = invoice.to_body()
    assert body["invoiceDate"] == "2024-01-15T00:00:00Z" and body["dueDate"] == "2024-02-01T00:00:00Z"
    assert body["uniqueSourceInvoiceId"] == "key-1" and body["ocrReferenceNumber"] == "0000100012"
    assert body["debtors"][0] == {"type": "PRIVATE", "firstname": "Ola", "lastname": "Nordmann", "dateOfBirth": "1990-01-01"}
    assert body["claims"] == [{"type": "PRINCIPAL", "remainingAmount": 1250}]
    assert body["originalInvoiceAmount"] == 1250


def test_no_batch_with_items_and_rejection() -> None:
    batch = no.Batch.model_validate(
        {
            "batchId": "b",
            "status": "PARTIAL",
            "type": "INVOICE",
            "createdAt": "2024-01-15T10:00:00.1234567Z",
            "succeeded": [{"invoiceId": "i", "invoiceNumber": "1", "caseId": "c", "$type": "invoiceSuccess"}],
            "failed": [{"index": 1, "invoiceNumber": "2", "errors": [{"code": "X", "message": "bad due date", "field": "invoices[1].dueDate"}]}],
        }
    )
    assert batch.is_terminal and batch.succeeded[0].case_id == "c"
    rejection = batch.failed[0].to_rejection()
    assert rejection.item_index == 1 and rejection.issues[0].field == "invoices[1].dueDate"
    assert "bad due date" in str(rejection)
    assert not no.Batch.model_validate({"batchId": "b", "status": "PROCESSING"}).is_terminal


def test_no_settlement_and_case() -> None:
    s = no.Settlement.model_validate({"settlementId": "s", "settlementDate": "2024-03-01", "payoutAmount": 100.1, "new": 1})
    assert s.settlement_date == date(2024, 3, 1) and s.payout_amount == Decimal("100.1")
    c = no.Case.model_validate({"caseId": "c", "caseNumber": 5, "status": "SOMETHING_NEW", "invoices": ["i1"]})
    assert c.invoices == ["i1"]


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
_AMOUNT = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # copied, never changed
@given(name=_TEXT, street=_TEXT, article=_TEXT, price=_AMOUNT, units=_AMOUNT, vat=st.sampled_from(["25", "12", "6", "0"]))
def test_wire_bytes_are_what_json_of_the_body_gives(seed_body: dict[str, Any], name: str, street: str, article: str,
                                                    price: Decimal, units: Decimal, vat: str) -> None:
    """The stored request body (pydantic's JSON writer) is byte for byte what ``json=`` of the body
    sends: control characters, non-ASCII, quotes and amounts alike."""
    from amili_pipelines.amili.fields import json_bytes

    body = copy.deepcopy(seed_body)
    body["customer"]["name"] = name
    body["customer"]["address"] = {**(body["customer"].get("address") or {}), "address_line_1": street}
    body["matrix"][0].update(article_description=article, unit_price=float(price), number_of_units=float(units),
                             total_price_excluding_vat=float(price * units), unit_vat_percent=f"{vat}%")
    model = se.InvoiceRegistration.model_validate(body)
    assert model.to_wire() == json_bytes(model.to_body())
