"""Money lines as a creditor depends on them, read by the real clients from stub Amili servers
(httpx.MockTransport, following the reference) into a real DuckDB warehouse.

* Norway (B.8, F.2.5): a settlement published late with an older ``settlementDate`` (a back-dated
  correction) is still read; re-reading the wide window changes nothing that did not change.
* Sweden (A.11, F.1.12): a commission line keeps Amili's sign, so a commission reversal adds to
  the payout; the emulator's commission charge is stored exactly as before.
* One item that cannot be read is skipped, logged and counted; every other line is stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from amili_pipelines.alerts.attention import needs_attention
from amili_pipelines.amili.fields import format_rfc1123
from amili_pipelines.amili.no.client import AmiliNoClient
from amili_pipelines.amili.se.client import AmiliSeClient
from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.reconciliation.settlements import (
    NO_SETTLEMENT_LOOKBACK_DAYS,
    SettlementSummary,
    store_settlements,
)
from amili_pipelines.settings import Settings
from amili_pipelines.warehouse import open_warehouse

SE_CREDITOR = "674dbeb208847b9501cc9138"
NO_ORG = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"
T0 = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)
CREDITORS = CreditorsFile.model_validate({"creditors": [
    {"key": "demo-se", "name": "SE", "market": "SE", "account_id": "674dbeaf08847b9501cc9132",
     "creditor_id": SE_CREDITOR},
    {"key": "demo-no", "name": "NO", "market": "NO", "organization_id": NO_ORG},
]})


# -- stub servers ---------------------------------------------------------------------------------


class NoServer:
    """``GET /orgs/{org}/settlements``: filters on ``settlementDate`` (``fromDate``/``toDate``) and
    pages with ``pageToken``/``pageSize`` (B.2, B.8, F.2.5)."""

    def __init__(self, page_size: int = 2) -> None:
        self.settlements: list[dict[str, Any]] = []
        self.queries: list[dict[str, str]] = []
        self.page_size = page_size

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            return httpx.Response(200, json={"access_token": "x", "token_type": "Bearer", "expires_in": 3600,
                                             "expires_on": int(datetime.now(UTC).timestamp()) + 3600})
        if request.url.path != f"/collection/v1/orgs/{NO_ORG}/settlements":
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        q = dict(request.url.params)
        self.queries.append(q)
        lo, hi = q.get("fromDate"), q.get("toDate")
        rows = [s for s in self.settlements if (not lo or str(s.get("settlementDate")) >= lo)
                and (not hi or str(s.get("settlementDate")) <= hi)]
        start = int(q.get("pageToken") or 0)
        end = start + self.page_size
        return httpx.Response(200, json={"summary": {"status": "SUCCESS", "nextPageToken": str(end) if end < len(rows) else None},
                                         "data": rows[start:end]})


def _eve_value(value: Any) -> Any:
    return parsedate_to_datetime(value) if isinstance(value, str) and value.endswith(" GMT") else value


def _eve_match(doc: dict[str, Any], where: dict[str, Any]) -> bool:
    for key, cond in where.items():
        if key in ("$or", "$and"):
            found = [_eve_match(doc, c) for c in cond]
            if not (any(found) if key == "$or" else all(found)):
                return False
        elif isinstance(cond, dict):
            have = _eve_value(doc.get(key))
            for op, arg in cond.items():
                want = _eve_value(arg)
                if have is None or not {"$gt": have > want, "$gte": have >= want, "$lt": have < want,
                                        "$lte": have <= want}[op]:
                    return False
        elif _eve_value(doc.get(key)) != _eve_value(cond):
            return False
    return True


class EveServer:
    """Eve collections (A.3): ``where``, ``sort``, ``page``, ``max_results``, ``_meta.total``."""

    def __init__(self) -> None:
        self.collections: dict[str, list[dict[str, Any]]] = {"/finance--payout-specifications": [], "/finance--payouts": []}

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/authenticates/api-code":
            return httpx.Response(200, json={"_status": "OK", "token": "tok",
                                             "expires": format_rfc1123(datetime.now(UTC) + timedelta(hours=1))})
        docs = self.collections.get(request.url.path)
        if docs is None:
            return httpx.Response(404, json={"_status": "ERR", "_error": {"code": 404, "message": "Not Found"}})
        q = request.url.params
        where = json.loads(q.get("where", "{}"))
        rows = sorted((d for d in docs if _eve_match(d, where)), key=lambda d: (_eve_value(d["_updated"]), d["_id"]))
        page, size = int(q.get("page", 1)), min(int(q.get("max_results", 25)), 100)
        return httpx.Response(200, json={"_items": rows[(page - 1) * size: page * size],
                                         "_meta": {"page": page, "max_results": size, "total": len(rows)}})


def _run(wh: Any, *, no: NoServer | None = None, se: EveServer | None = None, **kwargs: Any) -> SettlementSummary:
    async def go() -> SettlementSummary:
        async with AsyncExitStack() as stack:
            no_client = se_client = None
            if no is not None:
                no_client = await stack.enter_async_context(AmiliNoClient(
                    base_url="https://no.test/collection/v1", auth_url="https://auth.test/token", client_id="c",
                    client_secret=SecretStr("s"), transport=httpx.MockTransport(no.handler), requests_per_second=1000,
                    max_retries=0))
            if se is not None:
                se_client = await stack.enter_async_context(AmiliSeClient(
                    base_url="https://se.test", api_code=SecretStr("code"), transport=httpx.MockTransport(se.handler),
                    requests_per_second=1000, max_retries=0))
            return await store_settlements(wh, creditors=CREDITORS, se_client=se_client, no_client=no_client, **kwargs)

    return asyncio.run(go())


def _settlement(sid: str, day: str, amount: float | str, **extra: Any) -> dict[str, Any]:
    return {"settlementId": sid, "settlementDate": day, "invoiceId": f"inv-{sid}", "invoiceNumber": f"N-{sid}",
            "caseNumber": 1000, "currency": "NOK", "principalAmount": amount, "interestAmount": 0, "feeAmount": 0,
            "commissionAmount": 0, "vatAmount": 0, "payoutAmount": amount, **extra}


def _spec(i: int, category: str, amount: float | str, vat: float, total: float, **extra: Any) -> dict[str, Any]:
    """A payout specification line as F.1.12 describes it (and the emulator sends it)."""
    when = format_rfc1123(T0 + timedelta(minutes=i))
    return {"_id": f"{i:024x}", "_created": when, "_updated": when, "_etag": f"e{i}", "creditor": SE_CREDITOR,
            "currency": "SEK", "amount": amount, "vat_amount": vat, "total_amount": total, "article": category,
            "state": "debt_collection", "booking_date": when, "finance_category": category, "invoice_number": "1001",
            "reference_number": "R1", "payout_reference": None, "payout_date": None, "payout": None,
            "case": "c" * 24, **extra}


def _seen_at(wh: Any, line_id: str) -> tuple[datetime, datetime]:
    [(first, last)] = wh.connection.execute(
        "SELECT first_seen_at, last_seen_at FROM settlement_lines WHERE market = 'NO' AND line_id = ?", [line_id]).fetchall()
    return first, last


# -- 1. Norway: the read window ------------------------------------------------------------------------


def test_no_backdated_settlement_is_read_by_the_next_run(tmp_path: Path) -> None:
    """A settlement dated 15 days before the newest stored one (Amili published it late) is read by
    the next run: it is stored and counted in what the creditor was paid."""
    no = NoServer()
    no.settlements += [_settlement("s1", "2026-05-01", 100), _settlement("s2", "2026-05-20", 200)]
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        assert _run(wh, no=no).paid_out_total == "NOK 300.00"
        no.settlements.append(_settlement("s3", "2026-05-05", -50))  # a back-dated correction

        summary = _run(wh, no=no)

        line = wh.settlements.line("NO", "s3")
        assert line is not None, "the back-dated settlement is stored"
        assert (line.payout_amount, line.settlement_date) == (Decimal("-50.00"), date(2026, 5, 5))
        assert summary.lines_inserted == 1 and summary.paid_out_total == "NOK 250.00"
        assert no.queries[-1]["fromDate"] <= "2026-02-19", "the window reaches 90 days back"
    assert Settings().no_settlement_lookback_days == NO_SETTLEMENT_LOOKBACK_DAYS == 90


def test_no_rereading_the_window_changes_only_what_changed(tmp_path: Path) -> None:
    """Reading the same settlements again writes nothing (no new line, first/last seen kept, totals
    unchanged); a settlement Amili changed is updated in place (first seen kept), never doubled."""
    no = NoServer()
    no.settlements += [_settlement("s1", "2026-05-01", 100), _settlement("s2", "2026-05-20", 200)]
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        _run(wh, no=no)
        before = {sid: _seen_at(wh, sid) for sid in ("s1", "s2")}

        again = _run(wh, no=no)

        assert {sid: _seen_at(wh, sid) for sid in ("s1", "s2")} == before, "first/last seen are kept"
        assert (again.lines_inserted, again.lines_updated, again.no_settlements_unchanged) == (0, 0, 2)
        assert (again.lines_total, again.paid_out_total) == (2, "NOK 300.00")

        no.settlements[1] = _settlement("s2", "2026-05-20", 180)  # Amili corrects s2
        changed = _run(wh, no=no)

        assert (changed.lines_inserted, changed.lines_updated, changed.no_settlements_unchanged) == (0, 1, 1)
        assert _seen_at(wh, "s2")[0] == before["s2"][0], "first_seen_at is kept"
        assert _seen_at(wh, "s1") == before["s1"]
        assert (changed.lines_total, changed.paid_out_total) == (2, "NOK 280.00")


# -- 2. Sweden: commission signs ---------------------------------------------------------------------


def test_se_commission_reversal_keeps_amilis_sign(tmp_path: Path) -> None:
    """A commission charge as the emulator sends it (negative amount, VAT and total) is stored as
    before (commission 100, VAT 25, payout -125); a reversal (Amili refunds 50 SEK of commission,
    total +50) adds 50 to the payout and is commission -50, not another 50 deducted."""
    se = EveServer()
    se.collections["/finance--payout-specifications"] += [
        _spec(1, "capital", 1000, 0, 1000),
        _spec(2, "creditor_commission", -100, -25, -125),
        _spec(3, "creditor_commission", 50, 0, 50),
    ]
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        summary = _run(wh, se=se)

        charge, reversal = wh.settlements.line("SE", f"{2:024x}"), wh.settlements.line("SE", f"{3:024x}")
        assert (charge.commission_amount, charge.vat_amount, charge.payout_amount) == (
            Decimal("100.00"), Decimal("25.00"), Decimal("-125.00"))
        assert (reversal.commission_amount, reversal.vat_amount, reversal.payout_amount) == (
            Decimal("-50.00"), Decimal("0.00"), Decimal("50.00"))
        assert summary.paid_out_total == "SEK 925.00"


# -- 3. One unreadable item ---------------------------------------------------------------------------


def test_unreadable_items_are_skipped_and_every_other_line_is_stored(tmp_path: Path, caplog) -> None:
    """A settlement whose amount is not a number, one whose amount cannot be stored, a payout
    specification and a payout that fail validation: each is skipped with a warning naming it (the
    value itself is not logged), counted in the summary the asset shows, and the other lines of
    both markets are stored."""
    no = NoServer()
    no.settlements += [
        _settlement("s-ok", "2026-05-01", 100),
        _settlement("s-garbage", "2026-05-01", "19900101-1234"),  # a personnummer in the amount
        _settlement("s-huge", "2026-05-01", "1e400"),  # a valid number no money column holds
        _settlement("s-ok2", "2026-05-02", 40),
    ]
    se = EveServer()
    se.collections["/finance--payout-specifications"] += [
        _spec(1, "capital", 500, 0, 500),
        _spec(2, "capital", "five hundred", 0, 500),
        _spec(3, "interest", 20, 0, 20),
    ]
    se.collections["/finance--payouts"] += [
        {"_id": "p" * 24, "_updated": format_rfc1123(T0), "creditor": SE_CREDITOR, "total_amount": 520},
        {"_id": "q" * 24, "_updated": format_rfc1123(T0), "creditor": SE_CREDITOR, "payout_date": "not a date"},
    ]
    with open_warehouse(tmp_path / "wh.duckdb") as wh, caplog.at_level(logging.WARNING):
        summary = _run(wh, no=no, se=se)

        stored = {r[0] for r in wh.connection.execute("SELECT line_id FROM settlement_lines").fetchall()}
        assert stored == {"s-ok", "s-ok2", f"{1:024x}", f"{3:024x}"}
        assert summary.paid_out_total == "NOK 140.00; SEK 520.00", "kroner and kronor never added up"
        assert wh.connection.execute("SELECT payout_id FROM payouts").fetchall() == [("p" * 24,)]
    assert summary.items_skipped == 4
    for name in ("NO settlement s-garbage", "NO settlement s-huge", f"SE payout specification {2:024x}",
                 f"SE payout {'q' * 24}"):
        assert name in summary.skipped
        assert any(name in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "principalAmount" in summary.skipped
    logged = " ".join(r.getMessage() for r in caplog.records) + summary.skipped
    assert "1234" not in logged and "five hundred" not in logged
    assert all(isinstance(v, int | float | str) for v in summary.metadata().values()), "Dagster metadata values"
    [line] = needs_attention({"reconcile/settlement_lines": summary.metadata()})  # the run needs a person
    assert line.startswith("4 item(s) read from Amili could not be used") and "s-garbage" in line


# -- 4. Sweden: a creditor added later -----------------------------------------------------------------


def test_se_creditor_added_later_has_its_older_lines_read(tmp_path: Path) -> None:
    """Each Swedish creditor is read from its own watermark: a creditor added to the creditors file
    after the first reads gets the lines Amili updated before the first creditor's newest, not only
    what changed after it."""
    other = "674dbeb208847b9501cc9999"
    se = EveServer()
    se.collections["/finance--payout-specifications"] += [_spec(50, "capital", 1000, 0, 1000)]
    older = {**_spec(1, "capital", 300, 0, 300), "creditor": other}  # updated long before line 50
    se.collections["/finance--payout-specifications"].append(older)
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        assert _run(wh, se=se).se_specifications_seen == 1, "only demo-se is configured yet"
        two = CreditorsFile.model_validate({"creditors": [
            *[c.model_dump() for c in CREDITORS.creditors],
            {"key": "later-se", "name": "Later", "market": "SE", "account_id": "674dbeaf08847b9501cc9132",
             "creditor_id": other}]})

        async def go() -> SettlementSummary:
            async with AmiliSeClient(base_url="https://se.test", api_code=SecretStr("code"),
                                     transport=httpx.MockTransport(se.handler), requests_per_second=1000,
                                     max_retries=0) as se_client:
                return await store_settlements(wh, creditors=two, se_client=se_client)

        asyncio.run(go())
        line = wh.settlements.line("SE", older["_id"])
        assert line is not None and line.creditor == "later-se" and line.payout_amount == Decimal("300.00")
