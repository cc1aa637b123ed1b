"""Helpers for the operator-action tests: a creditor switched off at Amili, rejected invoices, actors."""

from __future__ import annotations

from typing import Any

import httpx

from amili_pipelines.domain.invoice import Market
from amili_pipelines.domain.operator import Actor
from tests.support import followup as fs

OPS = Actor("ops-tester", "cli")


def set_se_creditor_active(emulator: Any, active: bool) -> None:
    """Amili's side of a rejection: the creditor deactivated (and later reactivated) via the Partner API."""
    url = f"{emulator.base_url}/creditors/{emulator.se_creditor}"
    headers = emulator.se_headers()
    etag = httpx.get(url, headers=headers, timeout=10).json()["_etag"]
    r = httpx.patch(url, json={"is_active": active}, headers={**headers, "If-Match": etag}, timeout=10)
    assert r.status_code == 200, r.text


def clients(env: fs.FollowupEnv) -> dict[Market, Any]:
    return {Market.SE: fs.se_client(env.emulator), Market.NO: fs.no_client(env.emulator)}
