"""Rating invitations: single-use links for a client to rate one session.

The raw token exists only when an invitation is created: it is returned to
the caller (to show, encode as a QR code or e-mail) and only its SHA-256 hash
is stored. So neither a reminder nor an e-mail the therapist asks for can resend
the old link: a worker sends a fresh one that replaces it, keeping the original
expiry. (Passing the raw token to the worker would leave the secret in the broker.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from alliance import links
from clients.services import check_takes_personal_data
from sessions.models import RatingInvitation, Session

logger = logging.getLogger(__name__)

# 32 random bytes: 256 bits, far beyond guessing even without the rate limit.
TOKEN_BYTES = 32
# A token as it appears in a URL (base64url); anything else is malformed.
TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
TOKEN_MAX_LENGTH = 64


class EmailUnsent(Exception):
    """The client's e-mail was not sent, and nothing changed: their link stays open.

    Its message never holds the address. The mail server's own error may (a refused
    recipient's names it, a rejection often quotes it), and an error's text and traceback
    reach the log and the worker's retry lines."""


class AddressRefused(EmailUnsent):
    """The mail server refused the client's address: trying again will not help."""


def _mail_the_client(subject: str, body: str, address: str) -> None:
    """Send one e-mail to a client, raising `EmailUnsent` (without the address) if it fails."""
    try:
        send_mail(subject, body, None, [address])
    except smtplib.SMTPRecipientsRefused:
        raise AddressRefused("The mail server refused the client's address.") from None
    except OSError as error:  # smtplib's errors are OSErrors, as a refused connection is
        code = getattr(error, "smtp_code", None)
        reply = f", reply {code}" if code else ""
        raise EmailUnsent(
            f"The mail server did not take the e-mail ({type(error).__name__}{reply})."
        ) from None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_well_formed(token: str) -> bool:
    return 0 < len(token) <= TOKEN_MAX_LENGTH and set(token) <= TOKEN_ALPHABET


def rating_path(token: str) -> str:
    # The form itself lives in `measures` (it stores the rating), a layer above this one.
    return links.rating_form(token)


def rating_url(token: str) -> str:
    """The absolute link for e-mails, which have no request to build it from."""
    return settings.ALLIANCE_BASE_URL.rstrip("/") + rating_path(token)


NOT_BEGUN = "This session has not begun yet: open its rating link once it has."


