"""The demo's follow-up: let time pass at the emulator and run what the sensors would start.

``make demo`` calls :func:`run_followup_cycle` after registration. Headless (no Dagster), it
invokes the same use cases the follow-up assets call, in the same order:

1. advance the emulator clock (``POST {base}/_emulator/clock/advance``): cases move through
   invoice → reminder → debt collection → closed, some debtors pay, money is settled;
2. record finished Norwegian batches; sync cases; store settlement lines and payouts;
3. report what the creditor's books say back to Amili; reconcile; publish the analysts' file.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from amili_pipelines.config import Settings
from amili_pipelines.domain.invoice import Market
from amili_pipelines.publish import PublishSummary, publish_analytics
from amili_pipelines.reconciliation.actions import ActionSummary, report_back_to_amili
from amili_pipelines.reconciliation.batches import BatchResultsSummary, record_finished_batches
from amili_pipelines.reconciliation.cases import CaseSyncSummary, sync_cases
from amili_pipelines.reconciliation.reconcile import ReconciliationSummary, reconcile
from amili_pipelines.reconciliation.settlements import SettlementSummary, store_settlements
from amili_pipelines.warehouse import connect


@dataclass
class FollowupSummary:
    days: int
    emulator_now: str | None = None
    batches: BatchResultsSummary | None = None
    cases: CaseSyncSummary | None = None
    settlements: SettlementSummary | None = None
    actions: ActionSummary | None = None
    reconciliation: ReconciliationSummary = field(default_factory=ReconciliationSummary)
    published: PublishSummary | None = None

    def metadata(self) -> dict[str, Any]:
        return {"days": self.days, "emulator_now": self.emulator_now, **self.reconciliation.metadata()}

    def render(self) -> str:
        lines = [f"Follow-up after {self.days} simulated days" + (f" (emulator clock {self.emulator_now})"
                                                                   if self.emulator_now else "")]
        if self.cases:
            lines.append(f"  cases read: SE {self.cases.se_cases_seen}, NO {self.cases.no_cases_seen}")
        if self.settlements:
            s = self.settlements
            lines.append(f"  money lines: {s.lines_total} stored ({s.lines_inserted} new), SE payouts {s.se_payouts_seen}")
        if self.actions:
            a = self.actions
            lines.append(f"  reported back to Amili: {a.sent} sent, {a.waiting_for_batch} waiting, {a.rejected} rejected")
        lines.append(self.reconciliation.render())
        if self.published:
            lines.append(f"  analysts' database: {self.published.path}")
        return "\n".join(lines)


def advance_emulator_clock(base_url: str, *, days: float, timeout: float = 120.0) -> str | None:
    """Move the emulator's simulated clock forward; returns its new time as reported."""
    root = base_url.rstrip("/")
    response = httpx.post(f"{root}/_emulator/clock/advance", json={"days": days}, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    return str(body.get("now") or body.get("clock") or "") or None if isinstance(body, dict) else None


async def followup_once(conn, *, settings: Settings, as_of: date | None = None) -> FollowupSummary:
    """Run every follow-up use case once against an open warehouse connection."""
    from amili_pipelines.amili.no.client import AmiliNoClient
    from amili_pipelines.amili.se.client import AmiliSeClient

    creditors = settings.creditors
    markets = {c.market for c in creditors.creditors}
    out = FollowupSummary(days=0)
    async with AsyncExitStack() as stack:
        se = await stack.enter_async_context(AmiliSeClient.from_settings(settings)) if Market.SE in markets else None
        no = await stack.enter_async_context(AmiliNoClient.from_settings(settings)) if Market.NO in markets else None
        if no is not None:
            out.batches = await record_finished_batches(conn, no_client=no, creditors=creditors)
        out.cases = await sync_cases(conn, creditors=creditors, se_client=se, no_client=no)
        out.settlements = await store_settlements(conn, creditors=creditors, se_client=se, no_client=no)
        out.actions = await report_back_to_amili(conn, creditors=creditors, se_client=se, no_client=no, as_of=as_of)
        if out.actions.sent or out.actions.waiting_for_batch:
            # What we reported changes the cases (and may close them): read them again.
            if no is not None:
                await record_finished_batches(conn, no_client=no, creditors=creditors)
            out.cases = await sync_cases(conn, creditors=creditors, se_client=se, no_client=no)
    out.reconciliation = reconcile(conn, as_of=as_of)
    return out


def run_followup_cycle(*, settings: Settings, days: int, advance: bool = True) -> FollowupSummary:
    """Advance the emulator ``days`` simulated days, follow up, reconcile, publish; return the summary.

    ``advance=False`` skips the clock (against the real Amili there is no clock to move).
    """
    now = advance_emulator_clock(settings.se_base_url, days=days) if advance and days else None
    with connect(settings.duckdb_path) as conn:
        summary = asyncio.run(followup_once(conn, settings=settings))
        summary.published = publish_analytics(conn, analytics_path=settings.analytics_path)
    summary.days = days
    summary.emulator_now = now
    return summary
