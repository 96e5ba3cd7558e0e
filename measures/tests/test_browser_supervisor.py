"""The supervisor's twenty minutes, in real Chromium, on the demo data."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from measures.models import FlagEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_sorts_the_dashboard_drills_into_a_flagged_client_and_comments(
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

    # Sort by flags to review, most first (the second click reverses the first).
    page.get_by_role("link", name="Flags to review").click()
    page.get_by_role("link", name="Flags to review").click()
    page.wait_for_url("**sort=open_flags&dir=desc")
    counts = [
        int(cell)
        for cell in page.locator("table.dashboard tbody tr td:nth-child(6)").all_inner_texts()
    ]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0

    # Drill down: therapist → caseload → the first flagged client → one of their flags.
    page.locator("table.dashboard tbody tr th a").first.click()
    page.get_by_role("heading", name="caseload").wait_for()
    page.locator("table.caseload tbody tr th a").first.click()
    page.get_by_role("heading", name="Alliance over time").wait_for()
    assert page.get_by_text("Private notes").count() == 0
    page.locator("#flags-heading + ul a[href^='/flags/']").first.click()

    page.get_by_role("textbox", name="Comment").fill("Worth raising in supervision on Thursday.")
    page.get_by_role("button", name="Add comment").click()
    page.get_by_text("Worth raising in supervision on Thursday.").wait_for()
    event = FlagEvent.objects.get(action="commented")
    assert (event.actor.username, event.note) == (
        "supervisor",
        "Worth raising in supervision on Thursday.",
    )
    assert problems == []
