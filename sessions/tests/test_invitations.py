"""Rating invitations: random tokens stored as hashes, one open link per session, reminders."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
import traceback
from typing import Any

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Client
from measures.tests.factories import erased
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(client_record: Client) -> Session:
    client_record.email = "rk@example.org"
    client_record.save()
    return SessionFactory(client=client_record)


def test_a_token_has_at_least_128_random_bits_and_only_its_hash_is_stored(session: Session) -> None:
    invitation, token = invitations.invitation_create(session=session)
    assert len(token) >= 43  # 32 bytes in base64url: 256 bits
    stored = RatingInvitation.objects.filter(pk=invitation.pk).values().get()
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in stored.values())
    _other, other_token = invitations.invitation_create(session=session)
    assert other_token != token


def test_a_link_lives_four_days_by_default(session: Session) -> None:
    invitation, _ = invitations.invitation_create(session=session)
    assert invitation.expires_at - invitation.created_at == dt.timedelta(days=4)
    assert settings.ALLIANCE_INVITATION_LIFETIME_DAYS == 4


def test_a_new_link_voids_the_open_one(session: Session) -> None:
    first, first_token = invitations.invitation_create(session=session)
    second, _second_token = invitations.invitation_create(session=session)
    first.refresh_from_db()
    assert first.voided_at is not None and not first.is_open()
    assert second.is_open()
    assert list(RatingInvitation.objects.live()) == [second]
    assert invitations.invitation_find(first_token) == first  # found, but closed


def test_the_database_keeps_one_open_link_per_session(session: Session) -> None:
    invitations.invitation_create(session=session)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingInvitation.objects.create(
            session=session, token_hash="x" * 64, expires_at=timezone.now() + dt.timedelta(days=1)
        )


def test_a_missed_session_gets_no_link(client_record: Client) -> None:
    missed = SessionFactory(client=client_record, attendance="no_show")
    with pytest.raises(ValidationError, match="Only an attended session"):
        invitations.invitation_create(session=missed)
    assert not RatingInvitation.objects.exists()


@pytest.mark.parametrize("token", ["", "short", "x" * 65, "has space", "../../etc", "ünïcode"])
def test_malformed_or_unknown_tokens_find_nothing(session: Session, token: str) -> None:
    invitations.invitation_create(session=session)
    assert invitations.invitation_find(token) is None


def test_the_email_holds_the_link_and_nothing_about_anyone(session: Session) -> None:
    invitation, token = invitations.invitation_create(session=session)
    invitations.invitation_email(invitation=invitation, token=token)
    [message] = mail.outbox
    assert message.to == ["rk@example.org"]
    assert f"http://127.0.0.1:8000/r/{token}/" in message.body
    for detail in ("R.K.", session.therapist.get_full_name(), session.client.clinic.name):
        assert detail not in message.body and detail not in message.subject
    invitation.refresh_from_db()
    assert invitation.emailed_at is not None


def test_the_email_speaks_the_clients_language(session: Session) -> None:
    session.client.language = "es"
    session.client.save()
    invitation, token = invitations.invitation_create(session=session)
    invitations.invitation_email(invitation=invitation, token=token)
    assert mail.outbox[0].subject == "Un minuto para opinar sobre su sesión"
    assert "El enlace funciona una sola vez" in mail.outbox[0].body


def test_a_client_without_an_address_gets_no_email(client_record: Client) -> None:
    invitation, token = invitations.invitation_create(session=SessionFactory(client=client_record))
    with pytest.raises(ValidationError, match="no e-mail address"):
        invitations.invitation_email(invitation=invitation, token=token)
    assert mail.outbox == []


def make_link_aged(session: Session, hours: float) -> RatingInvitation:
    invitation, _ = invitations.invitation_create(session=session)
    created = timezone.now() - dt.timedelta(hours=hours)
    RatingInvitation.objects.filter(pk=invitation.pk).update(created_at=created)
    invitation.refresh_from_db()
    return invitation


def test_an_unanswered_link_gets_one_reminder_after_two_days(session: Session) -> None:
    old = make_link_aged(session, hours=49)
    assert invitations.reminders_send() == 1
    [reminder] = mail.outbox
    old.refresh_from_db()
    fresh = RatingInvitation.objects.live().get()
    # The reminder carries a fresh link (the old token was never stored), with the old expiry.
    assert old.voided_at is not None and old.reminded_at is not None
    assert fresh.expires_at == old.expires_at and fresh.reminded_at is not None
    token = reminder.body.split("/r/")[1].split("/")[0]
    assert invitations.invitation_find(token) == fresh
    # Running again (or twice at once) sends nothing more.
    assert invitations.reminders_send() == 0
    assert len(mail.outbox) == 1


def test_no_reminder_before_the_delay(session: Session) -> None:
    make_link_aged(session, hours=47.9)
    assert invitations.reminders_send() == 0


def test_no_reminder_for_an_answered_expired_or_emailless_link(
    session: Session, client_record: Any
) -> None:
    answered = make_link_aged(session, hours=50)
    RatingInvitation.objects.filter(pk=answered.pk).update(used_at=timezone.now())
    expired = make_link_aged(SessionFactory(client=client_record), hours=50)
    RatingInvitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    client_record.email = ""
    client_record.save()
    make_link_aged(SessionFactory(client=client_record), hours=50)
    assert invitations.reminders_send() == 0
    assert mail.outbox == []


def test_a_failed_reminder_keeps_the_clients_link_and_is_retried(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_link_aged(session, hours=49)

    def mail_server_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(invitations, "send_mail", mail_server_down)  # the edge: e-mail delivery
    assert invitations.reminders_send() == 0
    old.refresh_from_db()
    assert old.is_open() and old.reminded_at is None
    monkeypatch.undo()
    assert invitations.reminders_send() == 1


def test_an_emailed_link_replaces_the_open_one_once(session: Session) -> None:
    old, _ = invitations.invitation_create(session=session)
    assert invitations.invitation_send(invitation_id=old.pk) is True
    # A task delivered twice sends nothing more: the old link is no longer open.
    assert invitations.invitation_send(invitation_id=old.pk) is False
    [message] = mail.outbox
    old.refresh_from_db()
    fresh = RatingInvitation.objects.live().get()
    assert old.voided_at is not None and fresh.expires_at == old.expires_at
    assert invitations.invitation_find(message.body.split("/r/")[1].split("/")[0]) == fresh
    assert fresh.emailed_at is not None and fresh.reminded_at is None


def test_an_emailed_link_that_was_reminded_about_is_not_reminded_again(session: Session) -> None:
    old = make_link_aged(session, hours=49)
    assert invitations.reminders_send() == 1
    reminded = RatingInvitation.objects.live().get()
    assert invitations.invitation_send(invitation_id=reminded.pk) is True
    assert RatingInvitation.objects.live().get().reminded_at == reminded.reminded_at
    assert invitations.reminders_send() == 0
    assert len(mail.outbox) == 2 and old.pk != reminded.pk


@pytest.mark.parametrize("meanwhile", ["used_at", "voided_at", "expires_at"])
def test_no_email_for_a_link_answered_replaced_or_expired_meanwhile(
    session: Session, meanwhile: str
) -> None:
    old, _ = invitations.invitation_create(session=session)
    RatingInvitation.objects.filter(pk=old.pk).update(**{meanwhile: timezone.now()})
    assert invitations.invitation_send(invitation_id=old.pk) is False
    assert mail.outbox == [] and RatingInvitation.objects.count() == 1


def test_a_failed_email_keeps_the_clients_link_and_the_task_retries(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessions.tasks import email_rating_link

    old, token = invitations.invitation_create(session=session)

    def mail_server_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(invitations, "send_mail", mail_server_down)  # the edge: e-mail delivery
    with pytest.raises(invitations.EmailUnsent):
        invitations.invitation_send(invitation_id=old.pk)
    assert invitations.invitation_find(token) == RatingInvitation.objects.live().get() == old
    # With no broker the task runs at once, and asks to be tried again later.
    with pytest.raises(Retry):
        email_rating_link.delay(old.pk)
    monkeypatch.undo()
    assert invitations.invitation_send(invitation_id=old.pk) is True


def mailbox_refuses(subject: str, body: str, sender: Any, to: list[str]) -> None:
    """What smtplib raises when the mail server refuses the recipient: it names them."""
    raise smtplib.SMTPRecipientsRefused({to[0]: (550, b"5.1.1 User unknown")})


def mail_server_quotes_the_address(subject: str, body: str, sender: Any, to: list[str]) -> None:
    """A transient refusal whose reply quotes the address, as many servers' do."""
    raise smtplib.SMTPDataError(451, f"<{to[0]}>: try again later".encode())


