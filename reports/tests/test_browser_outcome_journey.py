"""Outcome beside the alliance, end to end in real Chromium.

A client answers the outcome check and the alliance questions by link on a phone; the
therapist sees the combined chart with the clinic's expected band and the client not on
track, reviews it with the client on the shared screen, resolves the concern with a
repair and later sees that the alliance recovered; the supervisor sees the client off
track, the repair's follow-through and how well the therapist reads their clients.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from conftest import watch_for_problems
from measures.models import Concern, OutcomeAnswer
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_run
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory
from sessions import invitations
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}
PASSWORD = "correct horse battery"
REPAIR = "We named the strain about the pace and agreed to slow down."
# Every client of this clinic starts at 4 (inside the clinical range, near the cut-off)
# and improves: the course R.K. is judged against.
COURSE = (4, 5, 6, 6.5, 7, 7)


def history(client: Client, therapist: User, outcomes: tuple[float, ...], weeks: int) -> None:
    """Weekly sessions from `weeks` ago: the client's alliance 10, their outcome, and the
    therapist's own rating with a guess of the client's score."""
    start = timezone.now() - dt.timedelta(weeks=weeks)
    for week, outcome in enumerate(outcomes):
        session = SessionFactory(client=client, starts_at=start + dt.timedelta(weeks=week))
        RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, 10))
        RatingFactory(
            session=session,
            rater="therapist",
            submitted_by=therapist,
            guessed_client_score=9,
            **dict.fromkeys(DIMENSIONS, 9),
        )
        OutcomeAnswerFactory(session=session, answers=[outcome] * 4)


def answer_on_phone(
    browser: Any, live_server: Any, session: Session, *, outcome: int, alliance: int, rupture: str
) -> list[str]:
    _, token = invitations.invitation_create(session=session)
    phone = browser.new_context(viewport=PHONE).new_page()
    problems = watch_for_problems(phone)
    phone.goto(f"{live_server.url}/r/{token}/")
    assert phone.get_by_role("heading", name="About you").is_visible()
    for item in range(1, 5):
        phone.locator(f"label[for='id_outcome_{item}_{outcome}']").click()
    for dimension in DIMENSIONS:
        phone.locator(f"label[for='id_{dimension}_{alliance}']").click()
    phone.get_by_label(rupture, exact=True).check()
    if rupture != "No":
        phone.get_by_label("Not at all", exact=True).check()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.get_by_role("button", name="Send my answers").click()
    phone.get_by_role("heading", name="Thank you").wait_for()
    phone.context.close()
    return problems


def log_in(browser: Any, live_server: Any, username: str) -> tuple[Any, list[str]]:
    page = browser.new_context(viewport=DESK).new_page()
    problems = watch_for_problems(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/**", wait_until="load")
    return page, problems


def chart_data(page: Any) -> dict[str, Any]:
    return json.loads(page.locator("#alliance-chart-data").text_content())


@override_settings(ALLIANCE_OUTCOME_MIN_CLIENTS=3)
def test_outcome_and_alliance_from_the_phone_to_the_supervisor(
    live_server: Any, browser: Any, therapist: User, supervisor: User, client_record: Client
) -> None:
    for _ in range(3):
        history(ClientFactory(therapist=therapist), therapist, COURSE, weeks=8)
    history(client_record, therapist, COURSE[:5], weeks=7)
    sweep_run()  # the clinic's expected course, from its own clients

    # The client, on their phone: life has got worse, and the session went badly.
    today = SessionFactory(client=client_record, starts_at=timezone.now() - dt.timedelta(hours=2))
    phone_problems = answer_on_phone(
        browser, live_server, today, outcome=2, alliance=5, rupture="A lot"
    )
    answer = OutcomeAnswer.objects.get(session=today)
    assert (answer.answers, answer.track) == ([2, 2, 2, 2], "not_on_track")
    concern = Concern.objects.get(client=client_record)

    # The therapist: the client page says so, and the chart has the expected band.
    page, problems = log_in(browser, live_server, "tara")
    page.get_by_role("link", name="R.K.").first.click()
    page.wait_for_url("**/clients/**", wait_until="load")
    status = page.locator("#outcome-status")
    assert status.get_by_text("Not on track").is_visible()
    assert "since session 6" in status.inner_text()
    data = chart_data(page)["outcome"]
    assert data["score"][-1] == 2.0 and data["offTrack"][-1]
    assert data["expected"][-1] == 7.0 and data["lowest"][-1] == 5.75
    assert page.locator("#alliance-chart").evaluate("canvas => canvas.width") > 0

    # The concern: resolved with a repair.
    page.goto(f"{live_server.url}/concerns/{concern.pk}/")
    page.get_by_label("Repair note").fill(REPAIR)
    page.get_by_role("button", name="Resolve").click()
    page.get_by_text("Concern resolved; your repair note is in its history.").wait_for()
    assert page.get_by_text("Not yet recovered").first.is_visible()

    # The next session the alliance is back — the repair held — though life is still hard.
    later = SessionFactory(client=client_record, starts_at=timezone.now() - dt.timedelta(hours=1))
    phone_problems += answer_on_phone(
        browser, live_server, later, outcome=2, alliance=10, rupture="No"
    )
    page.reload()
    assert page.get_by_text(f"Recovered by session {later.number}").first.is_visible()

    # Review with the client, on the screen made for their eyes: their own two lines in
    # plain words, nothing clinical, no way out but the therapist's.
    page.goto(f"{live_server.url}/clients/{client_record.pk}/")
    page.get_by_role("link", name="Review with client").click()
    page.wait_for_url("**/review/**", wait_until="load")
    screen = page.locator("main").inner_text()
    assert "How life has been going, at your last answer: 2.0 on a scale from 0 to 10" in screen
    assert "Your last rating: 10.0 out of 10" in screen
    assert "Not on track" not in screen and "concern" not in screen.lower()
    assert page.get_by_role("navigation", name="Main").count() == 0
    review = json.loads(page.locator("#review-chart-data").text_content())
    assert [series["key"] for series in review["series"]] == ["alliance", "outcome"]
    assert page.locator("#review-chart").evaluate("canvas => canvas.width") > 0

    # The supervisor: the client off track, the repair that held, how well tara reads.
    boss, boss_problems = log_in(browser, live_server, "sue")
    boss.goto(f"{live_server.url}/dashboard/")
    row = boss.locator("table tbody tr", has_text=str(therapist)).first
    cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
    assert cells[1] == "1"  # not on track: R.K.
    assert cells[7].startswith("100%")  # repair follow-through: 1 of 1 recovered
    assert cells[8].startswith("1.0")  # guessed 9 where the client said 10
    boss.get_by_role("link", name=f"how well {therapist} reads their clients").click()
    boss.wait_for_url("**/reading/**", wait_until="load")
    assert boss.get_by_role("heading", level=1).inner_text().startswith("How well")
    assert problems == [] and phone_problems == [] and boss_problems == []
