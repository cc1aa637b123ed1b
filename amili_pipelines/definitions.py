"""The one Dagster code location, ``amili_pipelines`` (loaded by workspace.yaml).

Paths and endpoints come from the environment through :class:`~amili_pipelines.config.Settings`;
secrets are bound as ``dg.EnvVar`` and resolved only when a run starts. The creditors file is read
here because each configured source becomes its own extract asset.
"""

from __future__ import annotations

import dagster as dg

from amili_pipelines.config import Settings
from amili_pipelines.defs.extract.assets import build_extract_assets
from amili_pipelines.defs.publish.definitions import defs as publish_definitions
from amili_pipelines.defs.reconcile.definitions import defs as reconcile_definitions
from amili_pipelines.defs.register import assets as register_assets
from amili_pipelines.defs.register.jobs import extract_validate_register_job
from amili_pipelines.defs.resources import AmiliNoResource, AmiliSeResource, CreditorsResource, WarehouseResource
from amili_pipelines.defs.validate.assets import build_validate_asset


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(path=str(settings.duckdb_path), analytics_path=str(settings.analytics_path)),
        "creditors": CreditorsResource(path=str(settings.creditors_file)),
        "amili_se": AmiliSeResource(
            base_url=settings.se_base_url,
            api_code=dg.EnvVar("AMILI_SE_API_CODE"),
            jwt_private_key_path=str(settings.se_jwt_private_key_path) if settings.se_jwt_private_key_path else None,
            jwt_algorithm=settings.se_jwt_algorithm,
            requests_per_second=settings.se_requests_per_second,
            max_concurrency=settings.se_max_concurrency,
        ),
        "amili_no": AmiliNoResource(
            base_url=settings.no_base_url,
            auth_url=settings.no_auth_url,
            client_id=settings.no_client_id,
            client_secret=dg.EnvVar("AMILI_NO_CLIENT_SECRET"),
            requests_per_second=settings.no_requests_per_second,
            max_concurrency=settings.no_max_concurrency,
            batch_size=settings.no_batch_size,
        ),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings()
    extract_assets = build_extract_assets(settings.creditors)
    validated = build_validate_asset([a.key for a in extract_assets])
    core = dg.Definitions(
        assets=[*extract_assets, validated, register_assets.amili_se_registrations,
                register_assets.amili_no_registrations],
        asset_checks=[register_assets.se_no_invoice_with_two_cases, register_assets.no_no_invoice_with_two_cases],
        jobs=[extract_validate_register_job],
        resources=build_resources(settings),
    )
    return dg.Definitions.merge(core, reconcile_definitions(), publish_definitions())


defs = build_definitions()
