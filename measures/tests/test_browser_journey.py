"""The therapist's day in a real headless Chromium: add a client, log a session,
rate it, and see the point on the chart — with no console errors and no CSP
violations."""

from __future__ import annotations

from typing import Any

import pytest

from clients.models import Client, User
from conftest import watch_for_problems
from measures.models import Rating
from measures.scoring import DIMENSIONS
from sessions.models import Session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_therapist_adds_a_client_logs_a_session_rates_it_and_sees_the_chart(
    live_server: Any, page: Any, therapist: User
) -> None:
    problems = watch_for_problems(page)
    page.set_viewport_size({"width": 1024, "height": 768})  # a tablet in landscape
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("tara")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_text("No active clients yet.").is_visible()

    page.get_by_role("link", name="Add a client").first.click()
    page.get_by_label("Label").fill("J.T.")
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Add client").click()
    page.get_by_role("heading", name="J.T.").wait_for()
    client = Client.objects.get(label="J.T.")
    assert (client.therapist, client.language) == (therapist, "es")

    page.get_by_role("link", name="Log a session").click()
    page.get_by_role("button", name="Log session").click()
    page.get_by_role("heading", name="Session 1 with J.T.").wait_for()
    session = Session.objects.get(client=client)
    assert (session.number, session.duration_minutes, session.attendance) == (1, 50, "attended")

    page.get_by_role("link", name="Rate this session").click()
    # Each scale spans its two end labels: 0 starts under "0 = not at all", 10 ends under
    # "10 = completely".
    for scale in page.locator("fieldset:has(.scale)").all():
        buttons = scale.locator(".scale").bounding_box()
        ends = scale.locator(".scale-ends").bounding_box()
        assert abs(buttons["x"] - ends["x"]) < 1
        assert abs(buttons["x"] + buttons["width"] - ends["x"] - ends["width"]) < 1
    for dimension in DIMENSIONS:
        page.locator(f"label[for='id_{dimension}_8']").click()  # the button labelled 8
    page.get_by_label("None", exact=True).check()  # nothing is chosen for the therapist
    page.get_by_role("button", name="Save your rating").click()
    page.get_by_text("Your rating of session 1 is saved.").wait_for()
    assert Rating.objects.get(session=session, rater="therapist").alliance_score == 8

    page.get_by_role("link", name="J.T.").click()
    # The chart is drawn by deferred scripts, which have run once the page has loaded.
    page.wait_for_url(f"**/clients/{client.pk}/", wait_until="load")
    therapist_points = page.evaluate(
        "Chart.getChart(document.getElementById('alliance-chart')).data.datasets"
        ".find((set) => set.label === 'Therapist').data"
    )
    assert therapist_points == [8]
    assert page.get_by_role("cell", name="8.0").is_visible()
    assert problems == []
