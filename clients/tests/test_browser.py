"""The log-in journey in a real headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from clients.models import Client, User
from conftest import watch_for_problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_therapist_logs_in_and_sees_their_clients(
    live_server: Any, page: Any, therapist: User, client_record: Client, colleague_client: Client
) -> None:
    problems = watch_for_problems(page)
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("tara")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Caseload").is_visible()
    assert page.get_by_role("link", name="R.K.").is_visible()
    assert page.get_by_text("M.P.").count() == 0
    # Bootstrap's stylesheet is served from our origin and applied.
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    assert problems == []
