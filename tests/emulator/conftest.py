"""Fixtures for the emulator's own tests: one real server (thread mode) per session, reset per test."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import httpx
import pytest

from amili_pipelines.emulator.testing import EmulatorHandle, running_emulator
from tests.support.emulator import NO_ORG, make_config, se_invoice


@pytest.fixture(scope="session")
def _server() -> Iterator[EmulatorHandle]:
    with running_emulator(make_config()) as emu:
        yield emu


@pytest.fixture
def emu(_server: EmulatorHandle) -> EmulatorHandle:
    """A running emulator, freshly reset (state, stats, clock, faults)."""
    _server.admin.reset()
    return _server


@pytest.fixture
def se(emu: EmulatorHandle) -> Iterator[httpx.Client]:
    """httpx client on the Swedish API with a valid X-API-Key."""
    with httpx.Client(base_url=emu.base_url, headers=emu.se_headers(), timeout=10) as client:
        yield client


@pytest.fixture
def no(emu: EmulatorHandle) -> Iterator[httpx.Client]:
    """httpx client on the Norwegian API (base .../collection/v1/orgs/{demo org}) with a bearer token."""
    with httpx.Client(base_url=f"{emu.no_base_url}/orgs/{NO_ORG}", headers=emu.no_headers(), timeout=10) as c:
        yield c


@pytest.fixture
def register(se: httpx.Client) -> Callable[..., dict[str, Any]]:
    def _register(**overrides: Any) -> dict[str, Any]:
        r = se.post("/invoice--registrations", json=se_invoice(**overrides))
        assert r.status_code == 201, r.text
        return r.json()

    return _register
