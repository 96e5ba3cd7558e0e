"""The client's journey on a phone-sized screen in real Chromium, with and without JavaScript."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from clients.models import Client
from conftest import watch_for_problems
from measures.models import OutcomeAnswer, Rating
from measures.scoring import DIMENSIONS
from measures.tests.factories import (
    OutcomeAnswerFactory,
    RatingFactory,
)
from sessions import invitations
from sessions.invitations import hash_token
from sessions.models import RatingInvitation
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 360, "height": 740}


def answer_outcome_check(page: Any, score: int) -> None:
    """Every item of the outcome check at `score` (the buttons are labelled 0 to 10)."""
    for item in range(1, 5):
        page.locator(f"label[for='id_outcome_{item}_{score}']").click()


def answer_and_send(page: Any, *, rupture: str) -> None:
    answer_outcome_check(page, 6)
    for dimension in DIMENSIONS:
        page.locator(f"label[for='id_{dimension}_7']").click()
    page.get_by_label(rupture, exact=True).check()
    if rupture != "No":
        page.get_by_label("Partly", exact=True).check()
    page.get_by_role("button", name="Send my answers").click()


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_a_client_answers_on_a_phone_and_the_link_then_closes(
    live_server: Any, browser: Any, client_record: Client, javascript: bool
) -> None:
    session = SessionFactory(client=client_record)
    _, token = invitations.invitation_create(session=session)
    context = browser.new_context(viewport=PHONE, java_script_enabled=javascript)
    page = context.new_page()
    problems = watch_for_problems(page, requests=False)
    page.goto(f"{live_server.url}/r/{token}/")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    followup = page.get_by_text("Was it talked through?")
    # With JavaScript the follow-up waits for a reported rupture; without, it is always there.
    assert followup.is_visible() is (not javascript)
    page.get_by_role("button", name="Send my answers").click()  # nothing answered yet
    # The refusal comes back from the server: wait for that page, not the one being left.
    expect(page.get_by_text("Some answers are missing")).to_be_visible()
    assert not Rating.objects.exists()

    answer_and_send(page, rupture="A little")
    page.get_by_role("heading", name="Thank you").wait_for()
    rating = Rating.objects.get(session=session)
    assert (rating.trust, rating.rupture, rating.rupture_resolved) == (7, "a_little", "partly")
    assert OutcomeAnswer.objects.get(session=session).answers == [6, 6, 6, 6]

    assert problems == []

    # Back to the link at once: the answers are in. Once the while is past, it is closed.
    reopened = page.goto(f"{live_server.url}/r/{token}/")
    assert reopened.status == 200
    assert page.get_by_text("We already have your answers for this session").is_visible()
    RatingInvitation.objects.filter(token_hash=hash_token(token)).update(
        used_at=timezone.now() - dt.timedelta(minutes=settings.ALLIANCE_OWN_CHART_MINUTES + 1)
    )
    later = page.goto(f"{live_server.url}/r/{token}/")
    assert later.status == 404
    assert page.get_by_role("heading", name="This link can't be used").is_visible()
    context.close()


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two CSS `rgb(…)` colours."""

    def luminance(colour: str) -> float:
        channels = [int(part) / 255 for part in re.findall(r"\d+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_language_switch_on_the_form(
    live_server: Any, browser: Any, client_record: Client
) -> None:
    client_record.language = "es"
    client_record.save()
    _, token = invitations.invitation_create(session=SessionFactory(client=client_record))
    page = browser.new_context(viewport=PHONE).new_page()
    problems = watch_for_problems(page)
    page.goto(f"{live_server.url}/r/{token}/")
    assert page.get_by_role("heading", name="¿Cómo fue la sesión de hoy?").is_visible()
    # Readable on its grey bar: WCAG AA asks 4.5:1 for text this size.
    switch, bar = page.evaluate(
        "() => { const button = document.querySelector('.language-switch');"
        " return [getComputedStyle(button).color,"
        " getComputedStyle(button.closest('header')).backgroundColor]; }"
    )
    assert contrast(switch, bar) >= 4.5, (switch, bar)
    # Half the form answered, then the switch: the answers come along, nothing is stored.
    answer_outcome_check(page, 3)
    page.locator(f"label[for='id_{DIMENSIONS[0]}_8']").click()
    page.locator("#id_comment").fill("Gracias")
    page.get_by_role("button", name="English").click()
    page.get_by_role("heading", name="How was today's session?").wait_for()
    assert (
        page.locator("#id_outcome_1_3").is_checked()
        and page.locator("#id_outcome_4_3").is_checked()
    )
    assert page.locator(f"#id_{DIMENSIONS[0]}_8").is_checked()
    assert page.locator("#id_comment").input_value() == "Gracias"
    assert page.get_by_role("alert").count() == 0  # no "answers missing" on a switch
    assert not Rating.objects.exists()
    # And back: still there, in Spanish.
    page.get_by_role("button", name="Español").click()
    page.get_by_role("heading", name="¿Cómo fue la sesión de hoy?").wait_for()
    assert page.locator(f"#id_{DIMENSIONS[0]}_8").is_checked()
    assert problems == []


def test_after_answering_the_client_sees_their_own_chart_when_it_is_turned_on(
    live_server: Any, browser: Any, client_record: Client
) -> None:
    client_record.shows_own_chart = True
    client_record.save()
    earlier = SessionFactory(client=client_record, starts_at=timezone.now() - dt.timedelta(days=14))
    RatingFactory(session=earlier, rater="client", **dict.fromkeys(DIMENSIONS, 5))
    OutcomeAnswerFactory(session=earlier, answers=(4, 4, 4, 4))
    session = SessionFactory(client=client_record)
    _, token = invitations.invitation_create(session=session)
    page = browser.new_context(viewport=PHONE).new_page()
    problems = watch_for_problems(page, requests=False)  # a CSP refusal is a console error
    page.goto(f"{live_server.url}/r/{token}/")
    answer_and_send(page, rupture="No")

    page.get_by_role("heading", name="Your answers over time").wait_for()
    # The chart is drawn by deferred scripts, which have run once the page has loaded.
    page.wait_for_load_state("load")
    assert page.url.startswith(f"{live_server.url}/r/{token}/thanks/")
    points = page.evaluate(
        "Chart.getChart(document.getElementById('review-chart')).data.datasets"
        ".map((set) => set.data)"
    )
    assert points == [[5, 7], [4, 6]]
    assert page.get_by_text("Your last rating: 7.0 out of 10").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert client_record.label not in page.content()
    assert problems == []
