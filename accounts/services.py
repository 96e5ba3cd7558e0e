"""Writes about staff accounts that someone other than the account holder may start."""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.tokens import tokens_revoke_all
from clients import audit
from clients.models import AuditAction, AuditEntry, User

logger = logging.getLogger(__name__)
SUBJECT_TEMPLATE = "registration/password_reset_subject.txt"
BODY_TEMPLATE = "registration/password_reset_email.txt"


RESET_MAILS_PER_HOUR = 3


def reset_mail_allowed(address: str) -> bool:
    """Count a password-reset e-mail to `address`, the one stored on the account (not as
    typed: the search for accounts matches spellings no lower-casing folds together, as
    "ſ" for "s", each of which would have had three e-mails of its own); False past
    RESET_MAILS_PER_HOUR.

    Keyed by a hash of the address (the cache holds no addresses). If the cache is down
    the request is allowed: a person locked out of their account matters more."""
    key = "password-reset:" + hashlib.sha256(address.strip().casefold().encode()).hexdigest()
    try:
        if cache.add(key, 1, timeout=60 * 60):
            return True
        return cache.incr(key) <= RESET_MAILS_PER_HOUR
    except Exception:
        logger.warning("Password-reset requests could not be counted (cache down).")
        return True


def base_url_parts() -> tuple[str, str]:
    """The scheme and host of links in e-mails, from ALLIANCE_BASE_URL."""
    base = urlsplit(settings.ALLIANCE_BASE_URL)
    return base.scheme or "https", base.netloc


class ResetTokens(PasswordResetTokenGenerator):
    """Django's password-reset tokens, which end with the person's access. Django's hash
    the password and the last sign-in, which neither a deactivation nor a reactivation
    changes; these also hash when access last changed, so a link mailed before a
    deactivation stays dead after the reactivation too (as an invitation does)."""

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return super()._make_hash_value(user, timestamp) + _access_changed_at(user)


def _access_changed_at(user: Any) -> str:
    """When `user` was last deactivated or reactivated ("" if never), from the audit
    trail: every change of `is_active` goes through `staff_update`, which records it."""
    entries = AuditEntry.objects.filter(
        model=User._meta.label_lower, object_id=str(user.pk), action=AuditAction.CHANGED
    ).order_by("-at", "-pk")
    for at, fields in entries.values_list("at", "fields"):
        if "is_active" in fields:
            return at.isoformat()
    return ""


reset_tokens = ResetTokens()


class NoEmailAddress(Exception):
    """The colleague has no e-mail address to send a link to."""


class Deactivated(Exception):
    """The colleague is deactivated: no link to choose a password is sent them."""


def send_password_link(user: Any, *, sent_by: Any) -> None:
    """E-mail `user` a single-use link to choose their own password.

    Nobody sets another person's password: a clinic admin sends this link (to a
    new colleague, or one who forgot theirs), and only its holder chooses the
    password. The link expires after PASSWORD_RESET_TIMEOUT, once used, and when its
    holder is deactivated; none is sent to someone deactivated.
    """
    if not user.is_active:
        raise Deactivated()
    if not user.email:
        raise NoEmailAddress()
    scheme, domain = base_url_parts()
    context = {
        "email": user.email,
        "domain": domain,
        "site_name": "Alliance",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": reset_tokens.make_token(user),
        "protocol": scheme,
        "sent_by": sent_by,
    }
    PasswordResetForm().send_mail(
        SUBJECT_TEMPLATE, BODY_TEMPLATE, context, settings.DEFAULT_FROM_EMAIL, user.email
    )


@transaction.atomic
def remove_two_factor(user: Any, *, actor: Any = None) -> None:
    """For a colleague who lost their phone and recovery codes: remove their authenticator.

    It grants nobody access (the password is still needed, and only its holder has it);
    whoever must use two-factor is asked to set it up again when they next sign in.
    Their signed-in sessions end, so none carries on as verified. `actor` is the
    colleague who did it, for the audit trail (None: a command, recorded as "system").
    """
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    removed += StaticDevice.objects.filter(user=user).delete()[0]
    fields = ["two_factor"] if removed else []
    if _end_sessions(user):
        fields.append("sessions")
    if fields:
        audit.written(actor, AuditAction.CHANGED, user, fields=fields)