def written(records: list[logging.LogRecord]) -> str:
    """The records as a log file would hold them, tracebacks and their causes included."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("{levelname} {message}", style="{"))
    return "\n".join(handler.format(record) for record in records)


@pytest.mark.parametrize("mailer", [mailbox_refuses, mail_server_quotes_the_address])
def test_a_failed_reminder_never_writes_the_clients_address_to_the_log(
    session: Session, monkeypatch: pytest.MonkeyPatch, caplog: Any, mailer: Any
) -> None:
    make_link_aged(session, hours=49)
    monkeypatch.setattr(invitations, "send_mail", mailer)  # the edge: e-mail delivery
    with caplog.at_level(logging.DEBUG):
        assert invitations.reminders_send() == 0
    log = written(caplog.records)
    assert "not sent" in log and "rk@example.org" not in log


def test_a_refused_address_gives_the_reminder_up_and_keeps_the_clients_link(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_link_aged(session, hours=49)
    monkeypatch.setattr(invitations, "send_mail", mailbox_refuses)  # the edge: e-mail delivery
    assert invitations.reminders_send() == 0
    old.refresh_from_db()
    # The link the client has still works; the reminder is not tried again every run.
    assert list(RatingInvitation.objects.live()) == [old] and old.reminded_at is not None
    monkeypatch.undo()
    assert invitations.reminders_send() == 0
    assert mail.outbox == []


def test_a_refused_address_fails_the_emailing_task_at_once_without_naming_it(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessions.tasks import email_rating_link

    old, token = invitations.invitation_create(session=session)
    monkeypatch.setattr(invitations, "send_mail", mailbox_refuses)  # the edge: e-mail delivery
    # Not `Retry`: another try would be refused as well.
    with pytest.raises(invitations.AddressRefused) as refused:
        email_rating_link.delay(old.pk)
    assert "rk@example.org" not in "".join(traceback.format_exception(refused.value))
    assert invitations.invitation_find(token) == RatingInvitation.objects.live().get() == old


def test_beat_sends_reminders_regularly() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE["send-rating-reminders"]
    assert schedule["task"] == "sessions.tasks.send_rating_reminders"
    from sessions.tasks import send_rating_reminders

    assert send_rating_reminders.name == schedule["task"]


def test_no_rating_link_opens_for_an_erased_client(
    client_record: Client, clinic_admin: Any
) -> None:
    """The erasure closed the client's links; a new one would take a comment into a record
    no erasure reaches again."""
    session = SessionFactory(client=client_record)
    erased(client_record, by=clinic_admin)
    with pytest.raises(ValidationError, match="erased"):
        invitations.invitation_create(session=Session.objects.get(pk=session.pk))
    assert not RatingInvitation.objects.filter(session=session, voided_at__isnull=True).exists()
