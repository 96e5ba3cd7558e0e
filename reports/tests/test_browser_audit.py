"""The audit trail in real Chromium: a supervisor reads and exports a client's record, and
the clinic admin finds both on the audit page."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.tests.steps import PASSWORD, authenticator_for, current_code
from clients.models import AuditEntry, Client, User
from conftest import watch_for_problems
from measures.tests.factories import RatingFactory
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_clinic_admin_finds_that_a_supervisor_opened_and_exported_a_client(
    live_server: Any, page: Any, supervisor: User, clinic_admin: User, client_record: Client
) -> None:
    RatingFactory(session=SessionFactory(client=client_record))
    problems = watch_for_problems(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The supervisor opens the client's page and downloads their ratings.
    log_in(page, live_server.url, "sue")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/clients/{client_record.pk}/")
    page.get_by_role("heading", name="R.K.").wait_for()
    assert page.get_by_role("link", name="Audit of this client").count() == 0
    with page.expect_download() as download:
        page.get_by_role("link", name="Export ratings (CSV)").click()
    assert download.value.suggested_filename == "alliance-ratings-rk.csv"
    page.get_by_role("button", name="Log out").click()

    # The clinic admin signs in with a code, opens the audit trail and picks the supervisor.
    device = authenticator_for(clinic_admin)
    log_in(page, live_server.url, "ada")
    page.get_by_role("heading", name="Enter your code").wait_for()
    page.get_by_role("textbox", name="Code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_role("heading", name="Audit trail").wait_for()
    page.get_by_label("Who").select_option(label=str(supervisor))
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**user={supervisor.pk}**")

    rows = page.locator("table.audit-trail tbody tr")
    assert rows.count() == 2
    texts = rows.all_inner_texts()
    # Named as the filter named them (not "sue", whom the filter did not list by that name).
    who = str(supervisor)
    assert who in texts[0] and "Exported" in texts[0] and "ratings CSV" in texts[0]
    assert who in texts[1] and "Viewed" in texts[1] and "client page" in texts[1]
    assert all("R.K." in text and "127.0.0.1" in text for text in texts)
    assert AuditEntry.objects.filter(actor=supervisor).count() == 2

    # From the client's own page, the same two, through "Audit of this client".
    rows.first.get_by_role("link", name="R.K.").click()
    page.get_by_role("link", name="Audit of this client").click()
    page.wait_for_url(f"**client={client_record.pk}")
    texts = page.locator("table.audit-trail tbody tr").all_inner_texts()
    # The admin's own visit to the page just now is there too, newest first.
    assert [text.split("\t")[1] for text in texts] == [str(clinic_admin), who, who]
    assert problems == []
