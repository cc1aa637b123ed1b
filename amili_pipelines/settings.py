"""Settings: the environment (pydantic-settings) and the creditors file (YAML), read once per process.

Environment variables (or a ``.env`` file in the working directory) carry endpoints, credentials
and paths. The creditors file names each creditor's market, its Amili ids and its sources.
Defaults point at the local emulator started by ``make demo`` / ``make dev``, so the demo needs
no setup; production points the same variables at the real Amili endpoints.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from dotenv import dotenv_values
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from amili_pipelines.alerts.channels import Channel, SmtpChannel, WebhookChannel
from amili_pipelines.amili.clients import NoConnection, SeConnection
from amili_pipelines.amili.limits import NO_BATCH_SIZE, NO_LIMITS, SE_LIMITS
from amili_pipelines.domain.creditors import (
    CreditorsFile,
    CreditorsFileError,
    parse_creditors,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def export_dotenv(path: Path = Path(".env")) -> None:
    """A ``.env`` file sets every ``AMILI_*`` variable, also those a layer reads from the environment
    itself (the store's lock timeout and memory limit, the writer-pool wait, the circuit thresholds,
    extraction workers, the outbox lease): exported to the process environment, never over a value
    the environment already has (the environment wins, as it does for :class:`Settings`)."""
    if not path.is_file():
        return
    for key, value in dotenv_values(path).items():
        if key.startswith("AMILI_") and value is not None:
            os.environ.setdefault(key, value)


export_dotenv()

# The emulator's demo credentials (documented in the README). Never valid anywhere but the emulator.
DEMO_SE_API_CODE = "demo-api-code"
DEMO_NO_CLIENT_ID = "demo-client"
DEMO_NO_CLIENT_SECRET = "demo-secret"
DEFAULT_EMULATOR_URL = "http://127.0.0.1:8765"


class Settings(BaseSettings):
    """Everything read from the environment. Every field is ``AMILI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="AMILI_", env_file=".env", extra="ignore")

    se_base_url: str = DEFAULT_EMULATOR_URL
    se_api_code: SecretStr = SecretStr(DEMO_SE_API_CODE)
    # Optional: sign a JWT with this key and use GET /authenticates/api-code instead of the POST.
    se_jwt_private_key_path: Path | None = None
    se_jwt_algorithm: str = "ES256"
    se_requests_per_second: float = SE_LIMITS.requests_per_second
    se_max_concurrency: int = SE_LIMITS.max_concurrency

    no_base_url: str = f"{DEFAULT_EMULATOR_URL}/collection/v1"
    no_auth_url: str = f"{DEFAULT_EMULATOR_URL}/token"
    no_client_id: str = DEMO_NO_CLIENT_ID
    no_client_secret: SecretStr = SecretStr(DEMO_NO_CLIENT_SECRET)
    no_requests_per_second: float = NO_LIMITS.requests_per_second
    no_max_concurrency: int = NO_LIMITS.max_concurrency
    no_batch_size: int = NO_BATCH_SIZE
    # Norway: every settlements read re-reads this many days before the newest settlementDate stored.
    # Amili filters settlements by their business date, and may publish one dated well in the past (a
    # back-dated correction); a narrower window would never read it. Re-reading is idempotent (lines
    # are stored by settlementId; unchanged ones are not written again). Same default as
    # reconciliation.settlements.NO_SETTLEMENT_LOOKBACK_DAYS.
    no_settlement_lookback_days: int = Field(
        default=90, ge=1,
        description="Norway: days before the newest stored settlementDate that every settlements read re-reads "
                    "(catches back-dated settlements; re-reading is idempotent).",
    )

    # Alerts (off until a channel is configured) and where the Dagster UI is, for links in them.
    alert_webhook_url: SecretStr | None = None
    alert_webhook_format: Literal["slack", "teams"] = "slack"
    alert_smtp_host: str | None = None
    alert_smtp_port: int = 25
    alert_smtp_username: str | None = None
    alert_smtp_password: SecretStr | None = None
    alert_smtp_starttls: bool = False
    alert_email_from: str = "amili-pipelines@localhost"
    alert_email_to: str = ""  # comma-separated addresses
    ui_url: str = "http://127.0.0.1:3000"
    stale_registration_hours: float = 36.0
    stale_settlement_hours: float = 36.0
    failing_sensor_minutes: float = 30.0  # a sensor failing on every tick this long is announced

    # Norway's webhooks: the receiver (`amili-pipelines webhooks`) verifies deliveries with the shared
    # secret (never printed) and keeps them in the inbox until the run they trigger has succeeded.
    no_webhook_secret: SecretStr | None = None
    no_webhook_signature_header: str = "X-Webhook-Signature"
    no_webhook_signature_algorithm: Literal["sha256", "sha384", "sha512", "sha1"] = "sha256"
    no_webhook_max_bytes: int = Field(default=262_144, gt=0)
    webhook_inbox: Path = PROJECT_ROOT / "data" / "webhook_inbox"
    # Processed deliveries are forgotten after this many days (the inbox would otherwise grow with every
    # delivery, and the sensor counts it at each tick); Amili's redeliveries come within hours.
    webhook_inbox_keep_days: int = Field(default=30, ge=1)
    # With the receiver running, the polling sensors read Norway's batch list and case list at most this
    # often (a safety net for anything a webhook did not bring); 0 = at every tick, as without webhooks.
    no_safety_net_poll_seconds: float = Field(default=0.0, ge=0)

    duckdb_path: Path = PROJECT_ROOT / "data" / "amili.duckdb"
    # The production profile: the operational store on PostgreSQL (postgresql://...). Unset: the
    # embedded profile, one DuckDB file at duckdb_path.
    database_url: SecretStr | None = None
    # Production: how many steps may write the store at once (Dagster pool "warehouse_writer").
    writer_pool_limit: int = 8
    analytics_path: Path = PROJECT_ROOT / "data" / "amili_analytics.duckdb"
    creditors_file: Path = PROJECT_ROOT / "creditors.yaml"
    timezone: str = "Europe/Stockholm"
    # Files for the creditors' books and the reports; by default next to the analysts' database
    # (data/books, data/reports).
    books_dir: Path | None = None
    reports_dir: Path | None = None
    reports_keep: int = 30

    @property
    def books_path(self) -> Path:
        return self.books_dir or Path(self.analytics_path).parent / "books"

    @property
    def reports_path(self) -> Path:
        return self.reports_dir or Path(self.analytics_path).parent / "reports"

    @property
    def profile(self) -> Literal["embedded", "production"]:
        return "production" if self.database_url is not None and self.database_url.get_secret_value() else "embedded"

    @property
    def warehouse_location(self) -> str:
        """What ``open_warehouse`` takes: the PostgreSQL URL (production) or the DuckDB file (embedded)."""
        if self.profile == "production":
            return self.database_url.get_secret_value()  # type: ignore[union-attr]
        return str(self.duckdb_path)

    @cached_property
    def creditors(self) -> CreditorsFile:
        return load_creditors(self.creditors_file)

    def se_connection(self) -> SeConnection:
        return SeConnection(
            base_url=self.se_base_url, api_code=self.se_api_code,
            jwt_private_key_path=str(self.se_jwt_private_key_path) if self.se_jwt_private_key_path else None,
            jwt_algorithm=self.se_jwt_algorithm, requests_per_second=self.se_requests_per_second,
            max_concurrency=self.se_max_concurrency,
        )

    def no_connection(self) -> NoConnection:
        return NoConnection(
            base_url=self.no_base_url, auth_url=self.no_auth_url, client_id=self.no_client_id,
            client_secret=self.no_client_secret, requests_per_second=self.no_requests_per_second,
            max_concurrency=self.no_max_concurrency,
        )


