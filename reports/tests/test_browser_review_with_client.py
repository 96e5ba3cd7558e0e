"""'Review with client' in a real headless Chromium on a phone: the chart is drawn from
the client's own ratings, with no console errors and no CSP violations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clients.models import Client, User
from conftest import watch_for_problems
from measures.scoring import DIMENSIONS
from measures.tests.factories import RatingFactory
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_client_sees_their_own_ratings_drawn_large_on_a_phone(
    live_server: Any, page: Any, therapist: User, client_record: Client
) -> None:
    for days_ago, score in ((14, 6), (7, 8)):
        session = SessionFactory(
            client=client_record, starts_at=timezone.now() - dt.timedelta(days=days_ago)
        )
        RatingFactory(session=session, rater="client", **dict.fromkeys(DIMENSIONS, score))
        RatingFactory(session=session, rater="therapist", **dict.fromkeys(DIMENSIONS, 2))
    problems = watch_for_problems(page)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone held upright
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("tara")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/clients/{client_record.pk}/")
    page.get_by_role("link", name="Review with client").click()
    # The chart is drawn by deferred scripts, which have run once the page has loaded.
    page.wait_for_url(f"**/clients/{client_record.pk}/review/", wait_until="load")
    points = page.evaluate(
        "Chart.getChart(document.getElementById('review-chart')).data.datasets"
        ".map((set) => set.data)"
    )
    assert points == [[6, 8]]
    assert page.get_by_text("Your last rating: 8.0 out of 10").is_visible()
    assert page.get_by_role("navigation").count() == 0

    page.get_by_role("link", name="Back to the therapist's view").click()
    page.get_by_role("heading", name=client_record.label).wait_for()
    assert problems == []
