"""Issue 15: the Swedish request body is serialised once, at enqueue, and is byte for byte what the
client sent before (``json=`` of a validated ``InvoiceRegistration``)."""

from __future__ import annotations

from httpx._content import encode_json

from amili_pipelines.amili.se.models import InvoiceRegistration
from amili_pipelines.domain.invoice import Market
from amili_pipelines.registration.routes import registration_payload, registration_request
from tests.support.invoices import make_invoices


def test_the_stored_body_is_the_request_the_client_sent_before(creditors):
    creditor = creditors.creditor("demo-se")
    for invoice in make_invoices(Market.SE, 200, prefix="BODY"):
        payload, body = registration_request(invoice, creditor)
        assert payload is None
        before = InvoiceRegistration.model_validate(registration_payload(invoice, creditor)).to_body()
        assert body == b"".join(encode_json(before)[1])
        assert InvoiceRegistration.model_validate_json(body).to_body() == before, "a valid InvoiceRegistration"


def test_norway_keeps_its_batch_item(creditors):
    creditor = creditors.creditor("demo-no")
    [invoice] = make_invoices(Market.NO, 1, prefix="ITEM")
    assert registration_request(invoice, creditor) == (registration_payload(invoice, creditor), None)
