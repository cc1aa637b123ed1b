"""Emulator configuration (pydantic).

Everything has a default, so ``EmulatorConfig()`` is a working demo setup. Load a YAML/JSON file
with :meth:`EmulatorConfig.from_file`; override single fields from the environment with
``AMILI_EMULATOR__SECTION__FIELD=value`` (JSON values allowed, e.g.
``AMILI_EMULATOR__FAULTS__LATENCY_MS=50``) or the whole fault block with
``AMILI_EMULATOR_FAULTS='{"error_rates": {"503": 0.1}}'``; see :meth:`EmulatorConfig.from_env`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEMO_SE_ACCOUNT = "674dbeaf08847b9501cc9132"
DEMO_SE_CREDITOR = "674dbeb208847b9501cc9138"
DEMO_SE_CREDITOR_2 = "674dbeb208847b9501cc9139"
DEMO_SE_API_CODE = "demo-api-code"
DEMO_NO_CLIENT_ID = "demo-client"
DEMO_NO_CLIENT_SECRET = "demo-secret"
DEMO_NO_ORG = "2f0e5a2c-7d4b-4f3e-9a61-3c8b1d2e4f50"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FaultConfig(_Model):
    """Faults injected on the API endpoints (never on ``/_emulator/``). All off by default."""

    seed: int | None = Field(None, description="RNG seed for fault decisions; None = EmulatorConfig.seed")
    latency_ms: float = Field(0.0, ge=0, description="fixed extra latency per request")
    latency_jitter_ms: float = Field(0.0, ge=0, description="uniform random extra latency 0..jitter")
    error_rates: dict[int, float] = Field(
        default_factory=dict, description="share of requests answered with this status (500/502/503) without processing"
    )
    rate_429: float = Field(0.0, ge=0, le=1, description="share of requests answered 429 with Retry-After")
    retry_after_seconds: int = Field(1, ge=0)
    rate_limit_requests: int | None = Field(None, ge=1, description="real per-token limit per window (F.1.4)")
    rate_limit_window_seconds: float = Field(60.0, gt=0)
    committed_then_failed_rate: float = Field(0.0, ge=0, le=1, description="share of writes stored but failed")
    committed_then_failed_mode: Literal["502", "drop", "timeout"] = "502"
    hang_seconds: float = Field(30.0, ge=0, description="how long a 'timeout' fault hangs before dropping")
    token_actual_ttl_seconds: float | None = Field(
        None, ge=0, description="tokens really expire after this many seconds (announced expiry unchanged)"
    )
    batch_extra_delay_seconds: float = Field(0.0, ge=0, description="NO batches take this much longer")
    batch_item_failure_rate: float = Field(0.0, ge=0, le=1, description="share of valid NO batch items failed")
    unique_invoice_numbers: bool = Field(False, description="reject a 2nd registration of creditor+invoice_number")
    path_prefixes: list[str] = Field(default_factory=list, description="only these path prefixes (empty = all)")
    methods: list[str] = Field(default_factory=list, description="only these methods (empty = all)")

    @field_validator("error_rates")
    @classmethod
    def _rates(cls, v: dict[int, float]) -> dict[int, float]:
        for status, rate in v.items():
            if not 400 <= int(status) <= 599:
                raise ValueError(f"status {status} is not an error status")
            if not 0 <= rate <= 1:
                raise ValueError(f"rate for {status} must be within 0..1")
        return {int(k): float(r) for k, r in v.items()}

    @field_validator("methods")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [m.upper() for m in v]


class ClockConfig(_Model):
    start: str | None = Field(None, description="simulated start time (RFC 1123 / ISO); None = wall clock now")
    speed: float = Field(1.0, ge=0, description="simulated seconds per wall second (0 = frozen)")


class AccountConfig(_Model):
    id: str
    name: str = "Demo Account AB"


class CreditorConfig(_Model):
    id: str
    account: str
    name: str
    organization_no: str = "556000-0000"
    is_active: bool = True
    creditor_number: int = 1001


class SwedenConfig(_Model):
    accounts: list[AccountConfig] = Field(default_factory=lambda: [AccountConfig(id=DEMO_SE_ACCOUNT)])
    creditors: list[CreditorConfig] = Field(
        default_factory=lambda: [
            CreditorConfig(id=DEMO_SE_CREDITOR, account=DEMO_SE_ACCOUNT, name="Demo Creditor AB",
                           organization_no="556677-8899", creditor_number=1001),
            CreditorConfig(id=DEMO_SE_CREDITOR_2, account=DEMO_SE_ACCOUNT, name="Demo Second Creditor AB",
                           organization_no="556677-8800", creditor_number=1002),
        ]
    )
    api_codes: dict[str, str] = Field(
        default_factory=lambda: {DEMO_SE_API_CODE: DEMO_SE_ACCOUNT}, description="api code -> account id"
    )
    jwt_public_keys: list[str] = Field(
        default_factory=list, description="PEM public keys accepted for GET /authenticates/api-code"
    )
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"])
    token_ttl_seconds: float = Field(3600.0, gt=0)
    initializing_seconds: float = Field(0.0, ge=0, description="F.1.8 delay in 'initializing' (sim seconds)")


class OrganizationConfig(_Model):
    id: str
    organization_number: str = "999888777"
    name: str = "Demo Kreditor AS"
    creditor_number: int = 5001


class ClientConfig(_Model):
    client_id: str
    client_secret: str
    organizations: list[str]


WEBHOOK_EVENTS = ("BATCH_COMPLETED", "SETTLEMENT_CREATED", "CASE", "CASE_UPDATED")
WebhookEvent = Literal["BATCH_COMPLETED", "SETTLEMENT_CREATED", "CASE", "CASE_UPDATED"]


class WebhookConfig(_Model):
    """Norwegian webhooks (reference B.9, F.2.7-8): target, signing secret, retries and delivery faults.

    Set in the config file (``norway.webhooks``) or at run time with ``PUT /_emulator/webhooks/config``.
    The delivery faults draw from their own RNG (seeded from ``EmulatorConfig.seed``), never from the
    request fault RNG, so switching them on changes no API response.
    """

    url: str | None = Field(None, description="POST target for webhooks; None = off (events are not queued)")
    secret: str = Field("demo-webhook-secret", description="HMAC-SHA256 key of X-Webhook-Signature")
    events: list[WebhookEvent] = Field(default_factory=lambda: list(WEBHOOK_EVENTS), description="events sent")
    max_attempts: int = Field(3, ge=1, le=20, description="attempts per delivery (first try included)")
    backoff_seconds: float = Field(0.2, ge=0, description="wait before the first retry; doubles for each next one")
    timeout_seconds: float = Field(5.0, gt=0, description="per attempt; a timeout counts as a failed attempt")
    duplicate_rate: float = Field(0.0, ge=0, le=1, description="share of deliveries sent twice (same IdempotencyKey)")
    out_of_order: float = Field(0.0, ge=0, le=1, description="share held back until a later delivery went first "
                                                             "(true = all, false = none)")
    out_of_order_hold_seconds: float = Field(1.0, ge=0, description="longest a held-back delivery waits for a later one")
    drop_first_attempt_rate: float = Field(0.0, ge=0, le=1, description="share whose first attempt never reaches "
                                                                        "the receiver (needs max_attempts >= 2)")

    @field_validator("out_of_order", mode="before")
    @classmethod
    def _all_or_nothing(cls, v: Any) -> Any:
        return (1.0 if v else 0.0) if isinstance(v, bool) else v


class NorwayConfig(_Model):
    organizations: list[OrganizationConfig] = Field(default_factory=lambda: [OrganizationConfig(id=DEMO_NO_ORG)])
    clients: list[ClientConfig] = Field(
        default_factory=lambda: [
            ClientConfig(client_id=DEMO_NO_CLIENT_ID, client_secret=DEMO_NO_CLIENT_SECRET, organizations=[DEMO_NO_ORG])
        ]
    )
    token_ttl_seconds: float = Field(3600.0, gt=0)
    batch_delay_seconds: float = Field(0.0, ge=0, description="QUEUED -> terminal after this delay (0 = at once)")
    batch_delay_clock: Literal["wall", "emulator"] = "wall"
    batch_processing_step: bool = Field(False, description="show PROCESSING between QUEUED and the end (F.2.4)")
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)


class LifecycleConfig(_Model):
    enabled: bool = True
    invoice_days: float = Field(30, ge=0, description="days in invoice/NOTICE before reminder")
    reminder_days: float = Field(14, ge=0, description="days in reminder/PAYMENT_REMINDER before collection")
    pay_share: float = Field(0.6, ge=0, le=1, description="share of debtors who pay something")
    partial_share: float = Field(0.25, ge=0, le=1, description="share of payers who pay only part")
    partial_min_percent: int = Field(20, ge=1, le=99)
    partial_max_percent: int = Field(80, ge=1, le=99)
    pay_within_days: float = Field(90, gt=0, description="payers pay at a seeded day in 1..this")
    se_reminder_fee: float = 60.0
    se_debt_collection_fee: float = 180.0
    no_reminder_fee: float = 35.0
    no_collection_fee: float = 70.0
    interest_rate_percent: float = Field(10.0, ge=0, description="yearly, on remaining capital from reminder on")
    interest_posting_days: float = Field(30, gt=0)
    commission_percent: float = Field(10.0, ge=0, le=100, description="on collected capital")
    vat_percent: float = Field(25.0, ge=0)
    payout_interval_days: float = Field(7, gt=0, description="SE payouts / finance_interval")
    payout_delay_days: float = Field(2, ge=0, description="SE payout: 'scheduled' -> 'paid' after this")


class EmulatorConfig(_Model):
    seed: int = 20240101
    clock: ClockConfig = Field(default_factory=ClockConfig)
    sweden: SwedenConfig = Field(default_factory=SwedenConfig)
    norway: NorwayConfig = Field(default_factory=NorwayConfig)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    tick_seconds: float = Field(0.1, gt=0, description="background tick (batches, lifecycle, webhooks)")
    save_interval_seconds: float = Field(1.0, gt=0, description="state file save interval when dirty")
    max_results_default: int = 25
    max_results_limit: int = 100

    @classmethod
    def from_file(cls, path: str | Path) -> "EmulatorConfig":
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        return cls.model_validate(data)

    @classmethod
    def from_env(cls, base: "EmulatorConfig | None" = None, environ: dict[str, str] | None = None) -> "EmulatorConfig":
        """Apply ``AMILI_EMULATOR_CONFIG`` (file), ``AMILI_EMULATOR_FAULTS`` (JSON) and
        ``AMILI_EMULATOR__A__B=value`` overrides on top of ``base`` (or the defaults)."""
        env = os.environ if environ is None else environ
        if base is None:
            path = env.get("AMILI_EMULATOR_CONFIG")
            base = cls.from_file(path) if path else cls()
        data = base.model_dump()
        if env.get("AMILI_EMULATOR_FAULTS"):
            data["faults"].update(json.loads(env["AMILI_EMULATOR_FAULTS"]))
        for key, raw in env.items():
            if not key.startswith("AMILI_EMULATOR__"):
                continue
            parts = [p.lower() for p in key[len("AMILI_EMULATOR__"):].split("__") if p]
            try:
                value: Any = json.loads(raw)
            except ValueError:
                value = raw
            node = data
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
        return cls.model_validate(data)
