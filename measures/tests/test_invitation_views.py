"""The therapist's side of rating links: create, show once, e-mail."""

from __future__ import annotations

import datetime as dt
import html
import smtplib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import before_task_publish, task_prerun
from django.core import mail
from django.db import connection
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from alliance.celery import app as celery_app
from clients.models import Client, User
from conftest import celery_broker
from measures.models import Rating
from measures.tests.factories import RatingFactory
from measures.tests.racing import on_a_connection_of_its_own
from measures.tests.test_client_rating import answer_by_link
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

EMAIL_TASK = "sessions.tasks.email_rating_link"

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


def test_a_former_therapist_who_still_reads_the_session_cannot_make_its_link(
    client: Any, therapist: User, colleague: User, clinic_admin: User, session: Session
) -> None:
    """Handed to a colleague they supervise, the client is no longer theirs to send links to."""
    from clients.models import Supervision
    from clients.moves import client_move

    therapist.is_supervisor = True
    therapist.save()
    Supervision.objects.create(supervisor=therapist, therapist=colleague)
    client_move(
        actor=clinic_admin,
        client=session.client,
        therapist=colleague,
        from_therapist_id=therapist.pk,
    )
    client.force_login(therapist)
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
    assert f'value="{url}"' in html and '<svg width="' in html and "Send a link by e-mail" in html
    assert 'name="token"' not in html  # the e-mail button never posts the secret back
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


@pytest.mark.parametrize("asked", [create_url, email_url], ids=["shown", "e-mailed"])
def test_no_link_for_a_session_that_has_not_begun(
    client: Any, therapist: User, client_record: Client, asked: Any
) -> None:
    """A session may be logged up to a day ahead; rated before it began, its client's
    answer would stand for a session that had not happened. Once it has begun, the link
    opens."""
    client_record.email = "client@example.org"
    client_record.save()
    client.force_login(therapist)
    ahead = SessionFactory(client=client_record, starts_at=timezone.now() + dt.timedelta(minutes=9))
    response = client.post(asked(ahead), follow=True)
    assert invitations.NOT_BEGUN in html.unescape(response.content.decode())
    assert not RatingInvitation.objects.exists() and not mail.outbox
    # Its page says when, rather than offer buttons that refuse.
    page = client.get(reverse("reports:session-detail", args=[ahead.pk])).content.decode()
    assert "once it has begun" in page and create_url(ahead) not in page
    Session.objects.filter(pk=ahead.pk).update(starts_at=timezone.now() - dt.timedelta(minutes=1))
    page = client.get(reverse("reports:session-detail", args=[ahead.pk])).content.decode()
    assert "once it has begun" not in page and create_url(ahead) in page
    response = client.post(create_url(ahead))
    assert response.status_code == 200 and RatingInvitation.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("asked", [create_url, email_url], ids=["shown", "e-mailed"])
def test_no_link_is_opened_for_a_session_its_client_rated_meanwhile(
    postgresql: None, therapist: User, session: Session, asked: Any
) -> None:
    """The client answers (by the QR code of a link given in the room) just as the therapist
    asks for another link: after the session is locked, the answer is seen and no link is
    left open on a rated session, to be reminded about and sent again and again."""
    token = invitations.invitation_create(session=session)[1]
    therapist_browser = Browser()
    therapist_browser.force_login(therapist)
    answered: list[bool] = []

    def client_answers_just_before_the_lock(execute: Any, sql: str, *args: Any) -> Any:
        if "FOR UPDATE" in sql and "therapy_sessions_session" in sql and not answered:
            answered.append(True)
            on_a_connection_of_its_own(lambda: answer_by_link(token)).join(10)
        return execute(sql, *args)

    with connection.execute_wrapper(client_answers_just_before_the_lock):
        response = therapist_browser.post(asked(session), follow=True)
    assert answered and Rating.objects.filter(session=session, rater="client").count() == 1
    assert "The client has already rated this session." in response.content.decode()
    assert not RatingInvitation.objects.filter(session=session).live().exists()
    assert mail.outbox == []


