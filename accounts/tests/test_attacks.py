"""Regression tests for what an attacker tried against the first version of this app's
sign-in and admin hardening (each test names the attack)."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.test import Client as Browser
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.tests.steps import authenticator_for, log_in
from clients.models import User
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

ACTIONS = ("remove_two_factor", "unlock_sign_in", "send_password_links")


@pytest.mark.parametrize("who", ["supervisor", "therapist"])
@pytest.mark.parametrize("action", ACTIONS)
def test_read_only_staff_cannot_run_the_account_actions(
    client: Any, therapist: User, supervisor: User, who: str, action: str, request: Any
) -> None:
    actor = request.getfixturevalue(who)
    actor.is_staff = True
    actor.save()
    therapist.email = "tara@clinic.example"
    therapist.save()
    authenticator_for(therapist)
    for n in range(5):
        log_in(Browser(), "tara", f"guess-{n}")
    client.force_login(actor)
    changelist = reverse("admin:clients_user_changelist")
    assert action.encode() not in client.get(changelist).content
    client.post(changelist, {"action": action, "_selected_action": [therapist.pk]})
    assert TOTPDevice.objects.filter(user=therapist).exists()
    assert AccessAttempt.objects.filter(username="tara").exists()
    assert mail.outbox == []


def test_a_clinic_admin_cannot_remove_their_own_second_factor_in_the_admin(
    client: Any, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    client.post(
        reverse("admin:clients_user_changelist"),
        {"action": "remove_two_factor", "_selected_action": [clinic_admin.pk]},
    )
    assert TOTPDevice.objects.filter(user=clinic_admin, confirmed=True).exists()


def test_nobody_changes_an_address_in_the_admin_that_their_password_links_go_to(
    client: Any, clinic_admin: User, therapist: User, clinic: Any
) -> None:
    """A stolen admin session must not become a permanent takeover via a reset link."""
    root = User.objects.create_superuser(username="root", password="x", email="root@x.example")
    for actor, target in (
        (clinic_admin, clinic_admin),
        (clinic_admin, therapist),
        (root, therapist),
    ):
        browser = Browser()
        browser.force_login(actor)
        page = browser.get(reverse("admin:clients_user_change", args=[target.pk]))
        assert "email" not in page.context["adminform"].form.fields, (actor, target)
    invited = User.objects.create(username="nina", clinic=clinic, is_therapist=True)
    invited.set_unusable_password()
    invited.save()
    client.force_login(clinic_admin)
    page = client.get(reverse("admin:clients_user_change", args=[invited.pk]))
    assert "email" in page.context["adminform"].form.fields  # a mistyped invitation is fixed


def test_permissions_posted_in_the_admin_grant_nothing(
    client: Any, clinic_admin: User, clinic: Any
) -> None:
    """A superuser's grant of a Django permission (here: reading every clinic's sign-in
    lock-outs) would be saved beside the services and the audit trail; nothing in the app
    needs one, so the form offers none and a posted one is ignored."""
    root = User.objects.create_superuser(username="root", password="x", email="root@x.example")
    client.force_login(root)
    permission = Permission.objects.get(codename="view_accessattempt")
    group = Group.objects.create(name="Sign-in readers")
    group.permissions.add(permission)
    url = reverse("admin:clients_user_change", args=[clinic_admin.pk])
    assert b'name="user_permissions"' not in client.get(url).content
    response = client.post(
        url,
        {
            "username": clinic_admin.username,
            "first_name": clinic_admin.first_name,
            "last_name": clinic_admin.last_name,
            "clinic": clinic.pk,
            "is_clinic_admin": "on",
            "is_active": "on",
            "is_staff": "on",
            "user_permissions": [permission.pk],
            "groups": [group.pk],
        },
    )
    assert response.status_code == 302
    assert not clinic_admin.user_permissions.exists() and not clinic_admin.groups.exists()


def test_a_django_permission_granted_before_opens_no_sign_in_records(
    client: Any, clinic_admin: User
) -> None:
    """The sign-in records are every clinic's: superusers only, whatever was granted."""
    clinic_admin.is_staff = True
    clinic_admin.save()
    clinic_admin.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="axes", codename__startswith="view_")
    )
    AccessAttempt.objects.create(username="otto", ip_address="203.0.113.9", failures_since_start=1)
    client.force_login(clinic_admin)
    for name in ("accessattempt", "accesslog", "accessfailurelog"):
        assert client.get(reverse(f"admin:axes_{name}_changelist")).status_code == 403, name
    assert b"axes" not in client.get(reverse("admin:index")).content


