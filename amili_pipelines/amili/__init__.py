"""Amili API clients: Sweden's synchronous ADA API and Norway's asynchronous Collection API v1.

Layer rule (ARCHITECTURE.md): these modules know the domain models and httpx, never DuckDB or
Dagster. Everything that talks HTTP goes through :mod:`amili_pipelines.amili.transport`.
"""
