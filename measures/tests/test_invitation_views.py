"""The therapist's side of rating links: create, show once, e-mail."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from clients.models import Client, User
from measures.tests.factories import RatingFactory
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(client_record: Client) -> Session:
    client_record.email = "rk@example.org"
    client_record.save()
    return SessionFactory(client=client_record)


def create_url(session: Session) -> str:
    return reverse("measures:invitation-create", args=[session.pk])


def email_url(session: Session) -> str:
    return reverse("measures:invitation-email", args=[session.pk])


def test_anonymous_is_sent_to_log_in(client: Any, session: Session) -> None:
    assert client.post(create_url(session))["Location"].startswith(reverse("login"))
    assert not RatingInvitation.objects.exists()


@pytest.mark.parametrize("someone", ["colleague", "outsider"])
def test_someone_elses_session_is_not_found(
    client: Any, session: Session, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.post(create_url(session)).status_code == 404
    assert client.post(email_url(session)).status_code == 404
    assert not RatingInvitation.objects.exists() and mail.outbox == []


@pytest.mark.parametrize("reader", ["supervisor", "clinic_admin"])
def test_read_only_roles_cannot_make_links(
    client: Any, session: Session, reader: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(reader))
    assert client.post(create_url(session)).status_code == 403
    assert client.post(email_url(session)).status_code == 403
    assert not RatingInvitation.objects.exists()


def test_a_link_is_only_made_by_post(client: Any, therapist: User, session: Session) -> None:
    client.force_login(therapist)
    assert client.get(create_url(session)).status_code == 405


def test_the_therapist_gets_the_link_and_its_qr_code_once(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    response = client.post(create_url(session))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "no-referrer"
    url = response.context["url"]
    token = url.split("/r/")[1].rstrip("/")
    assert url == f"http://testserver/r/{token}/"
    assert invitations.invitation_find(token) == RatingInvitation.objects.get()
    html = response.content.decode()
    assert (
        f'value="{url}"' in html and '<svg width="' in html and "Send this link by e-mail" in html
    )
    # The session page afterwards shows the link is open, but never the token again.
    page = client.get(reverse("reports:session-detail", args=[session.pk])).content.decode()
    assert "Their link is open until" in page and token not in page


def test_no_link_for_a_missed_or_already_rated_session(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    missed = SessionFactory(client=client_record, attendance="cancelled")
    response = client.post(create_url(missed), follow=True)
    assert "Only an attended session can be rated." in response.content.decode()
    rated = SessionFactory(client=client_record)
    RatingFactory(session=rated)
    response = client.post(create_url(rated), follow=True)
    assert "The client has already rated this session." in response.content.decode()
    assert not RatingInvitation.objects.exists()


def test_the_link_shown_is_the_link_emailed(client: Any, therapist: User, session: Session) -> None:
    client.force_login(therapist)
    url = client.post(create_url(session)).context["url"]
    token = url.split("/r/")[1].rstrip("/")
    response = client.post(email_url(session), {"token": token})
    assert response["Location"] == reverse("reports:session-detail", args=[session.pk])
    [message] = mail.outbox
    assert f"/r/{token}/" in message.body and "R.K." not in message.body
    invitation = RatingInvitation.objects.get()
    assert invitation.is_open() and invitation.emailed_at is not None


def test_emailing_without_a_shown_link_makes_a_new_one(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    old, _ = invitations.invitation_create(session=session)
    client.post(email_url(session), {"token": "not-this-sessions-token"})
    old.refresh_from_db()
    fresh = RatingInvitation.objects.live().get()
    assert old.voided_at is not None and fresh != old
    assert len(mail.outbox) == 1


def test_no_email_for_a_client_without_an_address(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    session = SessionFactory(client=client_record)
    response = client.post(email_url(session), follow=True)
    assert "This client has no e-mail address." in response.content.decode()
    assert mail.outbox == []
