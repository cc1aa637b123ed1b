"""Shared fixtures for the Amili client tests: the seed request bodies and a MockTransport helper."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.seed_bodies import seed_body as load_seed

ACCOUNT = "674dbeaf08847b9501cc9132"
CREDITOR = "674dbeb208847b9501cc9138"

# The three request bodies of the seed documents, verbatim (dates as the docs wrote them).
SEED_PERSON: dict[str, Any] = load_seed("person")
SEED_COMPANY: dict[str, Any] = load_seed("company")
SEED_JANE_DOE: dict[str, Any] = load_seed("jane_doe")
SEEDS = {"person": SEED_PERSON, "company": SEED_COMPANY, "jane_doe": SEED_JANE_DOE}


@pytest.fixture(params=sorted(SEEDS))
def seed_body(request: pytest.FixtureRequest) -> dict[str, Any]:
    return copy.deepcopy(SEEDS[request.param])


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport that records requests and answers from a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path == path)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})})


# -- the emulator (real HTTP on loopback) -----------------------------------------------------------


@pytest.fixture(scope="session")
def amili_emulator() -> Any:
    from amili_pipelines.emulator.testing import running_emulator

    with running_emulator() as emu:
        yield emu


@pytest.fixture
def emulator(amili_emulator: Any) -> Any:
    """A clean emulator: state reset, faults off, request counters zeroed."""
    amili_emulator.admin.clear_faults()
    amili_emulator.admin.reset()
    amili_emulator.admin.reset_stats()
    yield amili_emulator
    amili_emulator.admin.clear_faults()
