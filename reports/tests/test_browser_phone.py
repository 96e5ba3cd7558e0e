"""The staff pages on a 360 px phone: nothing makes the page itself wider than the screen
(a wide table scrolls inside its own box)."""

from __future__ import annotations

from typing import Any

import pytest

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from conftest import watch_for_problems
from measures.tests.factories import ConcernEventFactory, concern_with_signal
from reports.tests.test_browser_client_chart import open_chart, rated_sessions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


def test_the_caseload_fits_a_phone(
    live_server: Any, browser: Any, therapist: User, client_record: Client
) -> None:
    rated_sessions(client_record, [10, 6, 6, 10, 10], [9, 9, None, 8, 8])
    concern_with_signal(ClientFactory(therapist=therapist, label="L.B."))
    ClientFactory(therapist=therapist, label="No sessions yet")  # a "none" concern cell
    page = browser.new_context(viewport=PHONE).new_page()
    problems = watch_for_problems(page)
    open_chart(page, live_server, client_record)
    for path in ("/", client_record.get_absolute_url()):
        page.goto(f"{live_server.url}{path}", wait_until="load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    # The table still scrolls sideways inside its box.
    assert page.goto(f"{live_server.url}/", wait_until="load").ok
    assert page.evaluate(
        "(() => { const box = document.querySelector('.table-responsive');"
        " return box.scrollWidth > box.clientWidth; })()"
    )
    assert problems == []


LONG_ADDRESS = "https://clinic.example/handouts?id=" + "7F3A9C" * 30


def test_a_long_address_typed_into_a_note_wraps_on_a_phone(
    live_server: Any, browser: Any, therapist: User, client_record: Client
) -> None:
    """Notes and comments are typed by people, who paste links: one long word must not
    push the page wider than the screen."""
    concern = concern_with_signal(client_record)
    ConcernEventFactory(concern=concern, actor=therapist, note=f"Handout: {LONG_ADDRESS}")
    page = browser.new_context(viewport=PHONE).new_page()
    problems = watch_for_problems(page)
    open_chart(page, live_server, client_record)  # signs the therapist in
    page.goto(f"{live_server.url}{concern.get_absolute_url()}", wait_until="load")
    assert page.get_by_text(LONG_ADDRESS, exact=False).is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert problems == []
