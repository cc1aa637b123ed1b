"""Fixtures for the books tests: a warehouse that has followed real cases at the emulator for 120 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.domain.invoice import Market
from amili_pipelines.reconciliation.cases import sync_cases
from amili_pipelines.reconciliation.reconcile import reconcile
from amili_pipelines.reconciliation.settlements import store_settlements
from amili_pipelines.settings import load_creditors
from amili_pipelines.warehouse import open_warehouse
from tests.support import followup as fs


@dataclass
class Followed:
    """A warehouse after 120 days at Amili; ``day`` is Amili's today (the books' business day)."""

    db: Path
    books: Path
    reports: Path
    creditors: CreditorsFile
    day: date
    emulator: object


def _with_demo_books(path: Path) -> CreditorsFile:
    """The test creditors with the demo ERPs' formats (Swedish and Norwegian columns)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    presets = {"SE": "se-erp", "NO": "no-erp"}
    for c in data["creditors"]:
        c["books"] = {"erp_feedback": {"preset": presets[c["market"]]}}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_creditors(path)


def follow(env: fs.FollowupEnv, *, se: int = 16, no: int = 10, days: int = 120) -> Followed:
    creditors = _with_demo_books(env.creditors_path)
    with open_warehouse(env.db_path) as wh:
        fs.register(wh, env.emulator, creditors, fs.make_invoices(Market.SE, se) + fs.make_invoices(Market.NO, no))
        env.emulator.admin.advance(days=days)

        async def go(se_client, no_client):
            await sync_cases(wh, creditors=creditors, se_client=se_client, no_client=no_client)
            await store_settlements(wh, creditors=creditors, se_client=se_client, no_client=no_client)

        fs.asyncio.run(fs.with_clients(env.emulator, go))
        now = datetime.fromisoformat(env.emulator.admin.clock()["iso"].replace("Z", "+00:00")).date()
        # The day after Amili's today: every settlement day is over, every payout made.
        day = now + timedelta(days=1)
        reconcile(wh, as_of=day, grace_days=creditors.grace_days())
    return Followed(db=env.db_path, books=env.tmp / "books", reports=env.tmp / "reports", creditors=creditors,
                    day=day, emulator=env.emulator)


@pytest.fixture()
def followed(followup) -> Followed:
    return follow(followup)
