"""Which runs Amili Norway's pushed events call for: the inbox sensor's decisions, without Dagster.

* ``BATCH_COMPLETED`` → record that batch's results (case ids, rejections, action batches);
* ``SETTLEMENT_CREATED`` → read the new settlements (from the stored watermark, so every one is read)
  and refresh just the settlements' cases (by case number);
* ``CASE`` / ``CASE_UPDATED`` → read just the cases named (one GET each), instead of every case of
  the organization. Beyond ``MAX_NAMED_CASES`` in one run the whole list is cheaper, so it is read.

A planned run's ``config`` is keyed by what it configures (``batch_results``, ``cases``); the sensor
maps that to the jobs' steps.

Events for an organization no creditor is configured for, unknown event names and bodies that are
not events need no run: they are completed at once (and said so in the sensor's log). Each planned
run names its events, so they are marked processed only when that run succeeded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from amili_pipelines.domain.webhooks import (
    BATCH_COMPLETED,
    CASE,
    CASE_UPDATED,
    SETTLEMENT_CREATED,
    MalformedEvent,
    parse_event,
)
from amili_pipelines.warehouse.inbox import InboxEvent

BATCH_RESULTS, SETTLEMENTS, CASES, NOTHING = "batch_results", "settlements", "cases", "nothing"
MAX_NAMED_CASES = 50


@dataclass
class PlannedRun:
    kind: str  # BATCH_RESULTS | SETTLEMENTS | CASES | NOTHING
    event_hashes: list[str] = field(default_factory=list)
    config: dict[str, dict[str, Any]] = field(default_factory=dict)  # step ("batch_results", "cases") -> config
    notes: list[str] = field(default_factory=list)  # what was ignored, and why

    @property
    def claim_id(self) -> str:
        """The same events always make the same claim (a repeated tick finds it again)."""
        digest = hashlib.sha256("|".join(sorted(self.event_hashes)).encode()).hexdigest()[:16]
        return f"{self.kind}-{digest}"

    def description(self) -> str:
        n = len(self.event_hashes)
        if self.kind == BATCH_RESULTS:
            batches = self.config["batch_results"]["batches"]
            return f"{n} event(s): batches {', '.join(b['batch_id'][:8] for b in batches)}"
        named = self.config.get("cases", {}).get("norway_cases") or []
        cases = f"{len(named)} case(s)" if named else "every case read"
        if self.kind == CASES:
            return f"{n} event(s): {cases}"
        if self.kind == SETTLEMENTS:
            return f"{n} event(s): new settlements, {cases}"
        return f"{n} event(s) needing no run: " + "; ".join(self.notes)[:500]


def _named(refs: list[dict[str, str]]) -> list[dict[str, str]]:
    """The cases to read one by one; an empty list reads them all (cheaper beyond MAX_NAMED_CASES)."""
    return refs if len(refs) <= MAX_NAMED_CASES else []


def plan_runs(events: Sequence[InboxEvent], *, organization_ids: Collection[str]) -> list[PlannedRun]:
    """At most one run per kind for these events (plus the events that need none).

    Organization ids are UUIDs, compared regardless of letter case; the runs carry the id as the
    creditors file spells it (the clients and stores look creditors up by it).
    """
    configured = {o.strip().lower(): o for o in organization_ids if o}
    batches: dict[tuple[str, str], dict[str, str]] = {}
    batch_run, settlement_run, case_run, nothing = (PlannedRun(BATCH_RESULTS), PlannedRun(SETTLEMENTS),
                                                   PlannedRun(CASES), PlannedRun(NOTHING))
    cases: set[tuple[str, str]] = set()
    settled_cases: set[tuple[str, str]] = set()  # (organization, case number) of new settlements
    for e in events:
        try:
            # The name the receiver stored: the body's, or the X-Amili-Event header's when the body has none.
            ev = parse_event(e.body, header_event=e.event)
        except MalformedEvent as exc:
            nothing.event_hashes.append(e.key_hash)
            nothing.notes.append(f"{e.key_hash[:8]}: {exc}")
            continue
        org = configured.get((ev.organization_id or "").strip().lower())
        if org is None:
            nothing.event_hashes.append(e.key_hash)
            nothing.notes.append(f"{ev.subject()}: organization {str(ev.organization_id)[:8]}… is not configured")
        elif ev.event == BATCH_COMPLETED and ev.batch_id:
            batches[(org, ev.batch_id)] = {"organization_id": org, "batch_id": ev.batch_id,
                                           "status": ev.batch_status, "type": ev.batch_type}
            batch_run.event_hashes.append(e.key_hash)
        elif ev.event == SETTLEMENT_CREATED:
            settlement_run.event_hashes.append(e.key_hash)
            settled_cases.add((org, ev.case_number or ""))
        elif ev.event in (CASE, CASE_UPDATED) and ev.case_id:
            cases.add((org, ev.case_id))
            case_run.event_hashes.append(e.key_hash)
        else:
            nothing.event_hashes.append(e.key_hash)
            nothing.notes.append(f"{ev.subject()}: no run needed for this event")
    batch_run.config = {"batch_results": {"batches": [batches[k] for k in sorted(batches)]}}
    case_run.config = {"cases": {"norway_cases": _named([{"organization_id": o, "case_id": c} for o, c in sorted(cases)])}}
    settlement_run.config = {"cases": {"norway_cases": _named(
        [{"organization_id": o, "case_number": n} for o, n in sorted(settled_cases)]
        if all(n for _, n in settled_cases) else [])}}
    return [run for run in (batch_run, settlement_run, case_run, nothing) if run.event_hashes]
