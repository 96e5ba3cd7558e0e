"""/health/ and whether detection keeps up (measures/freshness.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client as DjangoClient
from django.urls import reverse
from django.utils import timezone

from alliance.celery import app
from measures.freshness import detection_status, is_late
from measures.models import Sweep

pytestmark = pytest.mark.django_db
URL = reverse("measures:health")
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


def test_late_when_nothing_has_finished_or_the_last_began_too_long_ago() -> None:
    now = timezone.now()
    assert is_late(None, now, HOUR)
    assert not is_late(now - HOUR, now, HOUR)  # exactly the allowance: not yet
    assert is_late(now - HOUR - dt.timedelta(seconds=1), now, HOUR)
    assert not is_late(now - dt.timedelta(minutes=10), now, HOUR)


def test_without_a_broker_detection_runs_in_process_and_is_never_late(client: Any) -> None:
    assert not detection_status().scheduled
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "detection": "in process",
        "detection_last_checked": None,
    }


def test_healthy_while_the_catch_up_keeps_finishing(client: Any, scheduled: None) -> None:
    recent = swept(8)
    swept(2, finished=False)  # the one running now does not count until it finishes
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "detection": "ok",
        "detection_last_checked": recent.started_at.isoformat(),
    }
    assert "no-store" in response["Cache-Control"]


def test_late_detection_is_a_503_naming_it(client: Any, scheduled: None) -> None:
    last = swept(61)
    swept(30, finished=False)  # started, never finished: its worker died
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert response.json()["detection"] == "late"
    assert response.json()["detection_last_checked"] == last.started_at.isoformat()


def test_no_sweep_ever_finished_is_late(client: Any, scheduled: None) -> None:
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["detection"] == "late"
    assert response.json()["detection_last_checked"] is None


def test_an_unreachable_database_is_a_503_without_details(monkeypatch: Any) -> None:
    def outage(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("could not connect to server at 10.1.2.3")

    browser = DjangoClient(raise_request_exception=False)
    monkeypatch.setattr(CursorWrapper, "execute", outage)
    response = browser.get(URL)
    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "database": "unreachable",
        "detection": "unknown",
        "detection_last_checked": None,
    }


def test_it_only_answers_reads(client: Any) -> None:
    assert client.post(URL).status_code == 405
    assert client.head(URL).status_code == 200
