"""The API's rate (`api/throttling.py`) holds when one owner's requests arrive at once, on
both caches it is counted in: the memory cache (one process's threads) and Redis
(`CACHE_URL`: several workers and hosts), a Redis server of the test's own.

Requests sent at once are threads, each with a test client of its own and a database
connection of its own, let go together. Each read of the cache returns a little late, as a
read from Redis on another host does, or one made by a thread the interpreter switched
away from before it wrote back: the others read meanwhile. DRF's count (read the list,
check, append, write) let nearly all of them through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client as Browser
from rest_framework.throttling import UserRateThrottle

from accounts import tokens
from alliance.settings import cache as cache_at
from api.throttling import OwnerRateThrottle
from clients.models import User
from clients.tests.factories import ClinicAdminFactory
from measures.tests.racing import errors_kept, on_a_connection_of_its_own

RATE = 5
AT_ONCE = 20
READ_LATE_SECONDS = 0.05


@pytest.fixture(params=["memory", "redis"])
def counted_in(request: pytest.FixtureRequest, settings: Any) -> str:
    """Each test runs on the memory cache (the suite's, `fresh_cache`) and on Redis."""
    if request.param == "redis":
        server = request.getfixturevalue("own_redis")
        settings.CACHES = {"default": cache_at(f"{server.url}/1")}
    return request.param


@pytest.fixture
def reads_late(monkeypatch: pytest.MonkeyPatch, counted_in: str) -> None:
    """Every read of the cache answers READ_LATE_SECONDS after it was made."""
    backend = type(caches["default"])
    read = backend.get

    def late(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = read(self, *args, **kwargs)
        time.sleep(READ_LATE_SECONDS)
        return value

    monkeypatch.setattr(backend, "get", late)


@pytest.fixture
def rate(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": f"{RATE}/minute"})
    return RATE


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The throttle's clock, set by the test: `clock[0]` is now."""
    now = [1_000_000.0]
    monkeypatch.setattr(OwnerRateThrottle, "timer", staticmethod(lambda: now[0]))
    yield now


def token_for(user: User) -> str:
    return tokens.token_create(user=user, name="Nightly pull")[1]


def clients_read(browser: Any, token: str) -> Any:
    return browser.get("/api/v1/clients/", HTTP_AUTHORIZATION=f"Bearer {token}")


def sent_at_once(token: str, count: int) -> list[Any]:
    """`count` requests with `token`, each from a thread of its own, let go together."""
    barrier = threading.Barrier(count)
    answers: list[Any] = []
    problems: list[Exception] = []

    def one() -> None:
        browser = Browser()
        barrier.wait(timeout=30)
        answers.append(clients_read(browser, token))

    threads = [on_a_connection_of_its_own(errors_kept(one, problems)) for _ in range(count)]
    for thread in threads:
        thread.join()
    assert problems == []
    return answers


@pytest.mark.django_db(transaction=True)
def test_requests_sent_at_once_pass_no_more_than_the_rate(
    therapist: User, counted_in: str, rate: int, reads_late: None, request: Any
) -> None:
    if counted_in == "redis":
        request.getfixturevalue("postgresql")  # several workers: the production pair
    token = token_for(therapist)
    clients_read(Browser(), token)  # its first use recorded, as the threads need not

    answers = sent_at_once(token, AT_ONCE)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * (rate - 1) + [429] * (AT_ONCE - rate + 1)
    for refused in (answer for answer in answers if answer.status_code == 429):
        assert 0 < int(refused["Retry-After"]) <= 60
    # Still full afterwards, and per owner: a colleague's token is not slowed by it.
    assert clients_read(Browser(), token).status_code == 429
    colleague = ClinicAdminFactory(clinic=therapist.clinic)
    assert clients_read(Browser(), token_for(colleague)).status_code == 200


def test_the_window_slides_and_a_refusal_says_when_the_oldest_request_leaves_it(
    client: Any, therapist: User, counted_in: str, rate: int, clock: list[float]
) -> None:
    token = token_for(therapist)
    started = clock[0]
    for second in range(rate):  # one a second
        clock[0] = started + second
        assert clients_read(client, token).status_code == 200
    clock[0] = started + 30
    refused = clients_read(client, token)
    assert (refused.status_code, refused["Retry-After"]) == (429, "30")
    clock[0] = started + 60  # the first, on the window's edge, has left it
    assert clients_read(client, token).status_code == 200
    refused = clients_read(client, token)
    assert (refused.status_code, refused["Retry-After"]) == (429, "1")  # the second's turn
    clock[0] = started + 61.5
    assert [clients_read(client, token).status_code for _ in range(2)] == [200, 429]


def test_a_refusal_after_the_rate_was_lowered_waits_for_enough_to_leave(
    client: Any,
    therapist: User,
    counted_in: str,
    rate: int,
    clock: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rate raised for a bulk reader and lowered again leaves more counted than the new
    rate allows: the next is taken once all but one fewer than the new rate have left."""
    token = token_for(therapist)
    started = clock[0]
    for second in range(rate):
        clock[0] = started + second
        assert clients_read(client, token).status_code == 200
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/minute"})
    clock[0] = started + 10
    refused = clients_read(client, token)
    # Five counted (at 0–4 s), two allowed: the fourth (at 3 s) must leave, at 63 s.
    assert (refused.status_code, refused["Retry-After"]) == (429, "53")
    clock[0] = started + 63
    assert [clients_read(client, token).status_code for _ in range(2)] == [200, 429]
