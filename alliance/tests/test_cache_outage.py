"""The cache (`CACHE_URL`, Redis) down or stalled: it holds only counts, so an outage costs
the counts and never a page. The API answers (its rate goes unmetered and is logged), and
a rating link, the API and a password reset each answer within a few cache timeouts while
the cache takes connections and answers nothing.

A Redis server of the test's own, on a free port (conftest's `own_redis`), is used as the
cache with the project's own settings for it (`alliance.settings.cache`).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.throttling import UserRateThrottle

from accounts import tokens
from alliance.settings import CACHE_TIMEOUT_SECONDS
from alliance.settings import cache as cache_at
from clients.models import Client, User
from conftest import RedisServer
from measures.models import Rating
from measures.scoring import DIMENSIONS
from measures.tests.factories import outcome_form_answers
from sessions.invitations import invitation_create
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db
# A page that asks the cache a few things waits a timeout for each, and no more.
WITHIN_SECONDS = 6 * CACHE_TIMEOUT_SECONDS


def api_clients(browser: Any, token: str) -> Any:
    return browser.get("/api/v1/clients/", HTTP_AUTHORIZATION=f"Bearer {token}")


def timed(request: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def test_the_api_answers_while_its_cache_is_down_and_counts_again_once_it_is_back(
    client: Any,
    therapist: User,
    client_record: Client,
    own_redis: RedisServer,
    settings: Any,
    monkeypatch: Any,
    caplog: Any,
) -> None:
    settings.CACHES = {"default": cache_at(f"{own_redis.url}/1")}
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/minute"})
    token = tokens.token_create(user=therapist, name="Nightly pull")[1]

    own_redis.stop()
    answers = [api_clients(client, token) for _ in range(3)]  # past the rate: not counted
    assert [response.status_code for response in answers] == [200, 200, 200]
    assert [row["label"] for row in answers[-1].json()["results"]] == [client_record.label]
    assert "API request counts are unavailable (cache down)" in caplog.text
    assert client_record.label not in caplog.text

    own_redis.start()
    assert [api_clients(client, token).status_code for _ in range(3)] == [200, 200, 429]


def test_a_stalled_cache_holds_up_no_rating_link_api_request_or_password_reset(
    client: Any,
    therapist: User,
    client_record: Client,
    own_redis: RedisServer,
    settings: Any,
    caplog: Any,
) -> None:
    """Redis paused (SIGSTOP): it takes connections and never answers. redis-py's own wait
    (5 s a call) held a mistyped link's page and a password reset 10 s, and the API 5 s
    before it answered 500. (A valid link asks the cache nothing.)"""
    settings.CACHES = {"default": cache_at(f"{own_redis.url}/1")}
    User.objects.filter(pk=therapist.pk).update(email="tara@clinic.example")
    _, link = invitation_create(session=SessionFactory(client=client_record))
    token = tokens.token_create(user=therapist, name="Nightly pull")[1]
    rating_page = reverse("measures:client-rating", args=[link])
    answers = {
        **dict.fromkeys(DIMENSIONS, "8"),
        "rupture": "none",
        "notice_version": "1",
        **outcome_form_answers(),
    }

    with own_redis.stalled():
        form, form_took = timed(lambda: client.get(rating_page))
        sent, sent_took = timed(lambda: client.post(rating_page, answers))
        mistyped, mistyped_took = timed(
            lambda: client.get(reverse("measures:client-rating", args=["C" * 43]))
        )
        listed, listed_took = timed(lambda: api_clients(client, token))
        reset, reset_took = timed(
            lambda: client.post(reverse("password_reset"), {"email": "tara@clinic.example"})
        )

    assert (form.status_code, sent.status_code, mistyped.status_code) == (200, 302, 404)
    assert Rating.objects.filter(session__client=client_record, rater="client").count() == 1
    assert listed.status_code == 200
    assert [row["label"] for row in listed.json()["results"]] == [client_record.label]
    assert reset.status_code == 302 and len(mail.outbox) == 1  # a locked-out person first
    for took in (form_took, sent_took, mistyped_took, listed_took, reset_took):
        assert took < WITHIN_SECONDS, took
    assert "cache down" in caplog.text
