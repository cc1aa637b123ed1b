"""The published analytics file: what finance analysts, BI tools and notebooks read.

Rebuilt at the end of every writing run and swapped into place in one step, with personal
identity numbers masked; the tables and the replacement live in the analytics store
(:mod:`amili_pipelines.warehouse.analytics`), the schema is documented in docs/analytics.md.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from amili_pipelines.domain.dates import utcnow
from amili_pipelines.warehouse import Warehouse


@dataclass
class PublishSummary:
    path: str = ""
    published_at: str = ""
    tables: dict[str, int] = field(default_factory=dict)  # table -> row count
    bytes: int = 0
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in asdict(self).items() if k != "tables"}
        for t, n in self.tables.items():
            out[f"rows_{t}"] = n
        return out


def publish_analytics(warehouse: Warehouse, *, analytics_path: str | Path, as_of: date | None = None) -> PublishSummary:
    """Rebuild the analysts' file from the operational store and swap it into place atomically."""
    started = time.perf_counter()
    target = Path(analytics_path)
    summary = PublishSummary(path=str(target))
    # One publish of this file at a time, each reading the store only once it has its turn: in the
    # production profile runs write in parallel and each ends here, and a publish that read the
    # store earlier but finished later would rename an older copy over a newer one.
    with warehouse.exclusive(f"publish analytics {target.resolve()}"):
        summary.published_at = utcnow().isoformat(timespec="seconds")
        summary.tables = warehouse.analytics.publish(analytics_path=target, as_of=as_of or utcnow().date(),
                                                     published_at=summary.published_at)
    summary.bytes = target.stat().st_size
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