@transaction.atomic
def invitation_create(
    *, session: Session, expires_at: dt.datetime | None = None
) -> tuple[RatingInvitation, str]:
    """Open a new rating link for an attended session, replacing any open one.

    Returns the invitation and the raw token: the only moment it exists in clear.
    """
    # Lock the session so two "create link" clicks cannot both leave a live link.
    session = (
        Session.objects.select_for_update(of=("self",)).select_related("client").get(pk=session.pk)
    )
    if session.is_voided:
        raise ValidationError("This session was voided; it can no longer be rated.")
    if not session.was_attended:
        raise ValidationError("Only an attended session can be rated.")
    # The erasure closed the client's links; a new one would take a comment it never reaches.
    check_takes_personal_data(session.client)
    now = timezone.now()
    # A session may be logged up to a day ahead (`sessions.services.LOG_AHEAD_LIMIT`); its
    # client can rate it once it has begun, not before: an answer given before the session
    # would be counted as the alliance of a session that had not happened.
    if session.starts_at > now:
        raise ValidationError(NOT_BEGUN)
    session.invitations.filter(used_at__isnull=True, voided_at__isnull=True).update(voided_at=now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    lifetime = dt.timedelta(days=settings.ALLIANCE_INVITATION_LIFETIME_DAYS)
    invitation = RatingInvitation.objects.create(
        session=session,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=expires_at or now + lifetime,
    )
    return invitation, token


def invitation_find(token: str) -> RatingInvitation | None:
    """The invitation a token opens, whatever its state; None for unknown or malformed."""
    if not is_well_formed(token):
        return None
    return (
        RatingInvitation.objects.select_related("session__client__clinic")
        .filter(token_hash=hash_token(token))
        .first()
    )


def invitation_email(*, invitation: RatingInvitation, token: str) -> None:
    """E-mail the link to the client, in their language.

    The message names no therapist, clinic or client: only the link and when it
    expires, so an e-mail read by someone else reveals nothing.
    """
    client = invitation.session.client
    if not client.email:
        raise ValidationError("This client has no e-mail address.")
    context = {"url": rating_url(token), "expires_at": invitation.expires_at}
    with translation.override(client.language):
        subject = render_to_string("sessions/email/rating_link_subject.txt", context).strip()
        body = render_to_string("sessions/email/rating_link.txt", context)
    _mail_the_client(subject, body, client.email)
    RatingInvitation.objects.filter(pk=invitation.pk).update(emailed_at=timezone.now())


def invitation_for_email(*, session: Session) -> RatingInvitation:
    """The session's open link, to be e-mailed by a worker (`invitation_send`); opened now
    if there is none. Checked here, in the request, so the therapist hears at once when
    there is nowhere to send it."""
    if not session.client.email:
        raise ValidationError("This client has no e-mail address.")
    invitation = session.invitations.live().first()
    if invitation is None:
        # Its token is not needed: the e-mail carries the replacement the worker makes.
        invitation, _token = invitation_create(session=session)
    return invitation


def invitation_send(*, invitation_id: int, now: dt.datetime | None = None) -> bool:
    """E-mail the client a fresh link in place of an open one; False if it is no longer open.

    Runs in a worker, which is given the invitation's id, never a token. The conditional
    UPDATE claims the open link, so a task delivered twice sends once, and a link answered,
    replaced or expired meanwhile sends nothing.
    """
    now = now or timezone.now()
    session_id = (
        RatingInvitation.objects.filter(pk=invitation_id)
        .values_list("session_id", flat=True)
        .first()
    )
    if session_id is None:
        return False
    # As for reminders, the e-mail goes inside the transaction: if it fails, the claim and
    # the replacement roll back and the client's current link stays open.
    with transaction.atomic():
        _lock_session(session_id)
        claimed = RatingInvitation.objects.filter(
            pk=invitation_id, used_at__isnull=True, voided_at__isnull=True, expires_at__gt=now
        ).update(voided_at=now)
        if not claimed:
            return False
        invitation = RatingInvitation.objects.select_related("session").get(pk=invitation_id)
        _email_a_replacement(invitation, reminded_at=invitation.reminded_at)
    return True


def _lock_session(session_id: int) -> None:
    """Lock a link's session before the link itself, in the order a client's answer, a
    void and an edit take them (`measures.services.client_rating_submit`). Taken the other
    way round, a reminder going out as the client answered deadlocked with the answer, and
    PostgreSQL failed one of the two: often the client's, their answers lost."""
    len(Session.objects.select_for_update().filter(pk=session_id).values_list("pk"))


def _email_a_replacement(invitation: RatingInvitation, *, reminded_at: dt.datetime | None) -> None:
    """Open a fresh link in place of `invitation`, with its expiry, and e-mail it.

    A link that was already reminded about stays reminded: one reminder per session's link.
    """
    fresh, token = invitation_create(session=invitation.session, expires_at=invitation.expires_at)
    if reminded_at is not None:
        RatingInvitation.objects.filter(pk=fresh.pk).update(reminded_at=reminded_at)
    invitation_email(invitation=fresh, token=token)


def reminders_due(now: dt.datetime) -> list[RatingInvitation]:
    """Open, unanswered invitations past the reminder delay, not yet reminded, with an e-mail."""
    delay = dt.timedelta(hours=settings.ALLIANCE_INVITATION_REMINDER_AFTER_HOURS)
    return list(
        RatingInvitation.objects.filter(
            used_at__isnull=True,
            voided_at__isnull=True,
            reminded_at__isnull=True,
            expires_at__gt=now,
            created_at__lte=now - delay,
        )
        .exclude(session__client__email="")
        .select_related("session__client")
    )


def invitation_remind(*, invitation: RatingInvitation, now: dt.datetime) -> bool:
    """Send the one reminder for an unanswered invitation; False if it was already claimed.

    The conditional UPDATE claims the reminder, so two sweeps never send twice.
    """
    # The e-mail goes inside the transaction: if it fails, the claim and the
    # replacement roll back, the client's current link stays, and the next run retries
    # (but for a refused address, below).
    unreminded = RatingInvitation.objects.filter(
        pk=invitation.pk, reminded_at__isnull=True, used_at__isnull=True, voided_at__isnull=True
    )
    try:
        with transaction.atomic():
            _lock_session(invitation.session_id)
            if not unreminded.update(reminded_at=now):
                return False
            _email_a_replacement(invitation, reminded_at=now)
    except AddressRefused:
        # Refused for good: the reminder is given up (stamped, unsent), not tried every run.
        unreminded.update(reminded_at=now)
        raise
    return True


def reminders_send(now: dt.datetime | None = None) -> int:
    """Remind every client whose link is due a reminder; returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    for invitation in reminders_due(now):
        # One failing mailbox must not stop the others; no client details in the log.
        try:
            sent += invitation_remind(invitation=invitation, now=now)
        except EmailUnsent as error:  # its text names no address; its cause would
            logger.warning("Rating reminder for invitation %s not sent: %s", invitation.pk, error)
        except Exception:
            logger.exception("Rating reminder for invitation %s failed", invitation.pk)
    return sent
