"""A concern's life in real Chromium: the client rates a session low on their phone, the
therapist finds one concern in the queue, reads its story, acknowledges it and resolves it
with a repair note — with no console errors and no CSP violations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clients.models import Client, User
from conftest import watch_for_problems
from measures.models import Concern
from measures.scoring import DIMENSIONS
from measures.tests.factories import RatingFactory
from measures.tests.test_browser_client_rating import answer_outcome_check
from sessions import invitations
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 360, "height": 740}
REPAIR = "We talked about the tension over homework; agreed a slower pace."


def test_a_low_rating_by_link_opens_one_concern_the_therapist_resolves(
    live_server: Any, browser: Any, therapist: User, client_record: Client
) -> None:
    start = timezone.now() - dt.timedelta(weeks=6)
    for week in range(5):
        RatingFactory(
            session=SessionFactory(
                client=client_record, starts_at=start + dt.timedelta(weeks=week)
            ),
            **dict.fromkeys(DIMENSIONS, 10),
        )
    session = SessionFactory(client=client_record, starts_at=timezone.now() - dt.timedelta(hours=3))
    _, token = invitations.invitation_create(session=session)

    # The client, on their phone: an honest low score and a rupture not talked through.
    phone = browser.new_context(viewport=PHONE).new_page()
    client_problems = watch_for_problems(phone)
    phone.goto(f"{live_server.url}/r/{token}/")
    answer_outcome_check(phone, 6)
    for dimension in DIMENSIONS:
        phone.locator(f"label[for='id_{dimension}_5']").click()
    phone.get_by_label("A lot", exact=True).check()
    phone.get_by_label("Not at all", exact=True).check()
    phone.get_by_role("button", name="Send my answers").click()
    phone.get_by_role("heading", name="Thank you").wait_for()
    concern = Concern.objects.get(client=client_record)  # evaluated on commit, grouped
    assert (concern.status, concern.severity) == ("open", "high")
    assert concern.signals.count() >= 3  # the drop, the rupture, the cut-off: one concern

    # The therapist: the caseload puts the client first, with the concern.
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    problems = watch_for_problems(page)
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("tara")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    first_row = page.locator("table.caseload tbody tr").first
    assert "R.K." in first_row.inner_text() and "High" in first_row.inner_text()

    page.get_by_role("link", name="Review queue").click()
    page.wait_for_url("**/review/", wait_until="load")
    rows = page.locator("table.review-queue tbody tr")
    rows.first.wait_for()  # count() does not wait; a loaded machine may still be drawing
    assert rows.count() == 1
    story = rows.first.inner_text()
    assert "Alliance fell from 10.0 to 5.0 at session 6" in story
    assert "the client reported a rupture at session 6 that was not fully talked through" in story
    assert "a_lot" not in story and "not_at_all" not in story

    page.get_by_role("link", name="Review the concern for R.K.").click()
    page.get_by_role("heading", name="What happened").wait_for()
    assert page.get_by_text("Rupture not fully talked through").first.is_visible()
    assert page.get_by_text("rupture: a lot; talked through: not at all").is_visible()
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("Concern acknowledged.").wait_for()
    assert Concern.objects.get(pk=concern.pk).status == "acknowledged"

    page.get_by_label("Repair note").fill(REPAIR)
    page.get_by_role("button", name="Resolve").click()
    page.get_by_text("Concern resolved; your repair note is in its history.").wait_for()
    concern.refresh_from_db()
    assert (concern.status, concern.note, concern.closed_by) == ("resolved", REPAIR, therapist)
    assert page.get_by_text(REPAIR).is_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
    page.get_by_text("No concerns to review.").wait_for()
    assert problems == [] and client_problems == []
