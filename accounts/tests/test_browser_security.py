"""In real Chromium: the token never leaves a link page, a clinic admin's first sign-in
sets up two-factor, and Django's debug pages render without CSP errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.tests.steps import PASSWORD, current_code
from clients.models import Client, User
from conftest import watch_for_problems
from sessions import invitations
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_link_page_sends_its_token_to_nothing_it_loads_or_links(
    live_server: Any, page: Any, client_record: Client
) -> None:
    _, token = invitations.invitation_create(session=SessionFactory(client=client_record))
    sent: list[tuple[str, str]] = []
    page.on(
        "request", lambda request: sent.append((request.url, request.headers.get("referer", "")))
    )
    page.goto(f"{live_server.url}/r/{token}/")
    page.get_by_role("button", name="Español").click()  # the form's language switch
    page.wait_for_load_state("load")
    loaded = [(url, referer) for url, referer in sent if "/static/" in url]
    assert loaded, "the page loads its stylesheets and scripts"
    assert all(referer == "" for _, referer in sent), sent
    assert all(token not in url for url, _ in sent if "/r/" not in url)


def test_a_clinic_admins_first_sign_in_sets_up_two_factor(
    live_server: Any, page: Any, clinic_admin: User
) -> None:
    problems = watch_for_problems(page, requests=False)
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    assert page.locator(".qr svg").is_visible()
    device = TOTPDevice.objects.get(user=clinic_admin, confirmed=False)
    page.get_by_role("textbox", name="Code").fill(current_code(device))
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]+", code) for code in codes)
    page.get_by_role("link", name="I have kept them").click()
    page.get_by_role("heading", name="Team dashboard").wait_for()
    assert problems == []


def test_djangos_debug_404_renders_without_csp_errors(
    live_server: Any, page: Any, settings: Any
) -> None:
    settings.DEBUG = True
    problems = watch_for_problems(page, requests=False)
    page.goto(f"{live_server.url}/no-such-page/")
    assert page.get_by_text("Page not found").first.is_visible()
    # The debug page's own stylesheet applied: its header has a coloured background.
    background = page.locator("#summary").evaluate("node => getComputedStyle(node).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    # The console reports the page's own 404 status; nothing may be refused by the policy.
    assert [problem for problem in problems if "Content Security Policy" in problem] == []
