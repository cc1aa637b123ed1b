"""The emulator's state engine: documents, case ledgers, lifecycle and business rules.

No HTTP here. Handlers in ``sweden.py`` / ``norway.py`` call into :class:`Engine`; tests may drive
it in-process. All mutations happen synchronously (no awaits), under ``Engine.lock``.

Money is kept in integer minor units (öre / øre) in :class:`Ledger`; documents carry JSON numbers.

Amount identity per case (both markets)::

    claimed   = added capital + added costs (fees) + added interest
    claimed   = paid_direct + paid_to_agency + credited + cancelled + remaining

* ``paid_direct``     the debtor paid the creditor directly (SE creditor--payments, NO DIRECT_PAYMENT)
* ``paid_to_agency``  the debtor paid Amili (simulated by the lifecycle); this is the only money
                      that produces payout specifications (SE) / settlements (NO)
* ``paid_out``        what Amili passes on to the creditor from ``paid_to_agency``:
                      capital + interest (+ SE reminder fees) − commission − VAT on commission;
                      debt-collection / NO fees are kept by Amili. Always ``paid_out <= paid_to_agency``.
* ``credited``        creditor creditings (SE) / corrections (NO)
* ``cancelled``       what was written off by a cancellation (SE) / withdrawal (NO)
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from . import schemas
from .config import EmulatorConfig
from .eve import validate
from .util import UTC, etag_for, from_minor, iso, luhn_digit, parse_date, pct_of, rfc1123, to_minor, ymd

DAY = 86400.0

SE_COLLECTIONS = (
    "invoice--registrations",
    "invoices",
    "case--registrations",
    "cases",
    "creditor--payments",
    "creditor--creditings",
    "creditor--cancellations",
    "finance--payouts",
    "finance--payout-specifications",
    "creditors",
    "media--files",
)
NO_COLLECTIONS = ("batches", "invoices", "cases", "payments", "corrections", "settlements")

SE_STATUS = {
    "initializing": "initialized",
    "invoice": "invoice_active",
    "reminder": "reminder_active",
    "debt_collection": "debt_collection_active",
    "closed": "closed",
}
SE_NEXT = {"invoice": "reminder", "reminder": "debt_collection"}
NO_NEXT = {"NOTICE": "PAYMENT_REMINDER", "PAYMENT_REMINDER": "COLLECTION_NOTICE"}
NO_COLLECTION_TYPE = {"NOTICE": "NOTICE", "PAYMENT_REMINDER": "REMINDER", "COLLECTION_NOTICE": "DEBT_COLLECTION"}
EVE_422 = "Insertion failure: 1 document(s) contain(s) error(s)"


class SimClock:
    """Simulated time = start + wall elapsed × speed + offset (advanced by admin calls)."""

    def __init__(self, start: str | None, speed: float) -> None:
        parsed = parse_date(start) if start else None
        self.start_ts = parsed.timestamp() if parsed else time.time()
        self.wall0 = time.time()
        self.speed = speed
        self.offset = 0.0

    def now_ts(self) -> float:
        return self.start_ts + (time.time() - self.wall0) * self.speed + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ts(), UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def restore(self, saved_now: float) -> None:
        """Continue after a restart: never go back in time."""
        if saved_now > self.now_ts():
            self.offset += saved_now - self.now_ts()


@dataclass
class Ledger:
    market: str
    case_id: str
    seq: int
    creditor: str
    stage: str
    stage_entered: float
    capital_added: int = 0
    costs_added: int = 0
    interest_added: int = 0
    rem_capital: int = 0
    rem_interest: int = 0
    rem_fees: dict[str, int] = field(default_factory=dict)
    paid_direct: int = 0
    paid_agency: int = 0
    credited: int = 0
    cancelled: int = 0
    paid_out: int = 0
    is_open: bool = True
    paused: bool = False
    flow_started: bool = True
    first_stage: str = "invoice"
    next_stage_at: float | None = None
    interest_from: float | None = None
    pay_at: float | None = None
    pay_percent: int = 100
    respite_until: float | None = None
    paused_at: float | None = None

    @property
    def rem_costs(self) -> int:
        return sum(self.rem_fees.values())

    @property
    def remaining(self) -> int:
        return self.rem_capital + self.rem_interest + self.rem_costs

    @property
    def claimed(self) -> int:
        return self.capital_added + self.costs_added + self.interest_added

    def next_at(self) -> float:
        if not self.is_open or self.paused or not self.flow_started:
            return math.inf
        cands = [self.next_stage_at, self.pay_at]
        if self.interest_from is not None and self.rem_capital > 0:
            cands.append(self.interest_from + self._posting)
        return min((c for c in cands if c is not None), default=math.inf)

    _posting: float = DAY * 30


class Engine:
    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.lock = threading.RLock()
        self.clock = SimClock(self.config.clock.start, self.config.clock.speed)
        self.dirty = False
        self.reset()

    # ------------------------------------------------------------------ setup
    def reset(self) -> None:
        with self.lock:
            cfg = self.config
            self.clock = SimClock(cfg.clock.start, cfg.clock.speed)
            self.db: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
                "se": {c: {} for c in SE_COLLECTIONS},
                "no": {c: {} for c in NO_COLLECTIONS},
            }
            self.ledgers: dict[str, Ledger] = {}
            self.se_tokens: dict[str, tuple[str, float]] = {}
            self.no_tokens: dict[str, tuple[str, float]] = {}
            self.counter = 0
            self.case_seq = 0
            self.version = 0
            self.ocr_seq = 0
            self.case_number = 100000
            self.machine = hashlib.sha1(str(cfg.seed).encode()).hexdigest()[:10]
            self.next_due = math.inf
            self.due_heap: list[tuple[float, int, str]] = []
            self.scheduled_payouts: list[tuple[float, str]] = []
            interval = cfg.lifecycle.payout_interval_days * DAY
            self.next_payout_at: float | None = (math.floor(self.clock.now_ts() / interval) + 1) * interval
            self.pending_batches: dict[str, dict[str, Any]] = {}
            self.idempotency: dict[tuple[str, str], str] = {}
            self.outbox: list[dict[str, Any]] = []
            self.webhook_log: list[dict[str, Any]] = []
            self.se_by_number: dict[tuple[str, str], list[str]] = {}
            self.no_by_number: dict[tuple[str, str], list[str]] = {}
            now = self.clock.now()
            for c in cfg.sweden.creditors:
                self._seed_creditor(c.model_dump(), now)
            self.dirty = True

    def _seed_creditor(self, c: dict[str, Any], now: datetime) -> None:
        ts = rfc1123(now)
        doc = {
            "_id": c["id"],
            "account": c["account"],
            "name": c["name"],
            "organization_no": c.get("organization_no"),
            "is_active": c.get("is_active", True),
            "standard_debt_description": "Services",
            "agreement_address": {"address_line_1": "Demogatan 1", "zip_code": "11122", "city": "Stockholm"},
            "case_config": {
                "vat_area": "sweden",
                "commission_excluded_vat": True,
                "payout_capital_by_invoice": False,
                "payout_interest_by_invoice": False,
                "letter_config": {},
            },
            "description": "",
            "default_letter_locale": "sv",
            "payout_details": {"sek": {"bankgiro": "5050-1055"}},
            "sender_address": {"address_line_1": "Demogatan 1", "zip_code": "11122", "city": "Stockholm"},
            "invoice_address": {"address_line_1": "Demogatan 1", "zip_code": "11122", "city": "Stockholm"},
            "always_use_standard_debt_description": False,
            "added_to_erp_system": True,
            "creditor_number": c.get("creditor_number", 1001),
            "_created": ts,
            "_updated": ts,
            "_etag": etag_for(c["id"], 0),
        }
        self.db["se"]["creditors"][c["id"]] = doc

    # ------------------------------------------------------------------ ids & docs
    def oid(self, ts: float | None = None) -> str:
        self.counter += 1
        t = int(self.clock.now_ts() if ts is None else ts) & 0xFFFFFFFF
        return f"{t:08x}{self.machine}{self.counter & 0xFFFFFF:06x}"

    def uuid(self) -> str:
        self.counter += 1
        digest = hashlib.sha1(f"{self.config.seed}:{self.counter}".encode()).digest()[:16]
        return str(uuid.UUID(bytes=digest, version=4))

    def ocr(self, now: datetime) -> str:
        self.ocr_seq += 1
        base = f"{now.year}{self.ocr_seq:015d}"
        return base + luhn_digit(base)

    def _etag(self, _id: str) -> str:
        self.version += 1
        return etag_for(self.machine, _id, self.version)

    def se_insert(self, coll: str, fields: dict[str, Any], now: datetime, _id: str | None = None) -> dict[str, Any]:
        _id = _id or self.oid(now.timestamp())
        ts = rfc1123(now)
        doc = {"_id": _id, **fields, "_created": ts, "_updated": ts, "_etag": self._etag(_id)}
        self.db["se"][coll][_id] = doc
        self.dirty = True
        return doc

    def se_touch(self, doc: dict[str, Any], now: datetime) -> None:
        doc["_updated"] = rfc1123(now)
        doc["_etag"] = self._etag(doc["_id"])
        self.dirty = True

    def no_touch(self, doc: dict[str, Any], now: datetime) -> None:
        doc["updatedAt"] = iso(now)
        self.dirty = True

    # ------------------------------------------------------------------ SE auth
    def se_issue_token(self, account: str) -> tuple[str, datetime]:
        import secrets

        token = secrets.token_urlsafe(24)
        ttl = self.config.sweden.token_ttl_seconds
        announced = datetime.fromtimestamp(time.time() + ttl, UTC)
        actual = self.config.faults.token_actual_ttl_seconds
        real_expiry = time.time() + (min(actual, ttl) if actual is not None else ttl)
        self.se_tokens[token] = (account, real_expiry)
        return token, announced

    def se_account_for_token(self, token: str | None) -> str | None:
        if not token:
            return None
        entry = self.se_tokens.get(token)
        if entry is None:
            return None
        if time.time() >= entry[1]:
            self.se_tokens.pop(token, None)
            return None
        return entry[0]

    def no_issue_token(self, client_id: str) -> tuple[str, int, int]:
        import secrets

        token = "eyJ" + secrets.token_urlsafe(40)
        ttl = self.config.norway.token_ttl_seconds
        now = time.time()
        actual = self.config.faults.token_actual_ttl_seconds
        real_expiry = now + (min(actual, ttl) if actual is not None else ttl)
        self.no_tokens[token] = (client_id, real_expiry)
        return token, int(now), int(now + ttl)

    def no_client_for_token(self, token: str | None) -> str | None:
        if not token:
            return None
        entry = self.no_tokens.get(token)
        if entry is None:
            return None
        if time.time() >= entry[1]:
            self.no_tokens.pop(token, None)
            return None
        return entry[0]

    # ------------------------------------------------------------------ ledgers
    def _new_ledger(self, market: str, case_id: str, creditor: str, stage: str, now_ts: float) -> Ledger:
        self.case_seq += 1
        led = Ledger(market=market, case_id=case_id, seq=self.case_seq, creditor=creditor, stage=stage,
                     stage_entered=now_ts)
        lc = self.config.lifecycle
        led._posting = lc.interest_posting_days * DAY
        if lc.enabled:
            rng = random.Random(f"{self.config.seed}:fate:{market}:{self.case_seq}")
            if rng.random() < lc.pay_share:
                partial = rng.random() < lc.partial_share
                lo, hi = sorted((lc.partial_min_percent, lc.partial_max_percent))
                led.pay_percent = rng.randint(lo, hi) if partial else 100
                led.pay_at = now_ts + rng.uniform(1.0, max(1.0, lc.pay_within_days)) * DAY
        self.ledgers[case_id] = led
        return led

    def _stage_days(self, led: Ledger) -> float | None:
        lc = self.config.lifecycle
        if not lc.enabled:
            return None
        if led.stage in ("invoice", "NOTICE"):
            return lc.invoice_days
        if led.stage in ("reminder", "PAYMENT_REMINDER"):
            return lc.reminder_days
        return None

    def _schedule_stage(self, led: Ledger) -> None:
        if led.stage == "initializing":
            led.next_stage_at = (
                led.stage_entered + self.config.sweden.initializing_seconds if led.flow_started else None
            )
            return
        days = self._stage_days(led)
        led.next_stage_at = None if days is None else led.stage_entered + days * DAY
        if led.next_stage_at is not None and led.respite_until and led.respite_until > led.next_stage_at:
            led.next_stage_at = led.respite_until

    def _bump_due(self, led: Ledger) -> None:
        """(Re)announce a ledger's next event. Stale heap entries are skipped when popped."""
        t = led.next_at()
        if t < math.inf:
            heapq.heappush(self.due_heap, (t, led.seq, led.case_id))
            if t < self.next_due:
                self.next_due = t

    def _add_fee(self, led: Ledger, article: str, amount_major: float) -> None:
        minor = to_minor(amount_major)
        if minor <= 0:
            return
        led.rem_fees[article] = led.rem_fees.get(article, 0) + minor
        led.costs_added += minor

    def _enter_stage(self, led: Ledger, stage: str, at: float, now: datetime) -> None:
        """Move a case to a stage (SE state / NO type), charging the stage fee."""
        lc = self.config.lifecycle
        self._post_interest(led, at)
        led.stage = stage
        led.stage_entered = at
        if stage == "reminder" and led.rem_fees.get("reminder") and led.costs_added == led.rem_fees["reminder"]:
            pass  # case registration with fees_already_claimed.reminder: that fee replaces ours
        elif stage == "reminder":
            self._add_fee(led, "reminder", lc.se_reminder_fee)
        elif stage == "debt_collection":
            self._add_fee(led, "debt_collection", lc.se_debt_collection_fee)
        elif stage == "PAYMENT_REMINDER":
            self._add_fee(led, "reminder", lc.no_reminder_fee)
        elif stage == "COLLECTION_NOTICE":
            self._add_fee(led, "collection", lc.no_collection_fee)
        if stage in ("reminder", "debt_collection", "PAYMENT_REMINDER", "COLLECTION_NOTICE") and led.interest_from is None:
            led.interest_from = at
        self._schedule_stage(led)
        if led.market == "se":
            doc = self.db["se"]["cases"][led.case_id]
            d = rfc1123(datetime.fromtimestamp(at, UTC))
            doc["state"] = stage
            doc["status"] = SE_STATUS[stage]
            doc["state_history"].append({"state": stage, "state_date": d})
            doc["status_history"].append({"status": SE_STATUS[stage], "status_date": d})
            doc["latest_state_date"] = d
        else:
            case = self.db["no"]["cases"][led.case_id]
            case["type"] = stage
            inv = self.db["no"]["invoices"].get(case["invoices"][0]["invoiceId"])
            if inv is not None:
                inv["type"] = stage
        self._sync(led, now)

    def _post_interest(self, led: Ledger, at: float) -> None:
        if led.interest_from is None or at <= led.interest_from:
            return
        rate = self.config.lifecycle.interest_rate_percent
        if led.rem_capital > 0 and rate > 0:
            days = (at - led.interest_from) / DAY
            amount = pct_of(led.rem_capital, rate * days / 365.0)
            if amount > 0:
                led.rem_interest += amount
                led.interest_added += amount
        led.interest_from = at

    def _allocate(self, led: Ledger, amount: int, order: tuple[str, ...]) -> dict[str, int]:
        """Take up to ``amount`` from the remaining buckets in ``order``; returns what was taken."""
        taken: dict[str, int] = {}
        left = amount
        for bucket in order:
            if left <= 0:
                break
            if bucket == "capital":
                t = min(left, led.rem_capital)
                led.rem_capital -= t
            elif bucket == "interest":
                t = min(left, led.rem_interest)
                led.rem_interest -= t
            else:
                fees_taken = 0
                for article in list(led.rem_fees):
                    f = min(left - fees_taken, led.rem_fees[article])
                    if f > 0:
                        led.rem_fees[article] -= f
                        taken["fee:" + article] = f
                        fees_taken += f
                t = fees_taken
            if t and bucket != "costs":
                taken[bucket] = t
            left -= t
        return taken

    def _close(self, led: Ledger, reason: str, at: float, now: datetime) -> None:
        led.is_open = False
        led.next_stage_at = None
        led.pay_at = None
        if led.market == "se":
            doc = self.db["se"]["cases"][led.case_id]
            d = rfc1123(datetime.fromtimestamp(at, UTC))
            doc["closed"] = {"date": d, "reason": reason}
            doc["state"] = "closed"
            doc["status"] = "closed"
            doc["state_history"].append({"state": "closed", "state_date": d})
            doc["status_history"].append({"status": "closed", "status_date": d})
            doc["latest_state_date"] = d
        else:
            case = self.db["no"]["cases"][led.case_id]
            if case["status"] != "WITHDRAWN":
                case["status"] = "CLOSED"
            case["closedAt"] = iso(datetime.fromtimestamp(at, UTC))
            inv = self.db["no"]["invoices"].get(case["invoices"][0]["invoiceId"])
            if inv is not None:
                inv["status"] = case["status"]
                inv["closedAt"] = case["closedAt"]

    def _sync(self, led: Ledger, now: datetime) -> None:
        """Copy ledger amounts into the public documents and bump ``_updated``."""
        if led.market == "se":
            doc = self.db["se"]["cases"][led.case_id]
            costs = led.rem_costs
            doc["local_added_capital_amount"] = from_minor(led.capital_added)
            doc["local_added_costs_amount"] = from_minor(led.costs_added)
            doc["local_added_interest_amount"] = from_minor(led.interest_added)
            doc["local_added_transaction_amount"] = 0
            doc["local_remaining_capital_amount"] = from_minor(led.rem_capital)
            doc["local_remaining_costs_amount"] = from_minor(costs)
            doc["local_remaining_interest_amount"] = from_minor(led.rem_interest)
            doc["local_remaining_transaction_amount"] = 0
            doc["total_remaining_capital_amount"] = from_minor(led.rem_capital)
            doc["total_remaining_amount"] = from_minor(led.remaining)
            doc["local_paid_amount"] = from_minor(led.paid_agency)
            doc["local_creditor_paid_amount"] = from_minor(led.paid_direct)
            doc["local_credited_amount"] = from_minor(led.credited)
            doc["local_cancelled_amount"] = from_minor(led.cancelled)
            doc["local_paid_out_amount"] = from_minor(led.paid_out)
            self.se_touch(doc, now)
        else:
            case = self.db["no"]["cases"][led.case_id]
            amounts = {
                "originalAmount": from_minor(led.capital_added),
                "remainingAmount": from_minor(led.remaining),
                "remainingPrincipal": from_minor(led.rem_capital),
                "remainingInterest": from_minor(led.rem_interest),
                "remainingFees": from_minor(led.rem_costs),
                "addedFees": from_minor(led.costs_added),
                "addedInterest": from_minor(led.interest_added),
                "paidAmount": from_minor(led.paid_direct + led.paid_agency),
                "paidToAgencyAmount": from_minor(led.paid_agency),
                "creditedAmount": from_minor(led.credited),
                "writtenOffAmount": from_minor(led.cancelled),
                "settledAmount": from_minor(led.paid_out),
            }
            case["invoices"][0].update(amounts)
            case["invoices"][0]["status"] = case["status"]
            self.no_touch(case, now)
            inv = self.db["no"]["invoices"].get(case["invoices"][0]["invoiceId"])
            if inv is not None:
                inv.update(amounts)
                inv["status"] = case["status"]
                inv["type"] = case["type"]
                self.no_touch(inv, now)

    # ------------------------------------------------------------------ lifecycle
    def advance(self, seconds: float) -> datetime:
        with self.lock:
            self.clock.advance(max(0.0, seconds))
            self.process()
            return self.clock.now()

    def process(self) -> None:
        """Apply every lifecycle event, payout and batch that is due at the current simulated time."""
        with self.lock:
            now_ts = self.clock.now_ts()
            self._process_batches()
            if not self.config.lifecycle.enabled:
                return
            interval = self.config.lifecycle.payout_interval_days * DAY
            if self.next_payout_at is None:
                self.next_payout_at = (math.floor(now_ts / interval) + 1) * interval
            while True:
                target = min(now_ts, self.next_payout_at)
                if self.next_due <= target:
                    self._process_cases(target)
                if self.next_payout_at <= now_ts:
                    self._run_payouts(self.next_payout_at)
                    self.next_payout_at += interval
                    continue
                break
            self._pay_scheduled_payouts(now_ts)

    def _pay_scheduled_payouts(self, now_ts: float) -> None:
        """Scheduled payouts become ``paid`` once the clock passes their ``payout_date``."""
        if not self.scheduled_payouts or self.scheduled_payouts[0][0] > now_ts:
            return
        now = self.clock.now()
        due = [p for p in self.scheduled_payouts if p[0] <= now_ts]
        self.scheduled_payouts = [p for p in self.scheduled_payouts if p[0] > now_ts]
        for _, pid in due:
            doc = self.db["se"]["finance--payouts"].get(pid)
            if doc is not None and doc["status"] == "scheduled":
                doc["status"] = "paid"
                self.se_touch(doc, now)

    def reschedule(self) -> None:
        """Rebuild the event queue from all ledgers (after changing ledgers by hand, e.g. in tests)."""
        with self.lock:
            self.due_heap = [(led.next_at(), led.seq, led.case_id) for led in self.ledgers.values()
                             if led.next_at() < math.inf]
            heapq.heapify(self.due_heap)
            self.next_due = self.due_heap[0][0] if self.due_heap else math.inf

    def _process_cases(self, until: float) -> None:
        """Apply due case events in time order (ties: registration order), up to ``until``."""
        now = self.clock.now()
        heap = self.due_heap
        while heap and heap[0][0] <= until:
            t, _, case_id = heapq.heappop(heap)
            led = self.ledgers.get(case_id)
            if led is None or not led.is_open:
                continue
            current = led.next_at()
            if current != t:  # stale entry: the ledger changed after it was announced
                if current < math.inf:
                    heapq.heappush(heap, (current, led.seq, led.case_id))
                continue
            self._apply_event(led, t, now)
            nxt = led.next_at()
            if nxt < math.inf:
                heapq.heappush(heap, (nxt, led.seq, led.case_id))
        self.next_due = heap[0][0] if heap else math.inf

    def _apply_event(self, led: Ledger, t: float, now: datetime) -> None:
        if led.next_stage_at is not None and led.next_stage_at <= t:
            if led.stage == "initializing":
                self._enter_stage(led, led.first_stage, t, now)
            else:
                nxt = (SE_NEXT if led.market == "se" else NO_NEXT).get(led.stage)
                if nxt is None:
                    led.next_stage_at = None
                else:
                    self._enter_stage(led, nxt, t, now)
            return
        if led.pay_at is not None and led.pay_at <= t:
            led.pay_at = None
            self._post_interest(led, t)
            amount = led.remaining if led.pay_percent >= 100 else pct_of(led.remaining, led.pay_percent)
            if amount > 0:
                self.debtor_pays_agency(led, amount, t, now)
            return
        if led.interest_from is not None:
            self._post_interest(led, led.interest_from + led._posting)
            self._sync(led, now)

    def debtor_pays_agency(self, led: Ledger, amount: int, at: float, now: datetime) -> None:
        """Money from the debtor reached Amili: allocate costs -> interest -> capital, settle it."""
        taken = self._allocate(led, amount, ("costs", "interest", "capital"))
        paid = sum(taken.values())
        if paid <= 0:
            return
        led.paid_agency += paid
        lc = self.config.lifecycle
        capital = taken.get("capital", 0)
        interest = taken.get("interest", 0)
        commission = pct_of(capital, lc.commission_percent)
        vat = pct_of(commission, lc.vat_percent)
        when = datetime.fromtimestamp(at, UTC)
        if led.market == "se":
            case = self.db["se"]["cases"][led.case_id]
            creditor = self.db["se"]["creditors"].get(led.creditor, {})
            lines = [("capital", "capital", capital, 0), ("interest", "interest", interest, 0)]
            lines.append(("reminder", "creditor_outlay", taken.get("fee:reminder", 0), 0))
            lines.append(("creditor_commission", "creditor_commission", -commission, -vat))
            for article, category, amt, vat_amt in lines:
                if amt == 0 and vat_amt == 0:
                    continue
                led.paid_out += amt + vat_amt
                self.se_insert(
                    "finance--payout-specifications",
                    {
                        "account": case["account"],
                        "creditor": led.creditor,
                        "creditor_name": creditor.get("name"),
                        "currency": "SEK",
                        "amount": from_minor(amt),
                        "vat_amount": from_minor(vat_amt),
                        "total_amount": from_minor(amt + vat_amt),
                        "article": article,
                        "state": led.stage,
                        "booking_date": rfc1123(when),
                        "finance_category": category,
                        "invoice_number": case["debt"]["invoice_number"],
                        "reference_number": case.get("reference_number"),
                        "payout_reference": case.get("payout_reference"),
                        "payout_date": None,
                        "payout": None,
                        "case": led.case_id,
                    },
                    now,
                )
        else:
            case = self.db["no"]["cases"][led.case_id]
            inv = case["invoices"][0]
            payout = capital + interest - commission - vat
            led.paid_out += payout
            sid = self.uuid()
            doc = {
                "settlementId": sid,
                "settlementDate": ymd(when),
                "organizationId": case["organizationId"],
                "invoiceId": inv["invoiceId"],
                "invoiceNumber": inv["invoiceNumber"],
                "caseId": case["caseId"],
                "caseNumber": case["caseNumber"],
                "uniqueSourceInvoiceId": inv.get("uniqueSourceInvoiceId"),
                "customerReference": inv.get("customerNumber"),
                "collectionType": NO_COLLECTION_TYPE.get(led.stage, "REMINDER"),
                "currency": inv.get("currency", "NOK"),
                "exchangeRate": 1.0,
                "principalAmount": from_minor(capital),
                "interestAmount": from_minor(interest),
                "feeAmount": from_minor(sum(v for k, v in taken.items() if k.startswith("fee:"))),
                "commissionAmount": from_minor(commission),
                "vatAmount": from_minor(vat),
                "payoutAmount": from_minor(payout),
                "createdAt": iso(now),
                "updatedAt": iso(now),
            }
            self.db["no"]["settlements"][sid] = doc
            self._webhook("SETTLEMENT_CREATED", {
                "settlementId": sid,
                "organizationId": case["organizationId"],
                "settlementDate": doc["settlementDate"],
                "invoiceId": inv["invoiceId"],
                "invoiceNumber": inv["invoiceNumber"],
                "caseNumber": case["caseNumber"],
            })
        if led.remaining == 0:
            self._close(led, "paid", at, now)
        self._sync(led, now)

    def _run_payouts(self, at: float) -> None:
        now = self.clock.now()
        when = datetime.fromtimestamp(at, UTC)
        pay_ts = at + self.config.lifecycle.payout_delay_days * DAY
        pay_date = datetime.fromtimestamp(pay_ts, UTC)
        specs = self.db["se"]["finance--payout-specifications"]
        groups: dict[str, list[dict[str, Any]]] = {}
        for doc in specs.values():
            if doc["payout"] is None and parse_date(doc["booking_date"]).timestamp() <= at:
                groups.setdefault(doc["creditor"], []).append(doc)
        days = self.config.lifecycle.payout_interval_days
        interval = "weekly" if days == 7 else ("monthly" if days in (30, 31) else f"every {days:g} days")
        for creditor, lines in groups.items():
            cred = self.db["se"]["creditors"].get(creditor, {})
            amount = sum(to_minor(d["amount"]) for d in lines)
            vat = sum(to_minor(d["vat_amount"]) for d in lines)
            summary: dict[str, int] = {}
            for d in lines:
                summary[d["article"]] = summary.get(d["article"], 0) + to_minor(d["total_amount"])
            ref = f"PO-{when:%Y%m%d}-{cred.get('creditor_number', 0)}"
            payout = self.se_insert(
                "finance--payouts",
                {
                    "account": cred.get("account"),
                    "creditor": creditor,
                    "currency": "SEK",
                    "amount": from_minor(amount),
                    "vat_amount": from_minor(vat),
                    "total_amount": from_minor(amount + vat),
                    "status": "scheduled",
                    "summary": {k: from_minor(v) for k, v in summary.items()},
                    "finance_interval": interval,
                    "payout_date": rfc1123(pay_date),
                    "payout_reference": ref,
                    "period_end": rfc1123(when),
                },
                now,
            )
            self.scheduled_payouts.append((pay_ts, payout["_id"]))
            for d in lines:
                d["payout"] = payout["_id"]
                d["payout_date"] = payout["payout_date"]
                d["payout_reference"] = d.get("payout_reference") or ref
                self.se_touch(d, now)

    # ------------------------------------------------------------------ SE: registrations
    def _se_refs(self, body: dict[str, Any], account: str) -> dict[str, Any]:
        issues: dict[str, Any] = {}
        if body.get("account") not in {a.id for a in self.config.sweden.accounts} or body.get("account") != account:
            issues["account"] = f"value '{body.get('account')}' must exist in resource 'accounts', field '_id'."
        cred = self.db["se"]["creditors"].get(body.get("creditor", ""))
        if cred is None or cred.get("account") != body.get("account"):
            issues["creditor"] = f"value '{body.get('creditor')}' must exist in resource 'creditors', field '_id'."
        elif not cred.get("is_active"):
            issues["creditor"] = f"creditor '{body.get('creditor')}' is not active"
        return issues

    def _dup_issue(self, creditor: str, number: str) -> str | None:
        if self.config.faults.unique_invoice_numbers and self.se_by_number.get((creditor, number)):
            return f"value '{number}' is not unique"
        return None

    def se_register_invoice(self, body: Any, account: str, dry_run: bool = False) -> tuple[int, dict[str, Any]]:
        issues = validate(body, schemas.INVOICE_REGISTRATION)
        if isinstance(body, dict):
            cust = schemas.customer_rules(body.get("customer"))
            if cust:
                issues = schemas.merge_issues(issues, {"customer": cust})
        if not issues:
            issues = self._se_refs(body, account)
        with self.lock:
            if not issues:
                dup = self._dup_issue(body["creditor"], body["invoice_number"])
                if dup:
                    issues = {"invoice_number": dup}
            if issues:
                return 422, eve_issues(issues)
            if dry_run:
                return 200, {"_status": "OK"}
            now = self.clock.now()
            now_ts = now.timestamp()
            net = vat = 0
            lines = []
            for item in body["matrix"]:
                line_net = to_minor(item["total_price_excluding_vat"])
                pct = item.get("unit_vat_percent") or "25%"
                line_vat = pct_of(line_net, pct.rstrip("%"))
                net += line_net
                vat += line_vat
                lines.append({**item, "unit_vat_percent": pct, "vat_amount": from_minor(line_vat),
                              "total_price_including_vat": from_minor(line_net + line_vat)})
            total = net + vat
            reg_id = self.oid(now_ts)
            case_id = self.oid(now_ts)
            ocr_id = self.oid(now_ts)
            ocr = self.ocr(now)
            norm = _normalize_dates(body, ("invoice_date", "invoice_due_date", "invoice_delivery_date"))
            reg = self.se_insert(
                "invoice--registrations",
                {**norm, "invoice": reg_id, "case": case_id, "ocr_number": ocr_id, "ocr_number_ocr": ocr},
                now, _id=reg_id,
            )
            creditor = self.db["se"]["creditors"][body["creditor"]]
            self.se_insert(
                "invoices",
                {
                    **{k: v for k, v in norm.items() if k != "matrix"},
                    "matrix": lines,
                    "invoice_registration": reg_id,
                    "case": case_id,
                    "ocr_number": ocr_id,
                    "ocr_number_ocr": ocr,
                    "total_amount_excluding_vat": from_minor(net),
                    "total_vat_amount": from_minor(vat),
                    "total_amount": from_minor(total),
                },
                now, _id=reg_id,
            )
            due = parse_date(body["invoice_due_date"])
            inv_date = parse_date(body["invoice_date"])
            due_days = max(0, (due.date() - inv_date.date()).days)
            debt = {
                "invoice_number": body["invoice_number"],
                "debt_reference": body.get("reference_number"),
                "payout_reference": body.get("payout_reference"),
                "invoice_date": norm["invoice_date"],
                "invoice_due_date": norm["invoice_due_date"],
                "invoice_due_days_after_invoice_date": due_days,
                "interest_days_after_invoice_date": due_days,
                "initial_capital": from_minor(total),
                "capital_to_claim": from_minor(total),
                "debt_description": body.get("debt_description") or creditor.get("standard_debt_description"),
            }
            self._se_new_case(case_id, body, creditor, debt, total, 0, "invoice", now, ocr,
                              invoice_registration=reg_id, invoice=reg_id)
            return 201, {
                "_updated": reg["_updated"],
                "_created": reg["_created"],
                "_etag": reg["_etag"],
                "_id": reg_id,
                "_status": "OK",
                "_invoice": reg_id,
                "_case": case_id,
                "_ocr_number": ocr_id,
                "ocr_number_ocr": ocr,
                "_ocr_number_ocr": ocr,
            }

    def _se_new_case(self, case_id: str, body: dict[str, Any], creditor: dict[str, Any], debt: dict[str, Any],
                     capital: int, fees: int, first_stage: str, now: datetime, ocr: str, *,
                     invoice_registration: str | None = None, invoice: str | None = None,
                     case_registration: str | None = None) -> dict[str, Any]:
        now_ts = now.timestamp()
        cust = body["customer"]
        ts = rfc1123(now)
        ctype = "person" if cust.get("is_person") else ("company" if cust.get("is_company") else "foreign")
        fields = {
            "account": body["account"],
            "creditor": body["creditor"],
            "creditor_name": creditor.get("name"),
            "customer": self.oid(now_ts),
            "customer_name": cust.get("name"),
            "customer_id_number": cust.get("id_number"),
            "customer_number": cust.get("customer_number"),
            "customer_type": ctype,
            "customer_status": "initialized",
            "reference_number": debt.get("debt_reference"),
            "payout_reference": debt.get("payout_reference"),
            "currency": "SEK",
            "agreement_version": "1",
            "case_registration": case_registration,
            "invoice_registration": invoice_registration,
            "invoice": invoice,
            "ocr_number_ocr": ocr,
            "state": "initializing",
            "status": "initialized",
            "state_history": [{"state": "initializing", "state_date": ts}],
            "status_history": [{"status": "initialized", "status_date": ts}],
            "latest_state_date": ts,
            "closed": None,
            "respite_until": None,
            "case_settings": body.get("case_settings") or {},
            "labels": body.get("labels") or [],
            "start_flow": body.get("start_flow", True) is not False,
            "preferred_invoice_distribution": body.get("preferred_invoice_distribution"),
            "debt": debt,
        }
        doc = self.se_insert("cases", fields, now, _id=case_id)
        led = self._new_ledger("se", case_id, body["creditor"], "initializing", now_ts)
        led.first_stage = first_stage
        led.flow_started = fields["start_flow"]
        led.capital_added = led.rem_capital = capital
        if fees:
            led.rem_fees["reminder"] = fees
            led.costs_added = fees
        self.se_by_number.setdefault((body["creditor"], debt["invoice_number"]), []).append(case_id)
        self._schedule_stage(led)
        if led.flow_started and self.config.sweden.initializing_seconds == 0:
            self._enter_stage(led, first_stage, now_ts, now)
        else:
            self._sync(led, now)
        self._bump_due(led)
        return doc

    def se_register_cases(self, body: Any, account: str, dry_run: bool = False) -> tuple[int, dict[str, Any]]:
        issues = validate(body, schemas.CASE_REGISTRATION)
        if isinstance(body, dict):
            cust = schemas.customer_rules(body.get("customer"))
            if cust:
                issues = schemas.merge_issues(issues, {"customer": cust})
        if not issues:
            issues = self._se_refs(body, account)
        with self.lock:
            if not issues:
                dups = {}
                for i, d in enumerate(body["debts"]):
                    msg = self._dup_issue(body["creditor"], d["invoice_number"])
                    if msg:
                        dups[str(i)] = {"invoice_number": msg}
                if dups:
                    issues = {"debts": dups}
            if issues:
                return 422, eve_issues(issues)
            if dry_run:
                return 200, {"_status": "OK"}
            now = self.clock.now()
            reg_id = self.oid(now.timestamp())
            creditor = self.db["se"]["creditors"][body["creditor"]]
            cases, ocr_ids, ocrs = [], [], []
            for d in body["debts"]:
                case_id = self.oid(now.timestamp())
                ocr_ids.append(self.oid(now.timestamp()))
                ocr = self.ocr(now)
                ocrs.append(ocr)
                capital = to_minor(d["capital_to_claim"])
                fee = 0
                fac = d.get("fees_already_claimed") or {}
                if isinstance(fac.get("reminder"), dict) and fac["reminder"].get("amount") is not None:
                    fee = to_minor(fac["reminder"]["amount"])
                inv_date = parse_date(d["invoice_date"])
                debt = {
                    "invoice_number": d["invoice_number"],
                    "debt_reference": d.get("reference_number"),
                    "payout_reference": d.get("payout_reference"),
                    "invoice_date": rfc1123(inv_date),
                    "invoice_due_days_after_invoice_date": d.get("invoice_due_days_after_invoice_date"),
                    "interest_days_after_invoice_date": d.get("interest_days_after_invoice_date"),
                    "initial_capital": d["capital_to_claim"],
                    "capital_to_claim": d["capital_to_claim"],
                    "debt_description": d.get("debt_description") or creditor.get("standard_debt_description"),
                }
                self._se_new_case(case_id, body, creditor, debt, capital, fee, body["first_action"], now, ocr,
                                  case_registration=reg_id)
                cases.append(case_id)
            norm = dict(body)
            norm["debts"] = [_normalize_dates(d, ("invoice_date",)) for d in body["debts"]]
            reg = self.se_insert(
                "case--registrations",
                {**norm, "cases": cases, "ocr_numbers": ocr_ids, "ocr_numbers_ocr": ocrs},
                now, _id=reg_id,
            )
            return 201, {
                "_updated": reg["_updated"],
                "_created": reg["_created"],
                "_etag": reg["_etag"],
                "_id": reg_id,
                "_status": "OK",
                "_cases": cases,
                "_ocr_numbers": ocr_ids,
                "_ocr_numbers_ocr": ocrs,
            }

    # ------------------------------------------------------------------ SE: creditor actions
    def _resolve_case(self, body: dict[str, Any], account: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        has_case = body.get("case") is not None
        has_number = body.get("invoice_number") is not None
        if has_case and has_number:
            return None, {"invoice_number": "'invoice_number' must not be present with 'case'"}
        if not has_case and not has_number:
            return None, {"case": "one of 'case' or 'invoice_number' is required"}
        cases = self.db["se"]["cases"]
        if has_case:
            doc = cases.get(body["case"])
            if doc is None or doc["account"] != account or doc["creditor"] != body["creditor"]:
                return None, {"case": f"value '{body['case']}' must exist in resource 'cases', field '_id'."}
            return doc, {}
        ids = self.se_by_number.get((body["creditor"], body["invoice_number"]), [])
        docs = [cases[i] for i in ids if i in cases and cases[i]["account"] == account]
        if not docs:
            return None, {"invoice_number": f"no case found for invoice_number '{body['invoice_number']}'"}
        open_docs = [d for d in docs if d["closed"] is None]
        return (open_docs or docs)[-1], {}

    def se_creditor_action(self, kind: str, body: Any, account: str,
                           dry_run: bool = False) -> tuple[int, dict[str, Any]]:
        schema = {
            "creditor--payments": schemas.CREDITOR_PAYMENT,
            "creditor--creditings": schemas.CREDITOR_CREDITING,
            "creditor--cancellations": schemas.CREDITOR_CANCELLATION,
        }[kind]
        issues = validate(body, schema)
        with self.lock:
            if not issues:
                if body.get("account") is not None and body["account"] != account:
                    issues["account"] = f"value '{body['account']}' must exist in resource 'accounts', field '_id'."
                cred = self.db["se"]["creditors"].get(body["creditor"])
                if cred is None or cred["account"] != account:
                    issues["creditor"] = (
                        f"value '{body['creditor']}' must exist in resource 'creditors', field '_id'."
                    )
            case = None
            if not issues:
                case, issues = self._resolve_case(body, account)
            if issues:
                return 422, eve_issues(issues)
            if dry_run:
                return 200, {"_status": "OK"}
            now = self.clock.now()
            now_ts = now.timestamp()
            led = self.ledgers[case["_id"]]
            status, reason, settled = "completed", None, 0
            if not led.is_open:
                status, reason = "warning", f"{kind.split('--')[1]}.case_closed"
            elif kind == "creditor--cancellations":
                settled = led.remaining
                led.cancelled += settled
                led.rem_capital = led.rem_interest = 0
                led.rem_fees = {k: 0 for k in led.rem_fees}
                self._close(led, "cancelled", now_ts, now)
                self._sync(led, now)
            else:
                # no interest posting here: clients act on the amounts they can read
                amount = to_minor(body["amount"])
                if kind == "creditor--payments":
                    taken = self._allocate(led, amount, ("costs", "interest", "capital"))
                    settled = sum(taken.values())
                    led.paid_direct += settled
                    close_reason = "paid"
                else:
                    taken = self._allocate(led, amount, ("capital", "interest", "costs"))
                    settled = sum(taken.values())
                    led.credited += settled
                    close_reason = "credited"
                if settled < amount:
                    status = "warning"
                    reason = "creditor_payment.overpayment" if kind == "creditor--payments" else "creditor_crediting.exceeds_remaining"
                if led.remaining == 0:
                    self._close(led, close_reason, now_ts, now)
                self._sync(led, now)
            fields = {k: v for k, v in body.items()}
            for k in ("bank_transaction_date", "client_registration_date"):
                if k in fields and fields[k] is not None:
                    fields[k] = rfc1123(parse_date(fields[k]))
            if kind != "creditor--cancellations":
                fields.setdefault("client_registration_date", rfc1123(now))
            fields.update({
                "account": account,
                "case": case["_id"],
                "status": status,
                "status_reason_locale": reason,
                "case_invoice_number": case["debt"]["invoice_number"],
                "case_reference_number": case.get("reference_number"),
            })
            if kind != "creditor--cancellations":
                fields["settled_amount"] = from_minor(settled)
            doc = self.se_insert(kind, fields, now)
            self._bump_due(led)
            out = {k: doc[k] for k in ("_updated", "_created", "_etag", "_id")}
            out["_status"] = "OK"
            if kind == "creditor--cancellations":
                out["_cancellation_status"] = status
            else:
                out["_payment_status"] = status
            return 201, out

    def se_respite(self, case_id: str, body: Any, account: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            case = self.db["se"]["cases"].get(case_id)
            if case is None or case["account"] != account:
                return 404, eve_error(404, "The requested URL was not found on the server.")
            issues = validate(body, schemas.RESPITE)
            if issues:
                return 422, eve_issues(issues)
            led = self.ledgers[case_id]
            if not led.is_open:
                return 422, eve_issues({"case": "case is closed"})
            now = self.clock.now()
            until = parse_date(body["respite_until"])
            led.respite_until = until.timestamp()
            self._schedule_stage(led)
            case["respite_until"] = rfc1123(until)
            self._sync(led, now)
            self._bump_due(led)
            return 201, {
                "_id": case_id,
                "_created": case["_created"],
                "_updated": case["_updated"],
                "_etag": case["_etag"],
                "_status": "OK",
                "_respite_status": "completed",
            }

    # ------------------------------------------------------------------ SE: creditors (Partner API)
    def se_create_creditor(self, body: Any, account: str, dry_run: bool = False) -> tuple[int, dict[str, Any]]:
        issues = validate(body, schemas.CREDITOR)
        if not issues and body["account"] != account:
            issues["account"] = f"value '{body['account']}' must exist in resource 'accounts', field '_id'."
        if not issues and body.get("organization_no") and body.get("non_swedish_organization_no"):
            issues["non_swedish_organization_no"] = (
                "'non_swedish_organization_no' must not be present with 'organization_no'"
            )
        if not issues and body.get("is_active"):
            missing = [k for k in ("standard_debt_description", "sender_address", "invoice_address", "payout_details")
                       if not body.get(k)]
            if missing:
                issues["is_active"] = f"activation requires {', '.join(missing)}"
        if issues:
            return 422, eve_issues(issues)
        if dry_run:
            return 200, {"_status": "OK"}
        with self.lock:
            now = self.clock.now()
            number = 1000 + len(self.db["se"]["creditors"]) + 1
            doc = self.se_insert("creditors", {**body, "is_active": bool(body.get("is_active")),
                                               "creditor_number": number, "added_to_erp_system": False}, now)
            return 201, {k: doc[k] for k in ("_updated", "_created", "_etag", "_id")} | {"_status": "OK"}

    def se_patch_creditor(self, cid: str, body: Any, account: str, if_match: str | None,
                          delete: bool = False) -> tuple[int, dict[str, Any] | None]:
        with self.lock:
            doc = self.db["se"]["creditors"].get(cid)
            if doc is None or doc["account"] != account:
                return 404, eve_error(404, "The requested URL was not found on the server.")
            if not if_match:
                return 428, eve_error(428, "To edit a document its etag must be provided using the If-Match header")
            if if_match.strip('"') != doc["_etag"]:
                return 412, eve_error(412, "Client and server etags don't match")
            now = self.clock.now()
            if delete:
                del self.db["se"]["creditors"][cid]
                self.dirty = True
                return 204, None
            schema = {k: v for k, v in schemas.CREDITOR.items()}
            schema["account"] = {"type": "objectid", "readonly": True}
            schema["agreement_template"] = {"type": "string", "readonly": True}
            schema["name"] = {"type": "string", "empty": False}
            issues = validate(body, schema)
            if issues:
                return 422, eve_issues(issues, "Updating failure")
            doc.update(body)
            self.se_touch(doc, now)
            return 200, {k: doc[k] for k in ("_updated", "_created", "_etag", "_id")} | {"_status": "OK"}

    # ------------------------------------------------------------------ NO: batches
    def no_org(self, org: str) -> dict[str, Any] | None:
        for o in self.config.norway.organizations:
            if o.id == org:
                return o.model_dump()
        return None

    def no_create_batch(self, org: str, client_id: str, kind: str, items: list[Any],
                        idem_key: str | None, base_url: str) -> dict[str, Any]:
        with self.lock:
            if idem_key:
                existing = self.idempotency.get((org, idem_key))
                if existing:
                    return {"batchId": existing, "batchUrl": f"{base_url}/batches/{existing}"}
            now = self.clock.now()
            batch_id = self.uuid()
            doc = {
                "batchId": batch_id,
                "type": kind,
                "status": "QUEUED",
                "createdAt": iso(now),
                "updatedAt": iso(now),
                "finishedAt": None,
                "organizationId": org,
                "createdBy": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client:{client_id}")),
                "idempotencyKey": idem_key,
                "itemCount": len(items),
                "succeeded": [],
                "failed": [],
            }
            self.db["no"]["batches"][batch_id] = doc
            if idem_key:
                self.idempotency[(org, idem_key)] = batch_id
            ncfg = self.config.norway
            delay = ncfg.batch_delay_seconds + self.config.faults.batch_extra_delay_seconds
            if ncfg.batch_delay_clock == "emulator":
                due, clock = self.clock.now_ts() + delay, "emulator"
            else:
                due, clock = time.time() + delay, "wall"
            self.pending_batches[batch_id] = {"items": items, "due": due, "clock": clock, "delay": delay}
            self.dirty = True
            if delay <= 0:
                self._process_batches()
            return {"batchId": batch_id, "batchUrl": f"{base_url}/batches/{batch_id}"}

    def _process_batches(self) -> None:
        if not self.pending_batches:
            return
        wall, sim = time.time(), self.clock.now_ts()
        for batch_id in list(self.pending_batches):
            p = self.pending_batches[batch_id]
            t = wall if p["clock"] == "wall" else sim
            doc = self.db["no"]["batches"][batch_id]
            if t >= p["due"]:
                del self.pending_batches[batch_id]
                self._run_batch(doc, p["items"])
            elif self.config.norway.batch_processing_step and t >= p["due"] - p["delay"] / 2 and doc["status"] == "QUEUED":
                doc["status"] = "PROCESSING"
                self.no_touch(doc, self.clock.now())

    def _fault_rng(self) -> random.Random:
        if not hasattr(self, "_batch_rng") or self._batch_rng_seed != self._fault_seed():
            self._batch_rng_seed = self._fault_seed()
            self._batch_rng = random.Random(f"batch:{self._batch_rng_seed}")
        return self._batch_rng

    def _fault_seed(self) -> int:
        f = self.config.faults
        return f.seed if f.seed is not None else self.config.seed

    def reset_fault_rng(self) -> None:
        self._batch_rng_seed = None

    def _run_batch(self, doc: dict[str, Any], items: list[Any]) -> None:
        from . import norway_rules

        now = self.clock.now()
        org = doc["organizationId"]
        fail_rate = self.config.faults.batch_item_failure_rate
        for index, item in enumerate(items):
            errors = norway_rules.validate_item(doc["type"], item)
            ref = None
            if not errors and doc["type"] != "INVOICE":
                ref = self.db["no"]["invoices"].get(item.get("invoiceId"))
                if ref is None or ref["organization"]["id"] != org:
                    ref = None
                    errors = [{"code": "NOT_FOUND", "message": f"Invoice '{item.get('invoiceId')}' was not found",
                               "field": "invoiceId"}]
            if not errors and doc["type"] == "INVOICE" and self.config.faults.unique_invoice_numbers:
                if self.no_by_number.get((org, item["invoiceNumber"])):
                    errors = [{"code": "DUPLICATE", "message": f"Invoice number '{item['invoiceNumber']}' already exists",
                               "field": "invoiceNumber"}]
            if not errors and fail_rate > 0 and self._fault_rng().random() < fail_rate:
                errors = [{"code": "EMULATOR_FAULT", "message": "Injected item failure (fault batch_item_failure_rate)",
                           "field": None}]
            if errors:
                if doc["type"] == "INVOICE":
                    number = item.get("invoiceNumber") if isinstance(item, dict) else None
                    usid = item.get("uniqueSourceInvoiceId") if isinstance(item, dict) else None
                else:
                    number = ref["invoiceNumber"] if ref else None
                    usid = ref.get("uniqueSourceInvoiceId") if ref else None
                doc["failed"].append({"index": index, "invoiceNumber": number, "uniqueSourceInvoiceId": usid,
                                      "errors": errors})
                continue
            if doc["type"] == "INVOICE":
                inv = self._no_create_invoice(org, item, doc["batchId"], now)
            else:
                inv = self._no_apply_money(doc["type"], ref, item, now)
            doc["succeeded"].append({"invoiceId": inv["invoiceId"], "invoiceNumber": inv["invoiceNumber"],
                                     "caseId": inv["caseId"]})
        if not doc["failed"]:
            doc["status"] = "SUCCESS"
        elif not doc["succeeded"]:
            doc["status"] = "FAILED"
        else:
            doc["status"] = "PARTIAL"
        doc["finishedAt"] = iso(now)
        self.no_touch(doc, now)
        self._webhook("BATCH_COMPLETED", {"batchId": doc["batchId"], "organizationId": org, "status": doc["status"],
                                          "type": doc["type"]})

    def _no_create_invoice(self, org: str, item: dict[str, Any], batch_id: str, now: datetime) -> dict[str, Any]:
        orgcfg = self.no_org(org) or {}
        invoice_id = self.uuid()
        case_id = self.uuid()
        self.case_number += 1
        capital = fees = interest = 0
        for c in item["claims"]:
            amt = to_minor(c["remainingAmount"])
            if c["type"] == "PRINCIPAL":
                capital += amt
            elif c["type"] == "FEE":
                fees += amt
            else:
                interest += amt
        debtor0 = item["debtors"][0]
        customer_number = debtor0.get("customerNumber")
        stage = item["type"]
        inv = {
            "id": invoice_id,
            "invoiceId": invoice_id,
            "organization": {"id": org, "organizationNumber": orgcfg.get("organization_number"),
                             "name": orgcfg.get("name")},
            "invoiceNumber": item["invoiceNumber"],
            "collectionCaseNumber": self.case_number,
            "caseId": case_id,
            "type": stage,
            "status": "OPEN",
            "subStatus": None,
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "registeredAt": iso(now),
            "closedAt": None,
            "invoiceDate": _iso_or_none(item.get("invoiceDate")),
            "dueDate": _iso_or_none(item.get("dueDate")),
            "collectionNoticeDate": _iso_or_none(item.get("collectionNoticeDate")),
            "batchId": batch_id,
            "originalInvoiceAmount": item.get("originalInvoiceAmount"),
            "currency": item.get("currency") or "NOK",
            "vat": item.get("vat"),
            "fees": item.get("fees"),
            "ocrReferenceNumber": item.get("ocrReferenceNumber"),
            "uniqueSourceInvoiceId": item.get("uniqueSourceInvoiceId"),
            "customerNumber": customer_number,
            "description": item.get("description"),
            "debtors": item["debtors"],
            "claims": item["claims"],
        }
        self.db["no"]["invoices"][invoice_id] = inv
        sub = {k: inv[k] for k in ("invoiceId", "invoiceNumber", "caseId", "invoiceDate", "dueDate", "batchId",
                                    "registeredAt", "uniqueSourceInvoiceId", "currency", "customerNumber", "status")}
        debtors = []
        for i, d in enumerate(item["debtors"]):
            first, last = d.get("firstname"), d.get("lastname")
            debtors.append({
                "debtorId": self.uuid(), "type": d.get("type"), "debtorNumber": i + 1,
                "customerNumber": d.get("customerNumber"), "firstName": first, "lastName": last,
                "fullName": d.get("name") or " ".join(x for x in (first, last) if x) or None,
                "organizationNumber": d.get("organizationNumber"),
                "identificationNumber": d.get("identificationNumber"),
            })
        case = {
            "caseId": case_id,
            "caseNumber": self.case_number,
            "organizationId": org,
            "creditorId": org,
            "creditorNumber": orgcfg.get("creditor_number"),
            "status": "OPEN",
            "subStatus": None,
            "type": stage,
            "description": item.get("description"),
            "registeredAt": iso(now),
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "closedAt": None,
            "caseToken": hashlib.sha1(f"{self.machine}:{case_id}".encode()).hexdigest()[:16],
            "customerNumber": customer_number,
            "invoices": [sub],
            "debtors": debtors,
        }
        self.db["no"]["cases"][case_id] = case
        led = self._new_ledger("no", case_id, org, stage, now.timestamp())
        led.capital_added = led.rem_capital = capital
        if fees:
            led.rem_fees["fee"] = fees
            led.costs_added = fees
        if interest:
            led.rem_interest = led.interest_added = interest
        if stage in ("PAYMENT_REMINDER", "COLLECTION_NOTICE"):
            led.interest_from = now.timestamp()
        self._schedule_stage(led)
        self.no_by_number.setdefault((org, item["invoiceNumber"]), []).append(invoice_id)
        self._sync(led, now)
        self._bump_due(led)
        return inv

    def _no_apply_money(self, kind: str, inv: dict[str, Any], item: dict[str, Any], now: datetime) -> dict[str, Any]:
        led = self.ledgers[inv["caseId"]]
        now_ts = now.timestamp()
        amount = to_minor(item["amount"])
        if led.is_open:
            if kind == "PAYMENT":
                taken = self._allocate(led, amount, ("costs", "interest", "capital"))
                led.paid_direct += sum(taken.values())
            else:
                taken = self._allocate(led, amount, ("capital", "interest", "costs"))
                led.credited += sum(taken.values())
            applied = sum(taken.values())
        else:
            applied = 0
        coll = "payments" if kind == "PAYMENT" else "corrections"
        rid = self.uuid()
        self.db["no"][coll][rid] = {
            "id": rid, **item, "organizationId": inv["organization"]["id"], "caseId": inv["caseId"],
            "appliedAmount": from_minor(applied), "createdAt": iso(now), "updatedAt": iso(now),
        }
        if led.is_open and led.remaining == 0:
            self._close(led, "paid" if kind == "PAYMENT" else "credited", now_ts, now)
        self._sync(led, now)
        self._bump_due(led)
        return inv

    def no_case_action(self, org: str, case_id: str, action: str, by_invoice: bool = False) -> tuple[int, str | None]:
        with self.lock:
            if by_invoice:
                inv = self.db["no"]["invoices"].get(case_id)
                case_id = inv["caseId"] if inv and inv["organization"]["id"] == org else ""
            case = self.db["no"]["cases"].get(case_id)
            if case is None or case["organizationId"] != org:
                return 404, "Case not found"
            led = self.ledgers[case_id]
            now = self.clock.now()
            status = case["status"]
            if action == "pause":
                if status != "OPEN":
                    return 409, f"Cannot pause a case with status {status}"
                case["status"] = "PAUSED"
                led.paused = True
                led.paused_at = now.timestamp()
            elif action == "resume":
                if status != "PAUSED":
                    return 409, f"Cannot resume a case with status {status}"
                case["status"] = "OPEN"
                led.paused = False
                # time spent paused does not count towards the stage, payment or interest timers
                shift = now.timestamp() - (led.paused_at or now.timestamp())
                led.paused_at = None
                led.stage_entered += shift
                if led.next_stage_at is not None:
                    led.next_stage_at += shift
                if led.pay_at is not None:
                    led.pay_at += shift
                if led.interest_from is not None:
                    led.interest_from += shift
            elif action == "withdraw":
                if status not in ("OPEN", "PAUSED"):
                    return 409, f"Cannot withdraw a case with status {status}"
                case["status"] = "WITHDRAWN"
                led.paused = False
                led.cancelled += led.remaining
                led.rem_capital = led.rem_interest = 0
                led.rem_fees = {k: 0 for k in led.rem_fees}
                self._close(led, "withdrawn", now.timestamp(), now)
            else:
                return 202, None
            self._sync(led, now)
            self._bump_due(led)
            return 202, None

    # ------------------------------------------------------------------ webhooks
    def _webhook(self, event: str, data: dict[str, Any]) -> None:
        wh = self.config.norway.webhooks
        if not wh.url or event not in wh.events:
            return
        self.outbox.append({
            "id": self.uuid(),
            "type": event,
            "source": "COLLECTION",
            "timeStamp": iso(self.clock.now()),
            "data": data,
        })

    # ------------------------------------------------------------------ persistence / inspection
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps({"se": self.db["se"], "no": self.db["no"]}, default=str))

    def state_dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                "now": rfc1123(self.clock.now()),
                "se": {c: list(d.values()) for c, d in self.db["se"].items()},
                "no": {c: list(d.values()) for c, d in self.db["no"].items()},
            }

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": 1,
                "now": self.clock.now_ts(),
                "counter": self.counter,
                "case_seq": self.case_seq,
                "version_no": self.version,
                "ocr_seq": self.ocr_seq,
                "case_number": self.case_number,
                "next_payout_at": self.next_payout_at,
                "db": self.db,
                "ledgers": [asdict(led) | {"_posting": led._posting} for led in self.ledgers.values()],
                "pending_batches": self.pending_batches,
                "idempotency": [[o, k, b] for (o, k), b in self.idempotency.items()],
            }

    def load_json(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.clock.restore(float(data.get("now", 0)))
            self.counter = data.get("counter", 0)
            self.case_seq = data.get("case_seq", 0)
            self.version = data.get("version_no", 0)
            self.ocr_seq = data.get("ocr_seq", 0)
            self.case_number = data.get("case_number", 100000)
            self.next_payout_at = data.get("next_payout_at")
            for market in ("se", "no"):
                for coll, docs in data.get("db", {}).get(market, {}).items():
                    self.db[market].setdefault(coll, {}).update(docs)
            self.ledgers = {}
            for raw in data.get("ledgers", []):
                posting = raw.pop("_posting", DAY * 30)
                led = Ledger(**raw)
                led._posting = posting
                self.ledgers[led.case_id] = led
            self.pending_batches = data.get("pending_batches", {})
            self.idempotency = {(o, k): b for o, k, b in data.get("idempotency", [])}
            self.se_by_number = {}
            for cid, case in self.db["se"]["cases"].items():
                self.se_by_number.setdefault((case["creditor"], case["debt"]["invoice_number"]), []).append(cid)
            self.no_by_number = {}
            for iid, inv in self.db["no"]["invoices"].items():
                self.no_by_number.setdefault((inv["organization"]["id"], inv["invoiceNumber"]), []).append(iid)
            self.reschedule()
            self.scheduled_payouts = sorted(
                (parse_date(p["payout_date"]).timestamp(), p["_id"])
                for p in self.db["se"]["finance--payouts"].values() if p["status"] == "scheduled"
            )
            self.dirty = False


def eve_error(code: int, message: str) -> dict[str, Any]:
    return {"_status": "ERR", "_error": {"code": code, "message": message}}


def eve_issues(issues: dict[str, Any], verb: str = "Insertion failure") -> dict[str, Any]:
    return {
        "_status": "ERR",
        "_issues": issues,
        "_error": {"code": 422, "message": f"{verb}: 1 document(s) contain(s) error(s)"},
    }


def _normalize_dates(body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = dict(body)
    for k in keys:
        if out.get(k) is not None:
            d = parse_date(out[k])
            if d is not None:
                out[k] = rfc1123(d)
    return out


def _iso_or_none(value: Any) -> str | None:
    if not value:
        return None
    d = parse_date(value)
    return iso(d) if d else None

