"""Configuration: environment (pydantic-settings) and the creditors file (YAML).

Environment variables (or a ``.env`` file in the working directory) carry endpoints, credentials
and paths. The creditors file names each creditor's market, its Amili ids and its sources.
Defaults point at the local emulator started by ``make demo`` / ``make dev``, so the demo needs
no setup; production points the same variables at the real Amili endpoints.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from amili_pipelines.domain.invoice import Market
from amili_pipelines.sources.specs import SourceSpec

PROJECT_ROOT = Path(__file__).resolve().parent.parent

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
    se_requests_per_second: float = 50.0
    se_max_concurrency: int = 16

    no_base_url: str = f"{DEFAULT_EMULATOR_URL}/collection/v1"
    no_auth_url: str = f"{DEFAULT_EMULATOR_URL}/token"
    no_client_id: str = DEMO_NO_CLIENT_ID
    no_client_secret: SecretStr = SecretStr(DEMO_NO_CLIENT_SECRET)
    no_requests_per_second: float = 10.0
    no_max_concurrency: int = 4
    no_batch_size: int = 100

    duckdb_path: Path = PROJECT_ROOT / "data" / "amili.duckdb"
    analytics_path: Path = PROJECT_ROOT / "data" / "amili_analytics.duckdb"
    creditors_file: Path = PROJECT_ROOT / "creditors.yaml"
    timezone: str = "Europe/Stockholm"

    @cached_property
    def creditors(self) -> CreditorsFile:
        return load_creditors(self.creditors_file)


class CreditorConfig(BaseModel):
    """One creditor: which Amili market it belongs to, its ids there, and where its invoices live."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short stable name used in keys and tables")
    name: str
    market: Market
    # Sweden: the Amili account and creditor ObjectIds.
    account_id: str | None = None
    creditor_id: str | None = None
    # Norway: the organization UUID issued by Amili.
    organization_id: str | None = None
    # Days after the due date before an unpaid invoice is handed over.
    grace_days: int = 0
    sources: list[SourceSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_for_market(self) -> CreditorConfig:
        if self.market is Market.SE and not (self.account_id and self.creditor_id):
            raise ValueError(f"creditor {self.key!r}: a Swedish creditor needs account_id and creditor_id")
        if self.market is Market.NO and not self.organization_id:
            raise ValueError(f"creditor {self.key!r}: a Norwegian creditor needs organization_id")
        return self


class CreditorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    creditors: list[CreditorConfig]
    base_dir: Path = Path(".")  # relative source paths resolve against the creditors file's folder

    @model_validator(mode="after")
    def _unique(self) -> CreditorsFile:
        keys = [c.key for c in self.creditors]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ValueError(f"creditor keys must be unique, repeated: {sorted(dupes)}")
        names = [s.name for c in self.creditors for s in c.sources]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"source names must be unique across creditors, repeated: {sorted(dupes)}")
        return self

    def creditor(self, key: str) -> CreditorConfig:
        for c in self.creditors:
            if c.key == key:
                return c
        raise KeyError(f"no creditor {key!r} in the creditors file (known: {[c.key for c in self.creditors]})")

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p)


def load_creditors(path: str | Path) -> CreditorsFile:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"creditors file not found: {path} (set AMILI_CREDITORS_FILE)")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return CreditorsFile.model_validate({**data, "base_dir": path.resolve().parent})
    except Exception as exc:  # re-raise with the file name so the user knows where to look
        raise ValueError(f"invalid creditors file {path}: {exc}") from exc
