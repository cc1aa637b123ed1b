"""What a registration run did, for Dagster metadata, the CLI summary and logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from amili_pipelines.domain.masking import mask_identity_numbers

# What a partition day put in the outbox. Sending is not per day: a run sends every pending invoice.
QUEUE_FIELDS = ("enqueued_new", "requeued_after_fix", "already_in_outbox")


@dataclass
class RegistrationSummary:
    enqueued_new: int = 0
    requeued_after_fix: int = 0
    already_in_outbox: int = 0
    sent: int = 0  # registration requests (Sweden) or batch items (Norway) that left this process
    batches_submitted: int = 0
    registered: int = 0
    rejected: int = 0
    waiting_for_batch: int = 0
    unknown_resolved_registered: int = 0  # looked up after an unclear outcome: Amili had it
    unknown_resolved_pending: int = 0  # looked up after an unclear outcome: Amili did not have it
    still_unknown: int = 0
    still_pending: int = 0  # not sent this run (Amili unreachable, or refused too often in a row)
    amili_unreachable: bool = False  # the circuit opened: the run stopped sending
    waited_for_batches_s: float = 0.0  # Norway: how long this run waited for its batches (headless runs)
    unplaced_in_batches: int = 0  # Norway: in finished batches, neither matched to Amili's items nor found by lookup
    http_requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (invoice_key, API message)
    queued_by_day: dict[date | None, dict[str, int]] = field(default_factory=dict)  # partition day -> QUEUE_FIELDS

    @property
    def throughput(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def add(self, other: RegistrationSummary) -> None:
        for name in self.__dataclass_fields__:
            mine = getattr(self, name)
            if isinstance(mine, list):
                mine.extend(getattr(other, name))
            elif isinstance(mine, dict):
                mine.update(getattr(other, name))
            elif isinstance(mine, bool):
                setattr(self, name, mine or getattr(other, name))
            else:
                setattr(self, name, mine + getattr(other, name))

    def queued(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in QUEUE_FIELDS}

    def metadata(self) -> dict[str, int | float]:
        return {
            "enqueued_new": self.enqueued_new,
            "requeued_after_fix": self.requeued_after_fix,
            "already_in_outbox": self.already_in_outbox,
            "sent": self.sent,
            "batches_submitted": self.batches_submitted,
            "registered": self.registered,
            "rejected": self.rejected,
            "waiting_for_batch": self.waiting_for_batch,
            "unknown_then_registered": self.unknown_resolved_registered,
            "unknown_then_resent": self.unknown_resolved_pending,
            "still_unknown": self.still_unknown,
            "still_pending": self.still_pending,
            "amili_unreachable": self.amili_unreachable,
            "waited_for_batches_s": self.waited_for_batches_s,
            "unplaced_in_batches": self.unplaced_in_batches,
            "http_requests": self.http_requests,
            "retries": self.retries,
            "rate_limited_429": self.rate_limited,
            "seconds": round(self.seconds, 3),
            "invoices_per_second": round(self.throughput, 1),
        }

    def rejections_markdown(self, limit: int = 20) -> str:
        if not self.rejections:
            return "No rejections."
        lines = ["| invoice | Amili's reason |", "|---|---|"]
        for key, msg in self.rejections[:limit]:
            # Amili's reason may quote the debtor's identity number back
            lines.append(f"| {mask_identity_numbers(key)} | {mask_identity_numbers(msg.replace('|', '/'))} |")
        if len(self.rejections) > limit:
            lines.append(f"| … | {len(self.rejections) - limit} more |")
        return "\n".join(lines)
