"""The circuit breaker: Amili failing in a row stops the sending fast; an answer closes it again."""

from __future__ import annotations

import asyncio

import httpx
from pydantic import SecretStr

from amili_pipelines.amili.circuit import CircuitBreaker
from amili_pipelines.amili.errors import ApiUnavailable, CircuitOpen
from amili_pipelines.amili.se.client import AmiliSeClient


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_probes_after_a_while():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=10, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    breaker.record_success()  # an answer in between: the count starts again
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.is_open and not breaker.allow() and breaker.times_opened == 1
    clock.now = 10.5
    assert breaker.allow(), "one probe after open_seconds"
    assert not breaker.allow(), "only one at a time"
    breaker.record_failure()
    assert breaker.is_open and breaker.times_opened == 2
    clock.now = 21
    assert breaker.allow()
    breaker.record_success()
    assert not breaker.is_open and breaker.allow() and breaker.allow()


def test_thresholds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AMILI_SE_CIRCUIT_FAILURES", "4")
    monkeypatch.setenv("AMILI_SE_CIRCUIT_OPEN_SECONDS", "12.5")
    breaker = CircuitBreaker.from_env("SE")
    assert (breaker.failure_threshold, breaker.open_seconds) == (4, 12.5)


def test_a_client_stops_sending_once_amili_keeps_failing():
    """Over a MockTransport answering 503: after the threshold nothing more is sent."""
    sent = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path.endswith("api-code"):
            return httpx.Response(200, json={"_status": "OK", "token": "t"})
        return httpx.Response(503, json={"_status": "ERR", "_error": {"code": 503, "message": "down"}})

    async def go():
        async with AmiliSeClient(base_url="http://amili.test", api_code=SecretStr("x"), backoff_base=0.001,
                                 backoff_cap=0.002, max_retries=3,
                                 breaker=CircuitBreaker(failure_threshold=5, open_seconds=60),
                                 transport=httpx.MockTransport(handle)) as se:
            errors = []
            for _ in range(10):
                try:
                    await se.get_case(case_id="c")
                except ApiUnavailable as exc:
                    errors.append(exc)
            return se, errors

    se, errors = asyncio.run(go())
    posted = [p for p in sent if p.startswith("/cases")]
    assert len(posted) == 5, "the fifth failure in a row opened the circuit"
    assert isinstance(errors[-1], CircuitOpen) and errors[-1].attempts == 0
    assert se.unavailable