@pytest.fixture
def tasks_ran() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """The tasks run, with their arguments, as the tests' Celery settings run them."""
    ran: list[tuple[str, tuple[Any, ...]]] = []

    def record(sender: Any = None, args: Any = None, **kwargs: Any) -> None:
        ran.append((sender.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    yield ran
    task_prerun.disconnect(record)


def token_in(body: str) -> str:
    return body.split("/r/")[1].split("/")[0]


def test_the_email_goes_from_a_task_given_the_links_id_and_its_link_works(
    client: Any, therapist: User, session: Session, tasks_ran: list[Any]
) -> None:
    client.force_login(therapist)
    shown_url = client.post(create_url(session)).context["url"]
    shown = RatingInvitation.objects.get()
    response = client.post(email_url(session), follow=True)
    assert response.redirect_chain == [(reverse("reports:session-detail", args=[session.pk]), 302)]
    assert "A rating link is on its way to R.K. by e-mail." in response.content.decode()
    # The task is handed the invitation's id alone: no token waits in the broker.
    assert tasks_ran == [(EMAIL_TASK, (shown.pk,))]
    [message] = mail.outbox
    assert message.to == ["rk@example.org"] and "R.K." not in message.body
    # The e-mailed link is a fresh one that works; the one shown is replaced; same expiry.
    fresh = invitations.invitation_find(token_in(message.body))
    shown.refresh_from_db()
    assert fresh is not None and fresh.is_open() and fresh.emailed_at is not None
    assert fresh.expires_at == shown.expires_at and shown.voided_at is not None
    assert client.get(f"/r/{token_in(message.body)}/").status_code == 200
    assert client.get(shown_url).status_code == 404


def test_a_broker_outage_tells_the_therapist_and_loses_nothing(
    client: Any, therapist: User, session: Session, caplog: Any
) -> None:
    client.force_login(therapist)
    shown, token = invitations.invitation_create(session=session)
    # Nothing listens on port 1: the broker is down.
    with celery_broker("redis://127.0.0.1:1/0", task_publish_retry=False):
        response = client.post(email_url(session), follow=True)
    assert response.status_code == 200
    assert "The e-mail could not be sent: the background service is not answering." in (
        response.content.decode()
    )
    assert mail.outbox == []
    # The client's link still works, and no other was opened.
    assert list(RatingInvitation.objects.live()) == [shown]
    assert invitations.invitation_find(token) == shown
    warning = [r.getMessage() for r in caplog.records if "Could not queue" in r.getMessage()]
    assert warning and "R.K." not in warning[0]


@pytest.mark.django_db(transaction=True)
def test_through_the_real_broker_only_the_id_travels_and_a_worker_sends_the_email(
    client: Any, therapist: User, session: Session, redis_url: str
) -> None:
    from celery.contrib.testing.worker import start_worker

    published: list[Any] = []

    def record(sender: Any = None, body: Any = None, **kwargs: Any) -> None:
        if sender == EMAIL_TASK:
            published.append(body)

    client.force_login(therapist)
    shown_url = client.post(create_url(session)).context["url"]
    shown = RatingInvitation.objects.get()
    before_task_publish.connect(record, weak=False)
    try:
        with celery_broker(redis_url):
            # The worker starts once the request is answered: on SQLite its thread shares the
            # in-memory database, and a task run while the request still saves its session
            # locks the table under it (a 400, "the request's session was deleted").
            response = client.post(email_url(session))
            with start_worker(
                celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10
            ):
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not mail.outbox:
                    time.sleep(0.1)
    finally:
        before_task_publish.disconnect(record)
    assert response.status_code == 302
    [body] = published
    assert list(body[0]) == [shown.pk] and token_in(shown_url) not in repr(body)
    [message] = mail.outbox
    assert (
        invitations.invitation_find(token_in(message.body)) == RatingInvitation.objects.live().get()
    )


def test_emailing_without_a_shown_link_makes_a_new_one(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    old, _ = invitations.invitation_create(session=session)
    client.post(email_url(session), {"token": "not-this-sessions-token"})  # ignored
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


def mail_server_down(*args: Any, **kwargs: Any) -> None:
    raise ConnectionRefusedError("SMTP down")


def mailbox_refuses(subject: str, body: str, sender: Any, to: list[str]) -> None:
    raise smtplib.SMTPRecipientsRefused({to[0]: (550, b"5.1.1 User unknown")})


@pytest.mark.parametrize(
    ("mailer", "said"),
    [
        (mail_server_down, "the mail server is not answering"),
        (mailbox_refuses, "the mail server refused the client's address"),
    ],
)
def test_with_no_broker_a_failed_email_tells_the_therapist_and_loses_nothing(
    client: Any,
    therapist: User,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
    mailer: Any,
    said: str,
) -> None:
    # No broker (`make run`, and the suite's default): the task runs within the request.
    assert celery_app.conf.task_always_eager
    client.force_login(therapist)
    shown, token = invitations.invitation_create(session=session)
    monkeypatch.setattr(invitations, "send_mail", mailer)  # the edge: e-mail delivery
    response = client.post(email_url(session), follow=True)
    assert response.redirect_chain == [(reverse("reports:session-detail", args=[session.pk]), 302)]
    page = html.unescape(response.content.decode())
    assert f"The e-mail could not be sent: {said}." in page and "on its way" not in page
    assert list(RatingInvitation.objects.live()) == [shown]
    assert invitations.invitation_find(token) == shown
    assert "rk@example.org" not in caplog.text and "R.K." not in caplog.text
