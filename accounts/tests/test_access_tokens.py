"""Personal access tokens on one's account page: made (shown once), listed, revoked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts import sessions, staff, tokens
from accounts.models import AccessToken
from clients.models import AuditAction, AuditEntry, User
from clients.tests.factories import ClinicAdminFactory

pytestmark = pytest.mark.django_db

ACCOUNT = reverse("account")
CREATE = reverse("token-create")


def test_anonymous_visitors_are_sent_to_log_in(client: Any) -> None:
    response = client.post(CREATE, {"name": "Tool"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not AccessToken.objects.exists()


def test_a_token_is_shown_once_and_only_its_hash_is_kept(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    response = client.post(CREATE, {"name": "Practice dashboard"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    raw = re.search(r'id="new-token" value="(alliance_[\w-]+)"', page).group(1)
    assert raw not in str(dict(client.session))  # not kept in the session either
    token = AccessToken.objects.get()
    assert (token.user, token.name, token.token_hash) == (
        therapist,
        "Practice dashboard",
        tokens.hash_token(raw),
    )
    assert raw not in str(AccessToken.objects.values_list())  # the token itself is nowhere
    assert tokens.token_user(raw) == therapist
    again = client.get(ACCOUNT).content.decode()
    assert raw not in again and "Practice dashboard" in again and token.prefix in again
    entry = AuditEntry.objects.get(model="accounts.accesstoken")
    assert (entry.action, entry.actor) == (AuditAction.CREATED, therapist)


@pytest.mark.parametrize("name", ["", "   ", "x" * 61, "two\nlines", "\u200b", "a\u202eb"])
def test_a_bad_name_makes_no_token(client: Any, therapist: User, name: str) -> None:
    client.force_login(therapist)
    response = client.post(CREATE, {"name": name}, follow=True)
    assert "none was made" in response.content.decode()
    assert not AccessToken.objects.exists()


def test_making_a_token_asks_for_the_password_if_it_was_given_long_ago(
    client: Any, therapist: User
) -> None:
    client.force_login(therapist)
    session = client.session
    session[sessions.PASSWORD_GIVEN] = 0
    session.save()
    response = client.post(CREATE, {"name": "Tool"})
    assert response["Location"].startswith(reverse("reauthenticate"))
    assert not AccessToken.objects.exists()


def test_its_owner_revokes_a_token_and_nobody_else_can(
    client: Any, therapist: User, colleague: User
) -> None:
    token, raw = tokens.token_create(user=therapist, name="Tool")
    client.force_login(colleague)
    assert client.post(reverse("token-revoke", args=[token.pk])).status_code == 404
    assert tokens.token_user(raw) == therapist
    client.force_login(therapist)
    response = client.post(reverse("token-revoke", args=[token.pk]), follow=True)
    assert "revoked: it no longer works" in response.content.decode()
    assert tokens.token_user(raw) is None
    token.refresh_from_db()
    assert token.revoked_at is not None  # kept, for the trail
    assert client.get(reverse("token-revoke", args=[token.pk])).status_code == 405


def test_ten_live_tokens_at_most(client: Any, therapist: User) -> None:
    for number in range(tokens.MAX_LIVE_TOKENS):
        tokens.token_create(user=therapist, name=f"Tool {number}")
    client.force_login(therapist)
    response = client.post(CREATE, {"name": "One more"}, follow=True)
    assert "revoke one first" in response.content.decode()
    assert AccessToken.objects.count() == tokens.MAX_LIVE_TOKENS


def test_signing_out_everywhere_revokes_the_tokens(therapist: User) -> None:
    from accounts.services import end_sessions

    _token, raw = tokens.token_create(user=therapist, name="Tool")
    end_sessions(therapist)
    assert tokens.token_user(raw) is None
    assert AuditEntry.objects.filter(
        model="accounts.accesstoken", action=AuditAction.ENDED
    ).exists()


def test_the_make_a_token_address_opened_again_goes_to_the_list(
    client: Any, therapist: User
) -> None:
    client.force_login(therapist)
    response = client.get(CREATE)
    assert response.status_code == 302 and response["Location"] == "/accounts/#api-tokens"
    assert not AccessToken.objects.exists()


def _api_reads(raw: str) -> tuple[int, set[int]]:
    answer = Client().get("/api/v1/clients/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    shown = {c["id"] for c in answer.json()["results"]} if answer.status_code == 200 else set()
    return answer.status_code, shown


def test_a_token_made_with_the_password_alone_gains_no_clinic_admin_reach(
    therapist: User, clinic_admin: User, colleague_client: Any, client_record: Any
) -> None:
    """Clinic admins read the whole clinic only after a second factor: a therapist's token,
    made without one, is revoked when they are made a clinic admin, or it (and whoever had
    their password) would read every client of the clinic, never having given a code."""
    _token, raw = tokens.token_create(user=therapist, name="made with the password alone")
    assert _api_reads(raw) == (200, {client_record.pk})
    staff.staff_roles_set(
        actor=clinic_admin,
        member=therapist,
        is_therapist=True,
        is_supervisor=False,
        is_clinic_admin=True,
    )
    assert _api_reads(raw) == (401, set())
    revoked = AuditEntry.objects.get(model="accounts.accesstoken", action=AuditAction.ENDED)
    assert revoked.actor == clinic_admin


def test_a_role_that_asks_no_second_factor_keeps_the_tokens(
    therapist: User, clinic_admin: User, client_record: Any
) -> None:
    _token, raw = tokens.token_create(user=therapist, name="kept")
    staff.staff_roles_set(
        actor=clinic_admin,
        member=therapist,
        is_therapist=True,
        is_supervisor=True,
        is_clinic_admin=False,
    )
    assert _api_reads(raw) == (200, {client_record.pk})


def test_made_a_superuser_in_the_admin_the_tokens_are_revoked(therapist: User) -> None:
    root = User.objects.create_superuser(username="root", password="x", email="root@x.example")
    _token, raw = tokens.token_create(user=therapist, name="made with the password alone")
    staff.staff_change(actor=root, member=therapist, data={"is_superuser": True})
    assert _api_reads(raw) == (401, set())


def test_moved_to_another_clinic_the_tokens_are_revoked(
    clinic_admin: User, client_record: Any, other_clinic: Any, outsider_client: Any
) -> None:
    """A token serves the tools of the clinic its owner was in: moved on (here, a clinic
    admin, who stays one), they would read the new clinic's records into the old clinic's
    tools. As when someone leaves a clinic by deactivation, the tokens end, in the old
    clinic's trail."""
    root = User.objects.create_superuser(username="root", password="x", email="root@x.example")
    leaver = ClinicAdminFactory(clinic=clinic_admin.clinic)
    _token, raw = tokens.token_create(user=leaver, name="the clinic's nightly report")
    assert _api_reads(raw) == (200, {client_record.pk})
    staff.staff_change(actor=root, member=leaver, data={"clinic": other_clinic})
    leaver.refresh_from_db()
    assert leaver.clinic_id == other_clinic.pk and leaver.is_clinic_admin
    assert _api_reads(raw) == (401, set())
    revoked = AuditEntry.objects.get(model="accounts.accesstoken", action=AuditAction.ENDED)
    assert (revoked.actor, revoked.clinic_id) == (root, clinic_admin.clinic_id)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_two_tokens_made_at_once_do_not_pass_the_limit_together(therapist: User) -> None:
    """A double click on 'Make a token' with nine live: each counted nine, both were made."""
    from measures.tests.racing import meanwhile

    for number in range(tokens.MAX_LIVE_TOKENS - 1):
        tokens.token_create(user=therapist, name=f"Tool {number}")
    with (
        meanwhile(
            lambda: tokens.token_create(user=User.objects.get(pk=therapist.pk), name="First click"),
            lambda sql: sql.startswith("INSERT") and "accounts_accesstoken" in sql,
        ),
        pytest.raises(ValidationError, match="revoke one first"),
    ):
        tokens.token_create(user=therapist, name="Second click")
    assert AccessToken.objects.count() == tokens.MAX_LIVE_TOKENS
