"""Redis stopped while clients answer their links — Redis as the broker and as the cache:
every rating is stored once and the client thanked; once Redis is back, the catch-up
evaluates them (signals raised, concern opened) within minutes, not the next night.

A Redis server of the test's own, on a free port, is stopped and started again; the shared
one (6379) is never touched.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from alliance.settings import cache as cache_at
from clients.models import Client
from clients.tests.factories import ClientFactory
from conftest import RedisServer, celery_broker
from measures import tasks
from measures.models import Concern, Flag, Rating, Sweep
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_run
from measures.tests.factories import RatingFactory, outcome_form_answers
from sessions.invitations import invitation_create
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db
CLIENTS = 3


def steady(client: Client) -> None:
    """Four weeks of 10s, already evaluated: a 5 next is a reliable drop."""
    for weeks_ago in (5, 4, 3, 2):
        session = SessionFactory(
            client=client, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
        )
        RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, 10))


def answers() -> dict[str, str]:
    return {
        **dict.fromkeys(DIMENSIONS, "5"),
        "rupture": "none",
        "notice_version": "1",
        **outcome_form_answers(),
    }


def test_ratings_sent_while_redis_is_down_are_kept_thanked_and_evaluated_when_it_returns(
    client: Any,
    therapist: Any,
    own_redis: RedisServer,
    caplog: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    people = [ClientFactory(therapist=therapist) for _ in range(CLIENTS)]
    for person in people:
        steady(person)
    sweep_run()  # the night before: everything so far evaluated
    links = [invitation_create(session=SessionFactory(client=person)) for person in people]
    with (
        override_settings(CACHES={"default": cache_at(f"{own_redis.url}/1")}),
        celery_broker(f"{own_redis.url}/0"),
    ):
        own_redis.stop()
        for _, token in links:
            started = time.monotonic()
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(reverse("measures:client-rating", args=[token]), answers())
            assert time.monotonic() - started < 10  # the broker gives up; no hang
            assert response.status_code == 302
            assert response["Location"].startswith(
                reverse("measures:client-rating-thanks", args=[token])
            )
            thanks = client.get(response["Location"])
            assert b"Your answers have been sent to your therapist." in thanks.content
        # A mistyped link still gets its calm page; its failure goes uncounted.
        assert client.get(reverse("measures:client-rating", args=["C" * 43])).status_code == 404
        assert "Could not enqueue evaluation" in caplog.text
        assert "cache down" in caplog.text

        for invitation, _ in links:
            assert Rating.objects.filter(session=invitation.session, rater="client").count() == 1
        assert not Flag.objects.filter(rule="reliable_drop").exists()  # nothing evaluated yet

        own_redis.start()
        # The broker takes work again: beat's catch-up is queued there, as it is every few
        # minutes, and runs (here in-process: no worker in this test).
        tasks.catch_up.delay()
        assert redis.Redis.from_url(f"{own_redis.url}/0").llen("celery") == 1
    assert (
        django_settings.CELERY_BEAT_SCHEDULE["catch-up-evaluations"]["task"] == tasks.catch_up.name
    )
    tasks.catch_up.apply()
    for person in people:
        assert Flag.objects.filter(client=person, rule="reliable_drop").count() == 1
        assert Concern.objects.filter(client=person).count() == 1
    # Once only: a second catch-up (or the night's sweep) finds nothing new.
    assert tasks.catch_up.apply().get() == 0
    assert Flag.objects.filter(rule="reliable_drop").count() == CLIENTS


def test_a_stalled_broker_holds_up_neither_a_rating_nor_a_calibration(
    client: Any,
    therapist: Any,
    clinic_admin: Any,
    own_redis: RedisServer,
    caplog: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A Redis that takes connections and answers nothing (paused: SIGSTOP), as a stalled
    server or a proxy in front of a dead one: before the broker's socket timeout, a publish
    waited for ever, and the client's page with it, past gunicorn's 30 s."""
    from measures.models import Calibration
    from measures.tests.test_calibration import clinic_of_ratings

    clinic_of_ratings(therapist)
    _, token = invitation_create(session=SessionFactory(client=ClientFactory(therapist=therapist)))
    with celery_broker(f"{own_redis.url}/0"), own_redis.stalled():
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("measures:client-rating", args=[token]), answers())
        assert time.monotonic() - started < 10
        assert response.status_code == 302  # stored and thanked
        assert Rating.objects.filter(session__invitations__isnull=False).count() == 1
        assert "Could not enqueue evaluation" in caplog.text

        client.force_login(clinic_admin)
        started = time.monotonic()
        response = client.post(reverse("measures:thresholds-calibrate"), follow=True)
        assert time.monotonic() - started < 10
        assert b"the task queue is unreachable" in response.content
        assert Calibration.objects.get().status == Calibration.Status.FAILED


def test_the_catch_up_reads_only_what_changed_since_the_last_run(
    therapist: Any, settings: Any
) -> None:
    settings.ALLIANCE_SWEEP_OVERLAP_SECONDS = 0  # no look-back before the last sweep
    person = ClientFactory(therapist=therapist)
    steady(person)
    sweep_run()
    assert tasks.catch_up.apply().get() == 0
    assert Sweep.objects.order_by("-started_at").first().clients_evaluated == 0