def alert_channels(settings: Settings) -> list[Channel]:
    """The alert channels the environment configures (none: alerts are off)."""
    channels: list[Channel] = []
    if settings.alert_webhook_url is not None and settings.alert_webhook_url.get_secret_value():
        channels.append(WebhookChannel(url=settings.alert_webhook_url, format=settings.alert_webhook_format))
    recipients = [a.strip() for a in settings.alert_email_to.split(",") if a.strip()]
    if settings.alert_smtp_host and recipients:
        channels.append(SmtpChannel(
            host=settings.alert_smtp_host, port=settings.alert_smtp_port, sender=settings.alert_email_from,
            recipients=recipients, username=settings.alert_smtp_username, password=settings.alert_smtp_password,
            starttls=settings.alert_smtp_starttls))
    return channels


class _CreditorsLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a date that is no day (``closed_through: 2026-02-30``) stays
    text: the safe loader raises a bare ValueError for it that names neither the file nor the key;
    as text, the model's check names the creditor and the key."""

    def _timestamp(self, node: yaml.Node) -> object:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_CreditorsLoader.add_constructor("tag:yaml.org,2002:timestamp", _CreditorsLoader._timestamp)


def load_creditors(path: str | Path) -> CreditorsFile:
    """Read and validate a creditors file; every problem is a :class:`CreditorsFileError` naming the file."""
    path = Path(path)
    if not path.exists():
        raise CreditorsFileError(f"creditors file not found: {path} (set AMILI_CREDITORS_FILE to its path)")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CreditorsLoader) or {}  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CreditorsFileError(f"{path} is not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CreditorsFileError(f"{path} cannot be read: {exc}") from None
    return parse_creditors(data, origin=str(path), base_dir=path.resolve().parent)
