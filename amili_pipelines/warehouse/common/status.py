"""Where every extracted invoice stands now (the accounting behind "nothing lost"), for both databases."""

from __future__ import annotations

from amili_pipelines.warehouse.common import SqlSession
from amili_pipelines.warehouse.status import ACCOUNTING_COLUMNS, MarketAccounting


class SqlStatusStore:
    def __init__(self, session: SqlSession) -> None:
        self.db = session

    def accounting(self) -> dict[str, MarketAccounting]:
        """Per market: the newest extraction of every invoice, by where it stands in the outbox."""
        rows = self.db.execute(
            """
            SELECT l.market,
                   count(*) AS extracted,
                   count(*) FILTER (WHERE l.is_valid) AS valid,
                   count(*) FILTER (WHERE NOT l.is_valid) AS quarantined,
                   count(*) FILTER (WHERE o.state = 'registered') AS registered,
                   count(*) FILTER (WHERE o.state = 'rejected') AS rejected,
                   count(*) FILTER (WHERE o.state = 'waiting_for_batch') AS waiting_for_batch,
                   count(*) FILTER (WHERE o.state IN ('pending', 'in_flight', 'unknown_outcome')) AS not_yet_sent,
                   count(*) FILTER (WHERE l.is_valid AND o.state IS NULL) AS not_queued
            FROM latest_invoices l
            LEFT JOIN registration_outbox o ON o.market = l.market AND o.invoice_key = l.invoice_key
            GROUP BY l.market ORDER BY l.market
            """
        ).fetchall()
        return {r[0]: MarketAccounting(**dict(zip(ACCOUNTING_COLUMNS, r[1:], strict=True))) for r in rows}

    def outbox_by_state(self) -> list[tuple[str, str, int]]:
        return self.db.execute(
            "SELECT market, state, count(*) FROM registration_outbox GROUP BY market, state ORDER BY market, state").fetchall()

    def registered_by_market(self) -> dict[str, int]:
        return dict(self.db.execute(
            "SELECT market, count(*) FROM registration_outbox WHERE state = 'registered' GROUP BY market"
        ).fetchall())
