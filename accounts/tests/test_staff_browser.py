"""A clinic's people managed in the app, in real Chromium: a clinic admin invites a
therapist, who chooses a password and logs in, is linked to a supervisor, receives a moved
client, and is deactivated after handing the caseload back — without the Django admin."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from accounts.tests.steps import PASSWORD, authenticator_for, current_code
from clients.models import AuditAction, AuditEntry, Client, User
from conftest import watch_for_problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a river of quiet lanterns"


def log_in(page: Any, url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_clinic_admin_brings_in_a_therapist_and_lets_them_go(
    live_server: Any,
    browser: Any,
    clinic_admin: User,
    therapist: User,
    supervisor: User,
    client_record: Client,
    settings: Any,
) -> None:
    settings.ALLIANCE_BASE_URL = live_server.url
    admin = browser.new_page()
    problems = watch_for_problems(admin)

    # The admin signs in with a code and invites Nia from the staff pages.
    device = authenticator_for(clinic_admin)
    log_in(admin, live_server.url, "ada")
    admin.get_by_role("textbox", name="Code").fill(current_code(device))
    admin.get_by_role("button", name="Continue").click()
    admin.get_by_role("link", name="Staff").click()
    admin.get_by_role("link", name="Invite a colleague").click()
    admin.get_by_label("First name").fill("Nia")
    admin.get_by_label("Last name").fill("Okafor")
    admin.get_by_label("E-mail").fill("nia@example.org")
    admin.get_by_label("Username").fill("nia")
    admin.get_by_label("Therapist").check()
    admin.get_by_role("button", name="Send the invitation").click()
    admin.get_by_text("Invitation sent to nia@example.org.").wait_for()
    assert admin.get_by_text("has not chosen a password yet").is_visible()

    # Nia opens the link in the e-mail, chooses her password and logs in.
    [invitation] = mail.outbox
    link = re.search(r"https?://\S+/staff/welcome/\S+", invitation.body).group(0)
    nia = browser.new_page()
    problems += watch_for_problems(nia)
    nia.goto(link)
    nia.get_by_role("heading", name="Welcome to Alliance").wait_for()
    nia.get_by_role("textbox", name=re.compile(r"^New password\W*$")).fill(NEW_PASSWORD)
    nia.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    nia.get_by_role("button", name="Save the password").click()
    nia.get_by_role("heading", name="Password saved").wait_for()
    log_in(nia, live_server.url, "nia", NEW_PASSWORD)
    nia.get_by_role("heading", name="Caseload").wait_for()
    assert nia.get_by_role("link", name="R.K.").count() == 0

    # The admin links her to Sue, her supervisor.
    admin.reload()
    assert admin.get_by_text("has not chosen a password yet").count() == 0
    # One choice and its button: no asterisk, as if the page required a supervisor.
    assert admin.locator("label", has_text="Add a supervisor").inner_text() == "Add a supervisor"
    admin.get_by_label("Add a supervisor").select_option(label=str(supervisor))
    admin.get_by_role("button", name="Add").first.click()
    admin.get_by_text(f"{supervisor} now supervises Nia Okafor.").wait_for()

    # R.K. moves from Tara to Nia, confirmed first.
    admin.goto(f"{live_server.url}{client_record.get_absolute_url()}")
    admin.get_by_role("link", name="Move to another therapist").click()
    admin.get_by_label("Move to").select_option(label="Nia Okafor")
    admin.get_by_role("button", name="Continue").click()
    admin.get_by_role("heading", name="Move R.K. to Nia Okafor?").wait_for()
    admin.get_by_role("button", name="Move R.K. to Nia Okafor").click()
    admin.get_by_text("R.K. moved to Nia Okafor.").wait_for()
    nia.reload()
    assert nia.get_by_role("link", name="R.K.").is_visible()

    # Nia leaves: her caseload goes back to Tara, then she is deactivated.
    admin.get_by_role("link", name="Staff").click()
    admin.get_by_role("link", name="Nia Okafor").click()
    admin.get_by_role("link", name="Move their clients to another therapist").click()
    admin.get_by_label("Move to").select_option(label=str(therapist))
    admin.get_by_role("button", name="Continue").click()
    admin.get_by_role("cell", name="R.K.").wait_for()
    admin.get_by_role("button", name=f"Move 1 client to {therapist}").click()
    admin.get_by_text(f"1 client moved to {therapist}.").wait_for()
    admin.get_by_role("link", name="Deactivate Nia Okafor").click()
    admin.get_by_role("button", name="Deactivate Nia Okafor").click()
    admin.get_by_text("Nia Okafor is deactivated: they can no longer log in.").wait_for()

    nia.reload()
    assert "/accounts/login/" in nia.url
    member = User.objects.get(username="nia")
    client_record.refresh_from_db()
    assert (member.is_active, client_record.therapist) == (False, therapist)
    assert not member.supervised_by.exists()
    moves = AuditEntry.objects.filter(
        action=AuditAction.CHANGED, client_id=client_record.pk, fields=["therapist"]
    )
    assert moves.count() == 2 and {entry.actor for entry in moves} == {clinic_admin}
    assert problems == []
