"""The shared HTTP client: retries, Retry-After, pacing, secret-free messages."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from scanner.core.errors import RetryableError
from scanner.net.http import (
    HttpClient,
    HttpStatusError,
    RateLimiter,
    RetryPolicy,
    retry_after_seconds,
)


def client(sleeps: list[float], attempts: int = 4) -> HttpClient:
    return HttpClient("entra", policy=RetryPolicy(attempts=attempts, sleep=sleeps.append))


def test_fractional_retry_after_is_honoured(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/x").respond_with_json(
        {"error": {"code": "TooManyRequests"}}, status=429, headers={"Retry-After": "2.128"}
    )
    httpserver.expect_ordered_request("/x").respond_with_json({"value": []})
    sleeps: list[float] = []
    c = client(sleeps)
    body, _ = c.get_json(httpserver.url_for("/x"))
    assert body == {"value": []}
    assert sleeps == [2.128]
    assert c.retries == 1


def test_gives_up_after_bounded_attempts_without_leaking_query(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("busy", status=503)
    sleeps: list[float] = []
    with pytest.raises(RetryableError) as err:
        client(sleeps, attempts=3).get_json(httpserver.url_for("/x") + "?$skiptoken=SECRET")
    assert "gave up after 3 attempts" in str(err.value)
    assert "SECRET" not in str(err.value)
    assert len(sleeps) == 2


def test_other_4xx_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_json({"error": {"code": "Nope"}}, status=403)
    sleeps: list[float] = []
    with pytest.raises(HttpStatusError) as err:
        client(sleeps).get_json(httpserver.url_for("/x"))
    assert err.value.status == 403
    assert err.value.body == {"error": {"code": "Nope"}}
    assert sleeps == []


def test_okta_reset_header() -> None:
    assert retry_after_seconds({"X-Rate-Limit-Reset": "1010"}, now=1000.0) == 10.0
    assert (
        retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412480.0)
        == 0.0
    )
    assert retry_after_seconds({}) is None


def test_rate_limiter_waits_for_the_window() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(5, 10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert waits == []
    limiter.acquire()
    assert waits == [10.0]
