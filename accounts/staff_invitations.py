"""A new colleague's invitation: the single-use, expiring link with which they choose
their first password, and the e-mail that carries it.

The clinic admin adds the colleague without a password (`accounts.staff.staff_invite`),
then sends the invitation, or sends it again (which ends every link sent before). The
link's page (`staff_views.WelcomeView`) says what a link that no longer opens is: used,
expired, replaced, or none of ours. Choosing the password is written as a reset's is
(`accounts.services.password_save`).
"""

from __future__ import annotations

import enum
import logging
from smtplib import SMTPException
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from accounts.services import base_url_parts, password_save
from accounts.staff import _check_admin, _void_invitations, is_invited
from clients import audit
from clients.models import AuditAction, User

logger = logging.getLogger(__name__)


class LinkState(enum.Enum):
    """What an invitation link can do, for its page to say."""

    OPEN = "open"
    USED = "used"  # a password was chosen for the colleague: they log in
    EXPIRED = "expired"
    REPLACED = "replaced"  # sent again, the address changed, or access ended meanwhile
    UNKNOWN = "unknown"  # not a link we made: mistyped, cut short, or forged


class InvitationTokens(PasswordResetTokenGenerator):
    """Tokens for a new colleague's first password. Django's reset tokens, with a salt of
    their own (a reset link is no invitation, nor the reverse) and a lifetime of days, not
    hours: a colleague invited on Friday may first look on Monday. Single-use as a reset
    link is: the token hashes the password, which choosing one changes (as sending again,
    deactivating or reactivating replaces the unusable one), and the address.

    A second hash, of what stays when the first one dies (the colleague, when they joined,
    when the link was made), tells a link we made, now used, expired or replaced, from one
    mistyped or forged: its page can then say which and what to do, and say nothing of
    anyone to a guessed address. A token of the first hash alone (made before the second
    one was) opens as it did."""

    # Named for the module the class was first written in: a new salt would void every
    # link sent before it.
    key_salt = "alliance.accounts.staff.InvitationTokens"
    issued_salt = "alliance.accounts.staff.InvitationTokens.issued"

    def make_token(self, user: User) -> str:
        token = super().make_token(user)
        return f"{token}-{self._issued_hash(user, token.split('-')[0], self.secret)}"

    def check_token(self, user: User | None, token: str | None) -> bool:
        return self.link_state(user, token) is LinkState.OPEN

    def link_state(self, user: User | None, token: str | None) -> LinkState:
        if not (user and token) or len(token) > 100:
            return LinkState.UNKNOWN
        stamp, *hashes = token.split("-")
        try:
            timestamp = base36_to_int(stamp)
        except ValueError:
            return LinkState.UNKNOWN
        expired = self._num_seconds(self._now()) - timestamp > lifetime_seconds()
        secrets = [self.secret, *self.secret_fallbacks]
        if len(hashes) in (1, 2) and any(
            constant_time_compare(
                self._make_token_with_timestamp(user, timestamp, secret), f"{stamp}-{hashes[0]}"
            )
            for secret in secrets
        ):
            return LinkState.EXPIRED if expired else LinkState.OPEN
        if len(hashes) != 2 or not any(
            constant_time_compare(self._issued_hash(user, stamp, secret), hashes[1])
            for secret in secrets
        ):
            return LinkState.UNKNOWN
        if user.has_usable_password():
            return LinkState.USED
        return LinkState.EXPIRED if expired else LinkState.REPLACED

    def _issued_hash(self, user: User, stamp: str, secret: Any) -> str:
        joined = user.date_joined.replace(microsecond=0, tzinfo=None)
        value = f"{user.pk}{joined}{stamp}"
        return salted_hmac(
            self.issued_salt, value, secret=secret, algorithm=self.algorithm
        ).hexdigest()[::2]


invitation_tokens = InvitationTokens()


def lifetime_seconds() -> int:
    return settings.ALLIANCE_STAFF_INVITATION_DAYS * 24 * 60 * 60


def invitation_send(*, actor: User, member: User) -> bool:
    """E-mail `member` the link to choose their first password. False when the mail server
    refused it (the colleague stays invited; the admin can send it again)."""
    _check_admin(actor, member.clinic_id)
    with transaction.atomic():
        # Locked and read again: the colleague may have chosen their password a moment ago
        # (ending the links here would have wiped it), or another admin corrected the
        # address or deactivated them.
        len(User.objects.select_for_update().filter(pk=member.pk).values_list("pk"))
        member.refresh_from_db()
        if not member.is_active:
            raise ValidationError(f"{member} is deactivated: reactivate them, then send it.")
        if not is_invited(member):
            raise ValidationError(f"{member} has already chosen a password.")
        if not member.email:
            # Added in the admin, where the address is optional. The mail library sends
            # nothing to no one and says it went: refused here, before any link is ended.
            raise ValidationError(
                f"{member} has no e-mail address to send the invitation to: enter one under "
                "E-mail address on this page, then send it."
            )
        _void_invitations(member)  # a link sent before (perhaps astray) no longer works
        audit.written(actor, AuditAction.CHANGED, member, fields=["invitation"])
    context = {
        "member": member,
        "sent_by": actor,
        "clinic": member.clinic,
        "url": invitation_url(member),
        "days": settings.ALLIANCE_STAFF_INVITATION_DAYS,
    }
    # One line, as Django's own password e-mail makes its subject: a clinic name stored
    # with a line break (before names were checked) must not stop every invitation.
    subject = "".join(
        render_to_string("accounts/email/staff_invitation_subject.txt", context).splitlines()
    ).strip()
    body = render_to_string("accounts/email/staff_invitation.txt", context)
    try:
        send_mail(subject, body, None, [member.email])
    except (SMTPException, OSError):
        # No address in the log: the admin sees the failure on the page.
        logger.warning("An invitation e-mail could not be sent (colleague %s).", member.pk)
        return False
    return True


def invitation_accept(*, member: User, token: str, password: str) -> bool:
    """The colleague chooses their first password with their invitation link: in the trail,
    by them (the password itself, as every value, never).

    Locked and read again, as the page checked the link when the request began: a
    deactivation, an invitation sent again, or this same form sent twice may have
    committed since. Then nothing is saved (False). Only the password is written, so
    nothing an admin changed meanwhile is put back as the page had read it."""
    with transaction.atomic():
        saved = password_save(
            user=member, password=password, link_token=token, link_tokens=invitation_tokens
        )
        if saved:
            audit.written(member, AuditAction.CHANGED, member, fields=["password"])
    return saved


def invitation_url(member: User) -> str:
    scheme, domain = base_url_parts()
    path = reverse(
        "staff:welcome",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(member.pk)),
            "token": invitation_tokens.make_token(member),
        },
    )
    return f"{scheme}://{domain}{path}"
