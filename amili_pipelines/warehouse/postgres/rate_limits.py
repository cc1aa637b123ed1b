"""PostgreSQL: one token bucket per Amili market, shared by every run (one row, one statement).

A reservation may take the bucket below zero; the caller then waits until the refill covers it.
Reservations serialise on the row lock, so however many processes send, their sum follows the
market's rate. clock_timestamp() (not now()) so each statement sees the real time.
"""

from __future__ import annotations

from amili_pipelines.warehouse.postgres.connection import PgSession


class PgRateLimitStore:
    def __init__(self, session: PgSession) -> None:
        self.db = session

    def reserve(self, key: str, *, tokens: int, per_second: float, burst: float) -> float:
        if per_second <= 0:
            return 0.0
        left = self.db.scalar(
            """
            INSERT INTO api_rate_limits AS b (key, tokens, updated_at) VALUES (?, ? - ?, clock_timestamp())
            ON CONFLICT (key) DO UPDATE SET
                tokens = least(?, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * ?) - ?,
                updated_at = clock_timestamp()
            RETURNING tokens
            """,
            [key, burst, tokens, burst, per_second, tokens],
        )
        return max(0.0, -float(left) / per_second)