def end_sessions(user: Any, *, actor: Any = None) -> None:
    """Sign `user` out everywhere: their signed-in sessions, and their API tokens."""
    with transaction.atomic():
        if _end_sessions(user):
            audit.written(actor, AuditAction.CHANGED, user, fields=["sessions"])
        tokens_revoke_all(actor=actor, user=user)


def password_save(
    *,
    user: Any,
    password: str,
    link_token: str | None = None,
    link_tokens: PasswordResetTokenGenerator | None = None,
) -> bool:
    """Write `user`'s new password and nothing else, their row locked and read again.

    Django's password forms save the whole row as the page read it when the request
    began, so a deactivation (or a change of roles) an admin committed meanwhile was put
    back: the leaver active again, with the password just chosen. Refused (False, nothing
    saved) when the account is no longer active, or, when chosen with a link (`link_token`,
    a reset link's unless `link_tokens` says whose), when the link no longer opens: a
    deactivation ends it, as a password chosen meanwhile does (the same form sent twice)."""
    with transaction.atomic():
        stored = User.objects.select_for_update().filter(pk=user.pk).first()
        if stored is None or not stored.is_active:
            return False
        checker = link_tokens or reset_tokens
        if link_token is not None and not checker.check_token(stored, link_token):
            return False
        stored.set_password(password)
        stored.save(update_fields=["password"])
    user.password = stored.password
    return True


def password_chosen(user: Any) -> int:
    """A new password, chosen by its holder (changed, or reset by e-mailed link), ends what
    the old one opened. Django's own session check signs out every other browser; this
    revokes the API tokens made before it, which someone who had the old password could
    have made. Returns how many."""
    return tokens_revoke_all(actor=user, user=user)


@transaction.atomic
def user_email_change(*, user: Any, email: str) -> bool:
    """A person changes their own e-mail address (after giving their password again).
    Every reset link goes to it, so the change is recorded, as an admin's change of it is
    (`staff_update`); never the address itself. False if it was the address already."""
    stored = User.objects.select_for_update().get(pk=user.pk)
    if stored.email == email:
        return False
    stored.email = email
    # Only the address is checked: a name stored before names were checked
    # (`validate_visible_line`) is the admin's to correct and must not stop this change.
    stored.full_clean(exclude=["username", "first_name", "last_name"])
    stored.save(update_fields=["email"])
    audit.written(stored, AuditAction.CHANGED, stored, fields=["email"])
    user.email = email
    return True


def _end_sessions(user: Any, *, keep: str | None = None) -> int:
    """End `user`'s signed-in sessions, all but the one whose key is `keep`."""
    from django.contrib.sessions.models import Session

    user_id = str(user.pk)
    ended = 0
    signed_in = Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep)
    for session in signed_in.iterator():
        if session.get_decoded().get("_auth_user_id") == user_id:
            session.delete()
            ended += 1
    return ended


def end_other_sessions(user: Any, *, keep: str | None) -> int:
    """Sign `user` out of every browser but this one (session key `keep`): after their
    second factor changed (turned on, replaced, or turned off), a session signed in with
    the password alone, or verified with the old one (perhaps on a lost phone's browser),
    must not carry on."""
    return _end_sessions(user, keep=keep)


def unlock_sign_in(user: Any, *, actor: Any = None) -> int:
    """Lift a log-in lock-out on this colleague's username (from every address); recorded
    in the audit trail when there was one to lift."""
    with transaction.atomic():
        lifted = axes_reset(username=user.get_username())
        if lifted:
            audit.written(actor, AuditAction.CHANGED, user, fields=["sign_in_lock"])
    return lifted