def test_the_old_password_on_the_change_forms_counts_towards_the_lock(
    client: Any, therapist: User, settings: Any
) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    client.force_login(therapist)
    form = {"new_password1": "Quiet-river-4242", "new_password2": "Quiet-river-4242"}
    statuses = [
        client.post(reverse("password_change"), {**form, "old_password": f"g{n}"}).status_code
        for n in range(6)
    ]
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429, 429]
    right = client.post(
        reverse("password_change"), {**form, "old_password": "correct horse battery"}
    )
    assert right.status_code == 429
    therapist.refresh_from_db()
    assert therapist.check_password("correct horse battery")
    assert client.get("/admin/password_change/")["Location"] == reverse("password_change")


@pytest.mark.parametrize(
    "query",
    [
        "starts_at__year=99999999999999",
        "starts_at__year=2025&starts_at__month=99999999999999999999",
        "starts_at__year=2025&starts_at__month=1&starts_at__day=99999999999",
        "starts_at__year=٢٠٢٥",
        "starts_at__year=0",
    ],
)
def test_impossible_date_filters_in_the_admin_are_a_clean_400(
    client: Any, clinic_admin: User, client_record: Any, query: str
) -> None:
    SessionFactory(client=client_record)
    client.force_login(clinic_admin)
    response = client.get(f"/admin/therapy_sessions/session/?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("selected", [["x"], ["1,2"], [""], ["٣"]])
def test_a_hand_made_selection_for_an_admin_action_is_a_clean_400(
    client: Any, clinic_admin: User, therapist: User, selected: list[str]
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_user_changelist"),
        {"action": "unlock_sign_in", "_selected_action": selected},
    )
    assert response.status_code == 400


def test_a_record_id_in_other_digits_is_no_record(
    client: Any, clinic_admin: User, client_record: Any
) -> None:
    client.force_login(clinic_admin)
    other_digits = str(client_record.pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    response = client.get(f"/admin/clients/client/{other_digits}/change/")
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_a_refusal_carries_every_security_header(client: Any) -> None:
    response = client.get("/r/abcdefgh/?x=%00")
    assert response.status_code == 400
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Frame-Options"] == "DENY"
    assert "script-src 'self';" in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]


def test_quotes_in_an_address_do_not_end_its_redaction(caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    server = logging.getLogger("django.server")
    server.info('"GET %s HTTP/1.1" 200 1', "/admin/clients/client/?q=O'APOSLEAK1")
    server.info('"GET %s HTTP/1.1" 200 1', '/?q=a"QUOTELEAK2')
    server.info('"GET %s HTTP/1.1" 302 0', "/accounts/password/reset/MQ/abc'LEAK9/")
    for leak in ("APOSLEAK1", "QUOTELEAK2", "LEAK9"):
        assert leak not in caplog.text
    assert '?[redacted] HTTP/1.1"' in caplog.text


def test_a_reset_link_follows_the_base_url_not_the_host_header(
    client: Any, therapist: User, settings: Any
) -> None:
    settings.ALLIANCE_BASE_URL = "https://alliance.clinic.example"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "alliance.clinic.example"]
    therapist.email = "tara@clinic.example"
    therapist.save()
    client.post(
        reverse("password_reset"), {"email": "tara@clinic.example"}, HTTP_HOST="127.0.0.1:6666"
    )
    assert "https://alliance.clinic.example/accounts/password/reset/" in mail.outbox[0].body
    assert "6666" not in mail.outbox[0].body


def test_the_reset_form_cannot_flood_an_inbox(client: Any, therapist: User) -> None:
    therapist.email = "tara@clinic.example"
    therapist.save()
    answers = {
        client.post(reverse("password_reset"), {"email": "Tara@clinic.example"})["Location"]
        for _ in range(10)
    }
    assert answers == {reverse("password_reset_done")}  # the same answer every time
    assert len(mail.outbox) == 3


def test_spellings_of_one_address_share_its_three_reset_mails(
    postgresql: None, client: Any, therapist: User
) -> None:
    """PostgreSQL finds the account by "teſſ@…" ("ſ", the long s, is an "S" upper-cased),
    which no lower-casing of what was typed folds into "tess@…": counted as typed, each
    of the four spellings had three e-mails of its own, all to one inbox."""
    therapist.email = "tess@clinic.example"
    therapist.save()
    for first, second in itertools.product("sſ", repeat=2):
        for _ in range(3):
            client.post(reverse("password_reset"), {"email": f"te{first}{second}@clinic.example"})
    assert [message.to for message in mail.outbox] == [["tess@clinic.example"]] * 3


def test_django_groups_have_no_admin_screen(client: Any) -> None:
    """A group gives permissions nobody is given: its screen would make records that
    change nothing, so it is not in the admin, for a superuser either."""
    root = User.objects.create_superuser(username="root", password="x", email="root@x.example")
    client.force_login(root)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get("/admin/auth/group/").status_code == 404
    assert b"/admin/auth/" not in client.get(reverse("admin:index")).content
