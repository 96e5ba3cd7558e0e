"""/health/ (for a load balancer), /health/detection/ (for a monitor), and whether
detection keeps up (measures/freshness.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.db.backends.utils import CursorWrapper
from django.test import Client as DjangoClient
from django.urls import reverse
from django.utils import timezone

from alliance.celery import app
from measures.freshness import detection_status, is_late
from measures.models import Sweep

pytestmark = pytest.mark.django_db
URL = reverse("measures:health")
DETECTION_URL = reverse("measures:health-detection")
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def scheduled(monkeypatch: Any, settings: Any) -> None:
    """Workers and beat expected, as with a broker in production; late after an hour."""
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    settings.ALLIANCE_DETECTION_LATE_MINUTES = 60


def swept(minutes_ago: int, *, finished: bool = True) -> Sweep:
    started = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return Sweep.objects.create(
        started_at=started, finished_at=started + dt.timedelta(seconds=5) if finished else None
    )


def both_answer(browser: Any, code: int, **body: Any) -> None:
    """/health/ and /health/detection/ alike: the HTTP status, the JSON, never stored."""
    for url in (URL, DETECTION_URL):
        response = browser.get(url)
        assert (response.status_code, response.json()) == (code, body)
        assert "no-store" in response["Cache-Control"]


def test_late_when_nothing_has_finished_or_the_last_began_too_long_ago() -> None:
    now = timezone.now()
    assert is_late(None, now, HOUR)
    assert not is_late(now - HOUR, now, HOUR)  # exactly the allowance: not yet
    assert is_late(now - HOUR - dt.timedelta(seconds=1), now, HOUR)
    assert not is_late(now - dt.timedelta(minutes=10), now, HOUR)


def test_without_a_broker_detection_runs_in_process_and_is_never_late(client: Any) -> None:
    assert not detection_status().scheduled
    both_answer(
        client, 200, status="ok", database="ok", detection="in process", detection_last_checked=None
    )


def test_healthy_while_the_catch_up_keeps_finishing(client: Any, scheduled: None) -> None:
    recent = swept(8)
    swept(2, finished=False)  # the one running now does not count until it finishes
    both_answer(
        client,
        200,
        status="ok",
        database="ok",
        detection="ok",
        detection_last_checked=recent.started_at.isoformat(),
    )


def test_late_detection_fails_the_monitors_check_not_the_load_balancers(
    client: Any, scheduled: None
) -> None:
    """Late detection taking every server out of the load balancer would take the pages
    and the rating links with it, over background work the pages already warn of."""
    last = swept(61)
    swept(30, finished=False)  # started, never finished: its worker died
    serving = client.get(URL)
    assert serving.status_code == 200
    assert serving.json() == {
        "status": "ok",
        "database": "ok",
        "detection": "late",
        "detection_last_checked": last.started_at.isoformat(),
    }
    monitored = client.get(DETECTION_URL)
    assert monitored.status_code == 503
    assert monitored.json() == {**serving.json(), "status": "failing"}


def test_no_sweep_ever_finished_is_late(client: Any, scheduled: None) -> None:
    response = client.get(DETECTION_URL)
    assert response.status_code == 503
    assert response.json()["detection"] == "late"
    assert response.json()["detection_last_checked"] is None
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize("signed_in", [False, True], ids=["no cookie", "signed in"])
@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_an_unreachable_database_is_a_503_on_both_without_details(
    monkeypatch: Any, error: type[Exception], signed_in: bool, therapist: Any
) -> None:
    """In the checks' own words, even for a poller with a session cookie, whose request
    fails in a middleware (its user is read) before it reaches the check."""

    def outage(*args: Any, **kwargs: Any) -> None:
        raise error("could not connect to server at 10.1.2.3")

    browser = DjangoClient(raise_request_exception=False)
    if signed_in:
        browser.force_login(therapist)
    monkeypatch.setattr(CursorWrapper, "execute", outage)
    both_answer(
        browser,
        503,
        status="failing",
        database="unreachable",
        detection="unknown",
        detection_last_checked=None,
    )


def request_log(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "django.request"]


def test_a_pollers_503_is_answered_not_logged_as_an_error(
    client: Any, scheduled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A monitor polling while detection is late gets its 503 each time; the log does not
    gain an ERROR line per poll for the one fault it already knows of."""
    swept(61)
    caplog.set_level(logging.INFO)
    for _ in range(3):
        assert client.get(DETECTION_URL).status_code == 503
    assert request_log(caplog) == []


def test_during_an_outage_the_checks_stay_quiet_and_the_pages_503s_are_logged(
    monkeypatch: Any, caplog: pytest.LogCaptureFixture, therapist: Any
) -> None:
    def outage(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("could not connect to server")

    poller = DjangoClient(raise_request_exception=False)  # no cookie, as a load balancer
    browser = DjangoClient(raise_request_exception=False)
    browser.force_login(therapist)
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(CursorWrapper, "execute", outage)
    # A signed-in browser's check fails in a middleware (its user is read) before its URL
    # is resolved; it is still the check's own answer.
    for who, url in itertools.product((poller, browser), (URL, DETECTION_URL)):
        assert who.get(url).status_code == 503
    assert request_log(caplog) == []
    page = reverse("reports:caseload")
    assert browser.get(page).status_code == 503
    assert request_log(caplog) == [(logging.ERROR, f"Service Unavailable: {page}")]


def test_a_health_checks_own_error_is_still_logged(
    monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Only its 503 is its answer: a bug in it is news like any other."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("measures.views.health.detection_status", broken)
    caplog.set_level(logging.INFO)
    assert DjangoClient(raise_request_exception=False).get(URL).status_code == 500
    assert request_log(caplog) == [(logging.ERROR, f"Internal Server Error: {URL}")]


def test_they_only_answer_reads(client: Any) -> None:
    for url in (URL, DETECTION_URL):
        assert client.post(url).status_code == 405
        assert client.head(url).status_code == 200


def test_the_latest_finished_sweep_is_read_through_its_index(postgresql: None) -> None:
    """The catch-up leaves a row every 10 minutes; each page that warns reads the latest
    finished one. Sequential scans are turned off for the look, so the plan shows whether
    an index can serve it at all."""
    for minutes_ago in range(0, 3000, 10):
        swept(minutes_ago, finished=minutes_ago % 30 != 0)
    query = Sweep.objects.filter(finished_at__isnull=False).order_by("-started_at")[:1]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "sweep_last_finished" in plan, plan


def test_a_refusal_is_one_line_without_a_traceback(
    client: Any, caplog: pytest.LogCaptureFixture, supervisor: Any, concern: Any
) -> None:
    """A supervisor pressing the therapist's Acknowledge is refused: one WARNING line, with
    no stack beneath it."""
    client.force_login(supervisor)
    caplog.set_level(logging.INFO)
    url = reverse("measures:concern-acknowledge", args=[concern.pk])
    assert client.post(url).status_code == 403
    refusals = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in refusals] == [
        (logging.WARNING, f"Forbidden (Permission denied): {url}", None)
    ]
