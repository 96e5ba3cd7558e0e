"""The supervisor's twenty minutes, in real Chromium, on the demo data."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from measures.models import Concern, ConcernEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMENT = "Worth raising in supervision on Thursday."


def test_a_supervisor_sorts_the_dashboard_drills_into_a_concern_and_comments(
    live_server: Any, page: Any
) -> None:
    call_command("seed_demo", stdout=None)
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("supervisor")
    page.get_by_label("Password").fill("alliance-demo")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Team dashboard").click()
    page.get_by_role("heading", name="Team dashboard").wait_for()
    assert page.locator("table.dashboard tbody tr").count() == 3

    # Sort by concerns to review, most first (the second click reverses the first).
    page.get_by_role("link", name="Concerns to review").click()
    page.wait_for_url("**sort=open_concerns")
    page.get_by_role("link", name="Concerns to review").click()
    page.wait_for_url("**sort=open_concerns&dir=desc")
    counts = [
        int(cell)
        for cell in page.locator("table.dashboard tbody tr td:nth-child(7)").all_inner_texts()
    ]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0

    # Clients needing attention: one line per client with a concern waiting (at most 20),
    # each with a link to that concern.
    attention = page.locator("#attention-heading + ol > li")
    waiting = attention.count()
    assert waiting == min(sum(counts), 20) > 0
    clients = attention.locator("a[href^='/clients/']").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))"
    )
    assert len(clients) == len(set(clients)) == waiting
    assert attention.locator("a[href^='/concerns/']").count() == waiting

    # Drill down: therapist → caseload → the first client (a concern to review puts them
    # first) → their page → the concern waiting for review.
    page.locator("table.dashboard tbody tr th a").first.click()
    page.get_by_role("heading", name="caseload").wait_for()
    first = page.locator("table.caseload tbody tr").first
    concern_link = first.locator("a[href^='/concerns/']").get_attribute("href")
    assert concern_link
    first.locator("th a").click()
    # "Alliance over time", or "Alliance and outcome over time" for a client who answers both.
    page.locator("#chart-heading").wait_for()
    assert page.get_by_text("Private notes").count() == 0
    page.locator(f"#concerns-heading + ul a[href='{concern_link}']").click()
    page.wait_for_url(f"**{concern_link}")
    page.get_by_role("heading", name="What happened").wait_for()
    concern = Concern.objects.get(pk=int(concern_link.strip("/").split("/")[-1]))
    assert concern.needs_review

    # Read-only for the supervisor: no way to acknowledge, resolve or dismiss; a comment.
    for action in ("acknowledge", "resolve", "dismiss"):
        assert page.locator(f"form[action$='/{action}/']").count() == 0, action
    for button in ("Acknowledge", "Resolve", "Dismiss"):
        assert page.get_by_role("button", name=button, exact=True).count() == 0, button
    page.get_by_text("can acknowledge, resolve or dismiss this concern").wait_for()

    page.get_by_role("textbox", name="Comment").fill(COMMENT)
    page.get_by_role("button", name="Add comment").click()
    page.get_by_text(COMMENT).wait_for()
    event = ConcernEvent.objects.get(action="commented", note=COMMENT)
    assert (event.concern_id, event.actor.username) == (concern.pk, "supervisor")
    concern.refresh_from_db()
    assert concern.needs_review  # a comment moves nothing on
    assert problems == []
