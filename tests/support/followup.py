"""Shared helpers for the follow-up tests (reconciliation, sensors, publish).

Registers made-up invoices with the real emulator through the registration engine, then lets
tests drive the emulator clock and the follow-up jobs.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.invoice import (
    Address,
    CustomerKind,
    InvoiceLine,
    Market,
    SourceInvoice,
)
from amili_pipelines.settings import load_creditors
from amili_pipelines.warehouse import Warehouse, open_warehouse

SE_PINS = ["19811218-9876", "19900101-0017", "19750505-1234", "20010203-4567"]
NO_PINS = ["01019012345", "15057512345", "31129912345"]


def write_creditors(tmp_path: Path, emulator: Any) -> Path:
    """A creditors file with one Swedish and one Norwegian creditor (the emulator's demo ids)."""
    path = tmp_path / "creditors.yaml"
    path.write_text(yaml.safe_dump({"creditors": [
        {"key": "demo-se", "name": "Demo Sverige AB", "market": "SE", "account_id": emulator.se_account,
         "creditor_id": emulator.se_creditor},
        {"key": "demo-no", "name": "Demo Norge AS", "market": "NO", "organization_id": emulator.no_org},
    ]}), encoding="utf-8")
    return path


def make_invoices(market: Market, n: int, *, seed: int = 11, prefix: str = "FU") -> list[SourceInvoice]:
    rng = random.Random(seed)
    creditor = "demo-se" if market is Market.SE else "demo-no"
    out = []
    for i in range(n):
        # net in steps of 0.20 so that gross = net * 1.25 is exact to the öre (no rounding either side)
        net = Decimal(rng.randint(200, 9000)) + Decimal(rng.choice([0, 20, 40, 60, 80])) / 100
        gross = (net * Decimal("1.25")).quantize(Decimal("0.01"))
        invoice_date = date(2026, 3, 1) + timedelta(days=rng.randint(0, 30))
        pin = (SE_PINS if market is Market.SE else NO_PINS)[i % (4 if market is Market.SE else 3)]
        out.append(SourceInvoice(
            source=f"{creditor}-erp", location="tests/followup", row=i + 1, creditor=creditor, market=market,
            invoice_number=f"{prefix}-{market.value}-{i:04d}", invoice_date=invoice_date,
            due_date=invoice_date + timedelta(days=30), currency="SEK" if market is Market.SE else "NOK",
            total_amount=gross, open_balance=gross, vat_amount=gross - net, customer_kind=CustomerKind.PERSON,
            customer_name=f"Test Person {i}", customer_first_name="Test", customer_last_name=f"Person {i}",
            customer_number=f"C{i:04d}", customer_id_number=pin, customer_email=f"p{i}@example.com",
            customer_address=Address(line1=f"Gatan {i}", zip_code="11122" if market is Market.SE else "0150",
                                     city="Stockholm" if market is Market.SE else "Oslo", country=market.value),
            lines=(InvoiceLine(description="Service", unit_price=net, units=Decimal(1), total_excl_vat=net,
                               vat_percent=Decimal(25)),),
            content_hash=f"h-{market.value}-{i}",
        ))
    return out


def se_client(emulator: Any, **kw: Any):
    from amili_pipelines.amili.se.client import AmiliSeClient

    return AmiliSeClient(base_url=emulator.base_url, api_code=SecretStr(emulator.se_api_code), **kw)


def no_client(emulator: Any, **kw: Any):
    from amili_pipelines.amili.no.client import AmiliNoClient

    return AmiliNoClient(base_url=emulator.no_base_url, auth_url=emulator.no_auth_url,
                         client_id=emulator.no_client_id, client_secret=SecretStr(emulator.no_client_secret), **kw)


async def with_clients(emulator: Any, fn, **kw: Any):
    async with AsyncExitStack() as stack:
        se = await stack.enter_async_context(se_client(emulator, **kw))
        no = await stack.enter_async_context(no_client(emulator, **kw))
        return await fn(se, no)


def register(wh: Warehouse, emulator: Any, creditors: CreditorsFile, invoices: list[SourceInvoice], *,
             settle_batches: bool = True) -> None:
    """Put the invoices in the outbox and register them (Norway: optionally wait for the batches)."""
    from amili_pipelines.registration.batches import settle_waiting_batches
    from amili_pipelines.registration.engine import (
        enqueue_valid_invoices,
        register_pending,
    )

    enqueue_valid_invoices(wh, invoices, creditors=creditors)

    async def go(se, no):
        await register_pending(wh, creditors=creditors, se_client=se, no_client=no)
        if settle_batches:
            await settle_waiting_batches(wh, creditors=creditors, no_client=no, timeout_s=30, poll_s=0.1)

    asyncio.run(with_clients(emulator, go))


def load(path: Path) -> CreditorsFile:
    return load_creditors(path)


def emulator_cases(state: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every case in the emulator's own state, keyed (market, case id), with the figures to compare."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    se, no = state.get("se", {}), state.get("no", {})

    def docs(coll: Any) -> list[dict[str, Any]]:
        return list(coll.values()) if isinstance(coll, dict) else list(coll or [])

    specs = docs(se.get("finance--payout-specifications"))
    for doc in docs(se.get("cases")):
        cid = doc["_id"]
        lines = [s for s in specs if s.get("case") == cid]
        out[("SE", cid)] = {
            "claimed": Decimal(str(doc.get("local_added_capital_amount", 0))),
            "remaining_capital": Decimal(str(doc.get("local_remaining_capital_amount", 0))),
            "paid_principal": sum((Decimal(str(s["amount"])) for s in lines if s["finance_category"] == "capital"),
                                  Decimal(0)),
            "paid_out": sum((Decimal(str(s["total_amount"])) for s in lines), Decimal(0)),
            "closed": doc.get("closed") is not None,
        }
    settlements = docs(no.get("settlements"))
    for doc in docs(no.get("cases")):
        cid = doc["caseId"]
        inv = doc["invoices"][0]
        lines = [s for s in settlements if s.get("caseId") == cid or s.get("invoiceId") == inv.get("invoiceId")]
        out[("NO", cid)] = {
            "claimed": Decimal(str(inv.get("originalAmount", 0))),
            "remaining_capital": Decimal(str(inv.get("remainingPrincipal", 0))),
            "paid_principal": sum((Decimal(str(s["principalAmount"])) for s in lines), Decimal(0)),
            "paid_out": sum((Decimal(str(s["payoutAmount"])) for s in lines), Decimal(0)),
            "closed": doc.get("status") in ("CLOSED", "WITHDRAWN"),
        }
    return out


@dataclass
class FollowupEnv:
    emulator: Any
    tmp: Path
    creditors_path: Path
    db_path: Path
    analytics_path: Path

    @property
    def creditors(self):
        return load(self.creditors_path)

    @property
    def books_dir(self) -> Path:  # where the settings put them: next to the analysts' file
        return self.analytics_path.parent / "books"

    @property
    def reports_dir(self) -> Path:
        return self.analytics_path.parent / "reports"

    @property
    def inbox_path(self) -> Path:
        return self.analytics_path.parent / "webhook_inbox"

    def resources(self) -> dict[str, Any]:
        from amili_pipelines.defs.resources import (
            AmiliNoResource,
            AmiliSeResource,
            BooksResource,
            CreditorsResource,
            WarehouseResource,
            WebhookInboxResource,
        )

        emu = self.emulator
        return {
            "warehouse": WarehouseResource(path=str(self.db_path), analytics_path=str(self.analytics_path)),
            "creditors": CreditorsResource(path=str(self.creditors_path)),
            "books": BooksResource(books_dir=str(self.books_dir), reports_dir=str(self.reports_dir)),
            "webhook_inbox": WebhookInboxResource(path=str(self.inbox_path)),
            "amili_se": AmiliSeResource(base_url=emu.base_url, api_code=emu.se_api_code),
            "amili_no": AmiliNoResource(base_url=emu.no_base_url, auth_url=emu.no_auth_url,
                                        client_id=emu.no_client_id, client_secret=emu.no_client_secret),
        }


def make_env(emulator: Any, tmp_path: Path) -> FollowupEnv:
    return FollowupEnv(
        emulator=emulator, tmp=tmp_path, creditors_path=write_creditors(tmp_path, emulator),
        db_path=tmp_path / "amili.duckdb", analytics_path=tmp_path / "published" / "amili_analytics.duckdb",
    )


# ---------------------------------------------------------------------------------------------
# Dagster helpers: the follow-up definitions bound to an environment, sensor ticks, runs.
# ---------------------------------------------------------------------------------------------


def definitions(env: FollowupEnv):
    """The follow-up stages (reconcile, publish, books) as the code location defines them, bound to ``env``."""
    import dagster as dg

    from amili_pipelines.defs.books.definitions import defs as books_defs
    from amili_pipelines.defs.publish.definitions import defs as publish_defs
    from amili_pipelines.defs.reconcile.definitions import defs as reconcile_defs

    return dg.Definitions.merge(reconcile_defs(), publish_defs(), books_defs(),
                                dg.Definitions(resources=env.resources()))


def tick(env: FollowupEnv, sensor, cursor: str | None, instance=None):
    """Evaluate a sensor once, as the daemon would (resources bound, stored cursor given)."""
    import dagster as dg

    with dg.build_sensor_context(cursor=cursor, resources=env.resources(), instance=instance) as ctx:
        return sensor(ctx)


def execute(env: FollowupEnv, defs, job_name: str, run_request, instance=None):
    """Run what a RunRequest asks for, in process, with the real resources; returns the result."""
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(run_config=run_request.run_config or {}, instance=instance,
                                    tags=run_request.tags or {}, raise_on_error=True)
    assert result.success
    return result


def tick_until_quiet(env: FollowupEnv, defs, sensors: list, cursors: dict[str, str | None], instance=None,
                     max_ticks: int = 6) -> dict[str, list[str]]:
    """Tick every sensor, run what it asks for, until no sensor asks for anything; returns run keys."""
    keys: dict[str, list[str]] = {s.name: [] for s in sensors}
    used: set[str] = set()
    for _ in range(max_ticks):
        anything = False
        for sensor in sensors:
            res = tick(env, sensor, cursors.get(sensor.name), instance)
            cursors[sensor.name] = res.cursor
            for rr in res.run_requests or []:
                if rr.run_key in used:  # the daemon would skip a used run key
                    continue
                used.add(rr.run_key)
                keys[sensor.name].append(rr.run_key)
                execute(env, defs, sensor.job_name, rr, instance)
                anything = True
        if not anything:
            return keys
    raise AssertionError(f"sensors did not go quiet in {max_ticks} rounds: {keys}")


def use_env(env: FollowupEnv, monkeypatch) -> None:
    """Point the code location's environment (``AMILI_*``) at the emulator and this test's files."""
    emu = env.emulator
    for key, value in {
        "AMILI_SE_BASE_URL": emu.base_url, "AMILI_NO_BASE_URL": emu.no_base_url, "AMILI_NO_AUTH_URL": emu.no_auth_url,
        "AMILI_SE_API_CODE": emu.se_api_code, "AMILI_NO_CLIENT_SECRET": emu.no_client_secret,
        "AMILI_DUCKDB_PATH": str(env.db_path), "AMILI_ANALYTICS_PATH": str(env.analytics_path),
        "AMILI_CREDITORS_FILE": str(env.creditors_path), "AMILI_WEBHOOK_INBOX": str(env.inbox_path),
    }.items():
        monkeypatch.setenv(key, value)


def advance(env: FollowupEnv, days: float) -> None:
    env.emulator.admin.advance(days=days)


def populated(env: FollowupEnv, monkeypatch, *, se: int = 12, no: int = 8, days: int = 90):
    """Register invoices, let ``days`` pass, run the follow-up job headlessly; returns the run outcome."""
    from amili_pipelines.headless import run_followup_job

    with open_warehouse(env.db_path) as wh:
        register(wh, env.emulator, env.creditors, make_invoices(Market.SE, se) + make_invoices(Market.NO, no))
    advance(env, days)
    use_env(env, monkeypatch)
    outcome = run_followup_job(log_level="WARNING")
    assert outcome.success, outcome.failed_checks
    return outcome


def open_rw(env: FollowupEnv):
    return open_warehouse(env.db_path)
