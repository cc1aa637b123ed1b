"""Client-side limits for each Amili API: the one place their defaults are set.

Settings (``AMILI_*_REQUESTS_PER_SECOND`` ...), the Dagster resources and the clients themselves
all start from these numbers, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientLimits:
    requests_per_second: float
    max_concurrency: int


# Sweden registers one invoice per request; Amili publishes no limit, 50/s is a polite default.
SE_LIMITS = ClientLimits(requests_per_second=50.0, max_concurrency=16)
# Norway takes up to 100 invoices per batch request, so far fewer requests are needed.
NO_LIMITS = ClientLimits(requests_per_second=10.0, max_concurrency=4)
NO_BATCH_SIZE = 100
