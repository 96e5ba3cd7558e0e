"""The pages that list concerns say when detection has fallen behind: an empty list is then
no sign that all is well (measures/freshness.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alliance.celery import app
from clients.models import User
from measures.models import Sweep

pytestmark = pytest.mark.django_db
NOTICE = "Until it looks again, concerns may be missing"
PAGES = [
    ("therapist", "reports:caseload", []),
    ("therapist", "measures:review-queue", []),
    ("therapist", "reports:client-detail", ["client_record"]),
    ("supervisor", "reports:dashboard", []),
    ("supervisor", "reports:therapist-caseload", ["therapist"]),
]


@pytest.fixture
def scheduled(monkeypatch: Any, settings: Any) -> Iterator[Any]:
    """Workers and beat expected (a broker set), late after an hour; `scheduled(False)`
    goes back to judging ratings in process for a moment."""
    settings.ALLIANCE_DETECTION_LATE_MINUTES = 60

    def schedule(on: bool = True) -> None:
        monkeypatch.setitem(app.conf, "task_always_eager", not on)

    schedule()
    yield schedule


def swept(minutes_ago: int) -> None:
    started = timezone.now() - dt.timedelta(minutes=minutes_ago)
    Sweep.objects.create(started_at=started, finished_at=started + dt.timedelta(seconds=5))


@pytest.mark.parametrize(("who", "url_name", "of"), PAGES)
def test_a_late_detection_is_said_on_each_page_that_lists_concerns(
    client: Any, scheduled: Any, who: str, url_name: str, of: list[str], request: Any
) -> None:
    reader: User = request.getfixturevalue(who)
    client.force_login(reader)
    url = reverse(url_name, args=[request.getfixturevalue(name).pk for name in of])
    swept(90)
    with CaptureQueriesContext(connection) as asked:
        late = client.get(url).content.decode()
    assert NOTICE in late
    assert "Alliance last looked for new concerns on" in late
    # What it costs: one indexed query for the latest finished sweep, nothing in process.
    scheduled(False)
    with CaptureQueriesContext(connection) as in_process:
        assert NOTICE not in client.get(url).content.decode()
    assert len(asked) == len(in_process) + 1
    assert sum("measures_sweep" in query["sql"] for query in asked) == 1

    scheduled()
    swept(5)
    assert NOTICE not in client.get(url).content.decode()


def test_never_checked_says_so(client: Any, scheduled: Any, therapist: User) -> None:
    client.force_login(therapist)
    page = client.get(reverse("reports:caseload")).content.decode()
    assert "Alliance has not yet looked for concerns." in page


def test_no_notice_where_ratings_are_judged_as_they_are_saved(client: Any, therapist: User) -> None:
    """Without a broker (`make run`) nothing periodic runs, and nothing is late."""
    client.force_login(therapist)
    assert NOTICE not in client.get(reverse("reports:caseload")).content.decode()
