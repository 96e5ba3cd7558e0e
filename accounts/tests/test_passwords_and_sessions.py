"""Passwords are chosen only by their holder; sessions end when left idle."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.core import mail
from django.test import Client as Browser
from django.urls import reverse

from accounts import staff
from accounts.tests.steps import PASSWORD, log_in, signed_in_as
from accounts.tokens import token_create
from clients.models import AuditAction, AuditEntry, User
from measures.tests.racing import is_active_written, meanwhile

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Quiet-river-4242"


def _link(message: Any) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", message.body).group(1)


def test_a_reset_gives_the_same_answer_whether_or_not_the_address_exists(
    client: Any, therapist: User
) -> None:
    therapist.email = "tara@clinic.example"
    therapist.save()
    known = client.post(reverse("password_reset"), {"email": "tara@clinic.example"})
    unknown = client.post(reverse("password_reset"), {"email": "nobody@clinic.example"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["tara@clinic.example"]
    assert "R.K." not in mail.outbox[0].body


def test_the_e_mailed_link_sets_a_new_password_once(client: Any, therapist: User) -> None:
    therapist.email = "tara@clinic.example"
    therapist.save()
    client.post(reverse("password_reset"), {"email": "tara@clinic.example"})
    link = _link(mail.outbox[0])
    form = client.get(link, follow=True)
    assert form.status_code == 200 and b"Choose a new password" in form.content
    saved = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert saved["Location"] == reverse("password_reset_complete")
    assert log_in(Browser(), "tara", NEW_PASSWORD).status_code == 302
    used = Browser().get(link, follow=True)
    assert b"This link no longer works" in used.content


def api_answers(raw: str) -> int:
    return Browser().get("/api/v1/clients/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code


def test_a_password_reset_revokes_the_api_tokens_made_before_it(
    client: Any, therapist: User
) -> None:
    """Whoever had the old password could have made one."""
    therapist.email = "tara@clinic.example"
    therapist.save()
    _token, raw = token_create(user=therapist, name="made with the old password")
    assert api_answers(raw) == 200
    client.post(reverse("password_reset"), {"email": "tara@clinic.example"})
    form = client.get(_link(mail.outbox[0]), follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert api_answers(raw) == 401
    assert "Your API tokens made before this password were revoked" in done.content.decode()
    entry = AuditEntry.objects.get(action=AuditAction.ENDED, model="accounts.accesstoken")
    assert entry.actor_id == therapist.pk


def test_changing_ones_password_revokes_the_api_tokens_made_before_it(
    client: Any, therapist: User
) -> None:
    _token, raw = token_create(user=therapist, name="made with the old password")
    client.force_login(therapist)
    done = client.post(
        reverse("password_change"),
        {
            "old_password": "correct horse battery",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        follow=True,
    )
    assert done.redirect_chain[-1][0] == reverse("password_change_done")
    assert api_answers(raw) == 401
    assert "Your API tokens made before this password were revoked" in done.content.decode()
    # A token made with the new password works.
    assert api_answers(token_create(user=therapist, name="made after")[1]) == 200


def test_a_refused_new_password_revokes_nothing(client: Any, therapist: User) -> None:
    _token, raw = token_create(user=therapist, name="kept")
    client.force_login(therapist)
    form = {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert client.post(reverse("password_change"), form).status_code == 200
    assert api_answers(raw) == 200


def test_a_clinic_admin_sends_a_colleague_a_link_but_cannot_set_the_password(
    client: Any, therapist: User, clinic_admin: User
) -> None:
    therapist.email = "tara@clinic.example"
    therapist.save()
    client.force_login(clinic_admin)
    password_page = f"/admin/clients/user/{therapist.pk}/password/"
    assert b'name="password1"' not in client.get(password_page, follow=True).content
    client.post(password_page, {"password1": "Taken-over-123", "password2": "Taken-over-123"})
    therapist.refresh_from_db()
    assert therapist.check_password("correct horse battery")
    change = client.get(reverse("admin:clients_user_change", args=[therapist.pk]))
    assert b"password/" not in change.content and b'name="email"' not in change.content
    client.post(
        reverse("admin:clients_user_changelist"),
        {"action": "send_password_links", "_selected_action": [therapist.pk]},
    )
    assert mail.outbox[-1].to == ["tara@clinic.example"]
    assert (
        "Staff" in mail.outbox[-1].body
        and "asked Alliance to send you this link" in mail.outbox[-1].body
    )


def _choose_with(client: Any, link: str, password: str = NEW_PASSWORD) -> Any:
    """Open a reset link and choose `password` on the page it leads to (a link that works
    redirects to a page without the token; one that does not stays where it is)."""
    form = client.get(link, follow=True)
    page = form.redirect_chain[-1][0] if form.redirect_chain else link
    return client.post(page, {"new_password1": password, "new_password2": password})


def test_a_reset_link_from_before_a_deactivation_chooses_no_password(
    client: Any, therapist: User, clinic_admin: User
) -> None:
    """A leaver's links end with their access, as their invitation does: a reset link
    mailed the day before must not choose the password that works again the day they
    are reactivated."""
    therapist.email = "tara@clinic.example"
    therapist.save()
    client.post(reverse("password_reset"), {"email": "tara@clinic.example"})
    link = _link(mail.outbox[0])
    staff.staff_deactivate(actor=clinic_admin, member=therapist)
    _choose_with(client, link)
    staff.staff_reactivate(actor=clinic_admin, member=User.objects.get(pk=therapist.pk))
    assert log_in(Browser(), "tara", NEW_PASSWORD).status_code != 302
    therapist.refresh_from_db()
    assert therapist.check_password(PASSWORD)


def test_a_reset_link_from_before_a_deactivation_stays_dead_after_the_reactivation(
    client: Any, therapist: User, clinic_admin: User
) -> None:
    therapist.email = "tara@clinic.example"
    therapist.save()
    client.post(reverse("password_reset"), {"email": "tara@clinic.example"})
    link = _link(mail.outbox[0])
    staff.staff_deactivate(actor=clinic_admin, member=therapist)
    staff.staff_reactivate(actor=clinic_admin, member=User.objects.get(pk=therapist.pk))
    _choose_with(client, link)
    therapist.refresh_from_db()
    assert therapist.check_password(PASSWORD)
    # A link asked for since works: the account is theirs again.
    client.post(reverse("password_reset"), {"email": "tara@clinic.example"})
    _choose_with(client, _link(mail.outbox[-1]))
    therapist.refresh_from_db()
    assert therapist.check_password(NEW_PASSWORD)


def test_no_link_is_sent_from_the_admin_to_a_deactivated_colleague(
    client: Any, therapist: User, clinic_admin: User
) -> None:
    therapist.email = "tara@clinic.example"
    therapist.save()
    staff.staff_deactivate(actor=clinic_admin, member=therapist)
    client.force_login(clinic_admin)
    answer = client.post(
        reverse("admin:clients_user_changelist"),
        {"action": "send_password_links", "_selected_action": [therapist.pk]},
        follow=True,
    )
    assert mail.outbox == []
    assert "is deactivated: reactivate them first" in answer.content.decode()


def test_a_new_colleague_is_created_without_a_password_and_sent_a_link(
    client: Any, clinic_admin: User, clinic: Any
) -> None:
    client.force_login(clinic_admin)
    add = reverse("admin:clients_user_add")
    page = client.get(add)
    assert b'name="password1"' not in page.content
    response = client.post(
        add,
        {
            "username": "nina",
            "first_name": "Nina",
            "last_name": "Okafor",
            "email": "nina@clinic.example",
            "clinic": clinic.pk,
            "is_therapist": "on",
            "password1": "Chosen-by-admin-1",
            "password2": "Chosen-by-admin-1",
        },
    )
    assert response.status_code == 302
    nina = User.objects.get(username="nina")
    assert not nina.has_usable_password() and nina.clinic == clinic and nina.is_therapist
    assert mail.outbox[-1].to == ["nina@clinic.example"]
    link = _link(mail.outbox[-1])
    form = Browser().get(link, follow=True)
    assert b"Choose a new password" in form.content


def test_a_clinic_admin_cannot_redirect_a_colleagues_links_to_themselves(
    client: Any, therapist: User, clinic_admin: User
) -> None:
    therapist.email = "tara@clinic.example"
    therapist.save()
    client.force_login(clinic_admin)
    change = reverse("admin:clients_user_change", args=[therapist.pk])
    client.post(
        change,
        {
            "username": "tara",
            "first_name": "Tara",
            "last_name": "T",
            "email": "ada@attacker.example",
            "clinic": therapist.clinic_id,
            "is_therapist": "on",
            "is_active": "on",
        },
    )
    therapist.refresh_from_db()
    assert therapist.email == "tara@clinic.example"


def test_an_address_a_colleague_uses_is_refused_and_another_clinics_is_not_revealed(
    client: Any, therapist: User, colleague: User, outsider: User
) -> None:
    colleague.email = "colin@clinic.example"
    colleague.save()
    outsider.email = "otto@hillside.example"
    outsider.save()
    log_in(client, "tara")
    refused = client.post(reverse("account-email"), {"email": "Colin@clinic.example"})
    assert refused.status_code == 200
    assert "A colleague of this clinic already uses this address." in refused.content.decode()
    # Another clinic's address is taken as any new one: nothing says it has an account.
    known = client.post(reverse("account-email"), {"email": "otto@hillside.example"})
    unknown = client.post(reverse("account-email"), {"email": "nobody@hillside.example"})
    assert known.status_code == unknown.status_code == 302
    therapist.refresh_from_db()
    assert therapist.email == "nobody@hillside.example"


def test_changing_ones_own_e_mail_needs_the_password_again(client: Any, therapist: User) -> None:
    log_in(client, "tara")
    session = client.session
    session["alliance_password_given"] -= 3600
    session.save()
    asked = client.get(reverse("account-email"))
    assert asked["Location"].startswith(reverse("reauthenticate"))
    assert client.post(reverse("account-email"), {"email": "new@clinic.example"})[
        "Location"
    ].startswith(reverse("reauthenticate"))
    therapist.refresh_from_db()
    assert therapist.email == ""
    client.post(
        reverse("reauthenticate"),
        {"password": "correct horse battery", "next": reverse("account-email")},
    )
    bad = client.post(reverse("account-email"), {"email": "not an address"})
    assert bad.status_code == 200 and b"valid email" in bad.content
    client.post(reverse("account-email"), {"email": "new@clinic.example"})
    therapist.refresh_from_db()
    assert therapist.email == "new@clinic.example"


def test_changing_ones_own_e_mail_address_is_in_the_audit_trail(
    client: Any, therapist: User
) -> None:
    """Every reset link goes to it: the same change made in the admin (for an invited
    colleague) is recorded, so the one that can hand an account over must be."""
    log_in(client, "tara")
    assert client.post(reverse("account-email"), {"email": "elsewhere@example.org"})[
        "Location"
    ] == reverse("account")
    therapist.refresh_from_db()
    assert therapist.email == "elsewhere@example.org"
    entry = AuditEntry.objects.get(model="clients.user", object_id=str(therapist.pk))
    assert (entry.actor, entry.action, entry.fields) == (therapist, AuditAction.CHANGED, ["email"])
    # Saved again unchanged: nothing changed, nothing recorded.
    client.post(reverse("account-email"), {"email": "elsewhere@example.org"})
    assert AuditEntry.objects.filter(model="clients.user").count() == 1


def test_re_authentication_only_returns_to_our_own_pages(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    response = client.post(
        reverse("reauthenticate"),
        {"password": "correct horse battery", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("account")


def test_an_idle_session_ends(client: Any, therapist: User, settings: Any) -> None:
    settings.ALLIANCE_IDLE_MINUTES = 30
    log_in(client, "tara")
    assert client.get("/").status_code == 200
    session = client.session
    session["alliance_last_seen"] = time.time() - 31 * 60
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert signed_in_as(client) is None
    page = client.get(response["Location"])
    assert b"signed out after a while without activity" in page.content


def test_an_active_session_continues(client: Any, therapist: User) -> None:
    log_in(client, "tara")
    session = client.session
    session["alliance_last_seen"] = time.time() - 29 * 60
    session.save()
    assert client.get("/").status_code == 200
    assert time.time() - client.session["alliance_last_seen"] < 5


def test_the_session_cookie_ends_with_the_browser_and_the_server_expires_it(
    client: Any, therapist: User, settings: Any
) -> None:
    response = log_in(client, "tara")
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == "" and cookie["expires"] == ""
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert client.session.get_expiry_age() == 30 * 60


def test_expired_sessions_are_cleared_hourly(client: Any, therapist: User) -> None:
    import datetime as dt

    from django.conf import settings
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts.tasks import clear_expired_sessions

    log_in(client, "tara")
    idle = Browser()
    log_in(idle, "tara")
    Session.objects.filter(session_key=idle.session.session_key).update(
        expire_date=timezone.now() - dt.timedelta(minutes=1)
    )
    assert clear_expired_sessions() == 1
    assert Session.objects.filter(session_key=client.session.session_key).exists()
    schedule = settings.CELERY_BEAT_SCHEDULE["clear-expired-sessions"]
    assert schedule["task"] == "accounts.tasks.clear_expired_sessions"


def test_a_reset_link_reads_the_colleagues_access_changes_by_key(
    postgresql: None, therapist: User, clinic_admin: User
) -> None:
    """Anyone may open a reset link, and each one checked reads when the colleague's access
    last changed from the audit trail, which grows with every record read: by an index of
    colleagues' changes, not a scan. Sequential scans are off for the look, so the plan
    shows whether an index can serve it at all."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.services import reset_tokens

    staff.staff_deactivate(actor=clinic_admin, member=therapist)
    staff.staff_reactivate(actor=clinic_admin, member=User.objects.get(pk=therapist.pk))
    with CaptureQueriesContext(connection) as read:
        reset_tokens.make_token(therapist)
    [statement] = [q["sql"] for q in read.captured_queries if "clients_auditentry" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "audit_colleague_changes" in plan, plan


def _deactivated_as_the_form_is_sent(
    clinic_admin: User, member: User, send: Callable[[], Any]
) -> Any:
    """`send` posted while an admin's deactivation of `member` is written, not committed:
    the page reads the colleague active as it begins, and the deactivation commits while
    it is under way."""
    deactivate = partial(
        staff.staff_deactivate, actor=clinic_admin, member=User.objects.get(pk=member.pk)
    )
    with meanwhile(deactivate, is_active_written):
        return send()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_a_colleague_deactivated_as_they_reset_their_password_stays_deactivated(
    client: Any, therapist: User, clinic_admin: User
) -> None:
    """Django's form saved the whole row as the page read it, active: the leaver was active
    again, with the password they had just chosen."""
    therapist.email = "tara@clinic.example"
    therapist.save()
    client.post(reverse("password_reset"), {"email": "tara@clinic.example"})
    page = client.get(_link(mail.outbox[0]), follow=True).redirect_chain[-1][0]
    response = _deactivated_as_the_form_is_sent(
        clinic_admin,
        therapist,
        lambda: client.post(page, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}),
    )
    assert response.status_code == 200 and b"This link no longer works" in response.content
    therapist.refresh_from_db()
    assert not therapist.is_active and therapist.check_password(PASSWORD)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_a_colleague_deactivated_as_they_change_their_password_stays_deactivated(
    client: Any, therapist: User, clinic_admin: User
) -> None:
    client.force_login(therapist)
    response = _deactivated_as_the_form_is_sent(
        clinic_admin,
        therapist,
        lambda: client.post(
            reverse("password_change"),
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        ),
    )
    assert response.status_code == 403
    therapist.refresh_from_db()
    assert not therapist.is_active and therapist.check_password(PASSWORD)
