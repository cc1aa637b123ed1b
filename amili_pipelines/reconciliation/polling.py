"""What changed at Amili since a cursor: the API side of the sensors, without Dagster and DuckDB.

Each ``poll_*`` function takes the sensor's previous cursor (a JSON-able dict; missing keys mean
"never polled"), reads at most ``max_items`` objects per list, and returns a :class:`Poll`:
what is new (``triggers``, each with a deterministic ``run_key`` that names the state it reacts
to), the merged new cursor, and a one-line description of what was seen (for ``SkipReason``).

A source whose read fails keeps its old cursor entry and is reported in ``failed``: nothing it
would have reported is lost, the next tick reads it again. With Norway's webhooks on, the Norwegian
batch list and case sweep are only a safety net: ``safety_net_s`` > 0 reads them at most that often
(the time of the last read is in the cursor); Sweden, which pushes nothing, is read every tick. Cursors never hold anything the
runs need to be correct: the runs read from their own watermarks in DuckDB, so a lost or reset
cursor at worst triggers one extra (idempotent) run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from amili_pipelines.amili.fields import parse_datetime

CURSOR_VERSION = 1
DONE_BATCHES_KEPT = 500  # finished batch ids remembered per organization
BATCH_HORIZON_MARGIN = timedelta(hours=6)
NO_SETTLEMENT_OVERLAP = timedelta(days=7)


@dataclass
class Trigger:
    run_key: str
    run_config: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass
class Poll:
    cursor: dict[str, Any]
    triggers: list[Trigger] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # human-readable observations
    new: list[str] = field(default_factory=list)  # tokens of the new objects (market:id@version)
    failed: list[str] = field(default_factory=list)  # sources whose read failed this tick

    @property
    def summary(self) -> str:
        parts = list(self.seen)
        if self.failed:
            parts.append("failed: " + "; ".join(self.failed))
        return "; ".join(parts) or "nothing to poll"


def load_cursor(raw: str | None) -> dict[str, Any]:
    """Parse a stored cursor; an unreadable or older-version cursor starts afresh (safe: runs are idempotent)."""
    if not raw:
        return {"v": CURSOR_VERSION}
    try:
        data = json.loads(raw)
    except ValueError:
        return {"v": CURSOR_VERSION}
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        return {"v": CURSOR_VERSION}
    return data


def dump_cursor(cursor: dict[str, Any]) -> str:
    return json.dumps(cursor, sort_keys=True, separators=(",", ":"))


def _digest(parts: list[str], n: int = 12) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:n]


NO_CASES_DIGEST = _digest([], 16)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    return parsed if isinstance(parsed, datetime) else None


async def _take(
    it: AsyncIterator[Any], limit: int, *, counts: Callable[[Any], bool] | None = None, hard_limit: int | None = None,
) -> tuple[list[Any], bool]:
    """Items from an async iterator until ``limit`` of them count (all count by default) or
    ``hard_limit`` (10 × limit) were read; True when the listing was complete."""
    out: list[Any] = []
    counted = 0
    hard = hard_limit or 10 * limit
    async for item in it:
        if counted >= limit or len(out) >= hard:
            await _aclose(it)
            return out, False
        out.append(item)
        if counts is None or counts(item):
            counted += 1
    return out, True


async def _aclose(it: Any) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        await close()


async def _guard(poll: Poll, name: str, fn: Callable[[], Any]) -> bool:
    try:
        await fn()
        return True
    except Exception as exc:  # noqa: BLE001 - reported in the tick, old cursor kept for this source
        poll.failed.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
        return False


# ---------------------------------------------------------------------------------------------
# Norway batches
# ---------------------------------------------------------------------------------------------


def _iter_batches_newest_first(no_client: Any, organization_id: str, page_size: int) -> AsyncIterator[Any]:
    """Batches of an organization, newest first (``SortDirection=DESC``)."""
    return no_client.iter_batches(organization_id=organization_id, sort_direction="DESC", page_size=page_size)


def _not_due(cursor: dict[str, Any], key: str, safety_net_s: float, now: datetime | None) -> float | None:
    """Seconds until the next safety-net read of ``key``, or None when it is due now."""
    if safety_net_s <= 0:
        return None
    last = _dt(cursor.get("read_at", {}).get(key))
    now = now or datetime.now(UTC)
    left = safety_net_s - (now - last).total_seconds() if last is not None else 0
    return left if left > 0 else None


def _mark_read(poll: Poll, key: str, now: datetime | None) -> None:
    poll.cursor["read_at"] = {**poll.cursor.get("read_at", {}), key: _iso(now or datetime.now(UTC))}


async def poll_norway_batches(
    cursor: dict[str, Any], *, no_client: Any, organization_ids: list[str], max_items: int = 500, page_size: int = 100,
    safety_net_s: float = 0.0, now: datetime | None = None,
) -> Poll:
    """Finished batches not reported before → one trigger per batch (``run_key = no-batch:<id>:<status>``).

    Reads batches newest first down to a horizon (the oldest batch still running at the last
    tick, or the newest finished one, less a margin), so each tick's work stays bounded.
    Cursor per organization: ``{"horizon": iso, "done": [batch ids], "running": {id: createdAt}}``.
    """
    poll = Poll(cursor=dict(cursor))
    wait = _not_due(cursor, "no_batches", safety_net_s, now)
    if wait is not None:
        poll.seen.append(f"NO batches: webhooks on, next safety-net read in {wait:.0f} s")
        return poll
    failed_before = len(poll.failed)
    orgs_cur = dict(cursor.get("no_batches", {}))
    for org in organization_ids:
        state = orgs_cur.get(org, {})
        done = list(state.get("done", []))
        done_set = set(done)
        horizon = _dt(state.get("horizon"))
        result: dict[str, Any] = {}

        async def read(org: str = org, state: dict = state, done: list = done, done_set: set = done_set,
                       horizon: datetime | None = horizon, result: dict = result) -> None:
            running: dict[str, str] = {}
            finished = []
            count = 0
            newest: datetime | None = None
            complete = True
            async for b in _iter_batches_newest_first(no_client, org, page_size):
                created = b.created_at
                if created is not None and horizon is not None and created < horizon:
                    break
                count += 1
                if created is not None and (newest is None or created > newest):
                    newest = created
                if b.is_terminal:
                    if b.batch_id not in done_set:
                        finished.append(b)
                else:
                    running[b.batch_id] = _iso(created) or ""
                if count >= max_items:
                    complete = False
                    break
            result.update(running=running, finished=finished, count=count, newest=newest, complete=complete)

        if not await _guard(poll, f"NO batches {org[:8]}", read):
            continue
        finished = result["finished"]
        for b in sorted(finished, key=lambda b: (b.created_at or datetime.min.replace(tzinfo=UTC), b.batch_id)):
            status = (b.status or "").upper()
            poll.triggers.append(Trigger(
                run_key=f"no-batch:{b.batch_id}:{status}",
                run_config={"batches": [{"organization_id": org, "batch_id": b.batch_id, "status": status,
                                         "type": b.type or ""}]},
                tags={"amili/market": "NO", "amili/batch_id": b.batch_id, "amili/batch_status": status},
                description=f"batch {b.batch_id} ({b.type or '?'}) finished {status}",
            ))
            done.append(b.batch_id)
        done = done[-DONE_BATCHES_KEPT:]
        # Next horizon: the oldest still-running batch, else the newest seen; never move back.
        candidates = [_dt(v) for v in result["running"].values() if v]
        if candidates:
            new_horizon = min(c for c in candidates if c is not None) - BATCH_HORIZON_MARGIN
        elif result["newest"] is not None:
            new_horizon = result["newest"] - BATCH_HORIZON_MARGIN
        else:
            new_horizon = horizon
        if not result["complete"]:
            new_horizon = horizon  # bound hit: keep reading from the same horizon next tick
        if horizon is not None and new_horizon is not None and new_horizon < horizon and not candidates:
            new_horizon = horizon
        orgs_cur[org] = {"horizon": _iso(new_horizon), "done": done, "running": result["running"]}
        poll.seen.append(
            f"NO {org[:8]}: {result['count']} batches read, {len(result['running'])} running, {len(finished)} newly finished"
        )
    poll.cursor["no_batches"] = orgs_cur
    if len(poll.failed) == failed_before:  # a failed read is retried at the next tick, not after the safety net
        _mark_read(poll, "no_batches", now)
    poll.cursor["v"] = CURSOR_VERSION
    return poll


# ---------------------------------------------------------------------------------------------
# Settlements (Norway) and finance lines (Sweden)
# ---------------------------------------------------------------------------------------------


async def _poll_se_updated(
    poll: Poll, key: str, label: str, se_client: Any, kind: str, creditor_ids: list[str], max_items: int,
) -> list[str]:
    """Generic Eve read of what changed after the cursor, in (``_updated``, ``_id``) order.

    Cursor per creditor: ``{"updated": iso, "last_id": id}`` — the last object read. Many objects
    share one ``_updated`` second (a batch job touches them together), so the id breaks the tie
    and a tick that stops at ``max_items`` resumes exactly after the last object it read.
    Returns 'id@updated' tokens of what is new.
    """
    state = dict(poll.cursor.get(key, {}))
    new_tokens: list[str] = []
    for cid in creditor_ids:
        st = state.get(cid, {})
        since = _dt(st.get("updated"))
        last_id = st.get("last_id")
        result: dict[str, Any] = {}

        async def read(cid: str = cid, since: datetime | None = since, last_id: str | None = last_id,
                       result: dict = result) -> None:
            changed = se_client.iter_changed(kind, creditor=cid, since=since, after_id=last_id)
            items, complete = await _take(changed, max_items)
            result.update(items=items, complete=complete)

        if not await _guard(poll, f"SE {label} {cid[-6:]}", read):
            continue
        fresh = [it for it in result["items"] if it.updated is not None]
        new_tokens += [f"{it.id}@{_iso(it.updated)}" for it in fresh]
        if fresh:
            last = max(fresh, key=lambda it: (it.updated, it.id))
            state[cid] = {"updated": _iso(last.updated), "last_id": last.id}
        else:
            state[cid] = {"updated": _iso(since), "last_id": last_id}
        more = "" if result["complete"] else " (more next tick)"
        poll.seen.append(f"SE {label}: {len(fresh)} new/changed since {_iso(since) or 'start'}{more}")
    poll.cursor[key] = state
    return new_tokens


async def poll_settlements(
    cursor: dict[str, Any], *, se_client: Any | None, no_client: Any | None, se_creditor_ids: list[str],
    no_organization_ids: list[str], max_items: int = 1000,
) -> Poll:
    """New money lines: NO settlements (``fromDate`` window + seen ids), SE payout specifications
    and payouts (``_updated`` cursor). One trigger per tick covering everything new.

    ``run_key = settlements:<n>:<digest>`` where the digest covers each new line's id and its
    ``_updated`` (a Swedish line that gets its payout later is a new state and triggers again).
    """
    poll = Poll(cursor=dict(cursor))
    tokens: list[str] = []
    if no_client is not None:
        no_state = dict(cursor.get("no_settlements", {}))
        for org in no_organization_ids:
            st = no_state.get(org, {})
            from_date = date.fromisoformat(st["from"]) if st.get("from") else None
            seen_ids = set(st.get("seen", []))
            result: dict[str, Any] = {}

            async def read(org: str = org, from_date: date | None = from_date, seen_ids: set = seen_ids,
                           result: dict = result) -> None:
                # The list has no "after" filter: lines already seen (the overlap window) are skipped
                # without counting against the bound, so a tick that stops early resumes next time.
                items, complete = await _take(
                    no_client.iter_settlements(organization_id=org, from_date=from_date), max_items,
                    counts=lambda s: s.settlement_id not in seen_ids,
                )
                result.update(items=items, complete=complete)

            if not await _guard(poll, f"NO settlements {org[:8]}", read):
                continue
            items = result["items"]
            fresh = [s for s in items if s.settlement_id not in seen_ids]
            tokens += [f"NO:{s.settlement_id}" for s in fresh]
            all_seen = {s.settlement_id: s.settlement_date for s in items}
            # Remember ids of the overlap window only; move the window when the listing was complete.
            dates = [d for d in all_seen.values() if d is not None]
            new_from = from_date
            if result["complete"] and dates:
                new_from = max(dates) - NO_SETTLEMENT_OVERLAP
                if from_date is not None and new_from < from_date:
                    new_from = from_date
            keep = sorted(
                {sid for sid, d in all_seen.items() if d is None or new_from is None or d >= new_from}
                | {sid for sid in seen_ids if not result["complete"]}
            )
            no_state[org] = {"from": new_from.isoformat() if new_from else None, "seen": keep}
            poll.seen.append(f"NO settlements: {len(fresh)} new of {len(items)} since {from_date or 'start'}")
        poll.cursor["no_settlements"] = no_state
    if se_client is not None and se_creditor_ids:
        tokens += ["SE:" + t for t in await _poll_se_updated(
            poll, "se_specifications", "payout specifications", se_client, "payout_specifications", se_creditor_ids,
            max_items,
        )]
        tokens += ["SEP:" + t for t in await _poll_se_updated(
            poll, "se_payouts", "payouts", se_client, "payouts", se_creditor_ids, max_items,
        )]
    poll.new = tokens
    if tokens:
        poll.triggers.append(Trigger(
            run_key=f"settlements:{len(tokens)}:{_digest(tokens)}",
            run_config={},
            tags={"amili/new_lines": str(len(tokens))},
            description=f"{len(tokens)} new or changed settlement / payout lines",
        ))
    poll.cursor["v"] = CURSOR_VERSION
    return poll


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


def _no_case_fingerprint(case: Any) -> str:
    inv = [i for i in case.invoices if not isinstance(i, str)]
    amounts = ",".join(
        f"{i.remaining_amount}/{i.remaining_principal}/{i.paid_amount}/{i.credited_amount}" for i in inv
    )
    return f"{case.case_id}|{case.status}|{case.closed_at}|{amounts}"


async def poll_cases(
    cursor: dict[str, Any], *, se_client: Any | None, no_client: Any | None, se_creditor_ids: list[str],
    no_organization_ids: list[str], max_items: int = 2000, safety_net_s: float = 0.0, now: datetime | None = None,
) -> Poll:
    """Changed cases: Sweden by ``_updated`` cursor; Norway (no "updated since" filter) by a
    digest of every case's status and amounts per organization.

    ``run_key = cases:<digest>`` over the changed cases' ids and versions.
    """
    poll = Poll(cursor=dict(cursor))
    tokens: list[str] = []
    if se_client is not None and se_creditor_ids:
        tokens += ["SE:" + t for t in await _poll_se_updated(
            poll, "se_cases", "cases", se_client, "cases", se_creditor_ids, max_items,
        )]
    wait = _not_due(cursor, "no_cases", safety_net_s, now) if no_client is not None else None
    if wait is not None:
        poll.seen.append(f"NO cases: webhooks on, next safety-net sweep in {wait:.0f} s")
    elif no_client is not None:
        failed_before = len(poll.failed)
        no_state = dict(cursor.get("no_cases", {}))
        for org in no_organization_ids:
            st = no_state.get(org, {})
            result: dict[str, Any] = {}

            async def read(org: str = org, result: dict = result) -> None:
                items, complete = await _take(no_client.iter_cases(organization_id=org), max_items)
                result.update(items=items, complete=complete)

            if not await _guard(poll, f"NO cases {org[:8]}", read):
                continue
            prints = [_no_case_fingerprint(c) for c in result["items"]]
            digest = _digest(prints, 16)
            # Never polled reads as "no cases": a first tick that finds none has nothing to react to.
            changed = digest != st.get("digest", NO_CASES_DIGEST)
            if changed:
                tokens.append(f"NO:{org}:{digest}")
            no_state[org] = {"digest": digest, "count": len(prints)}
            poll.seen.append(f"NO cases: {len(prints)} read, {'changed' if changed else 'unchanged'}")
        poll.cursor["no_cases"] = no_state
        if len(poll.failed) == failed_before:
            _mark_read(poll, "no_cases", now)
    if tokens:
        poll.triggers.append(Trigger(
            run_key=f"cases:{len(tokens)}:{_digest(tokens)}",
            run_config={},
            tags={"amili/changed_cases": str(len(tokens))},
            description=f"{len(tokens)} changed case versions",
        ))
    poll.cursor["v"] = CURSOR_VERSION
    return poll
