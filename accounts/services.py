"""Writes about staff accounts that someone other than the account holder may start."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

SUBJECT_TEMPLATE = "registration/password_reset_subject.txt"
BODY_TEMPLATE = "registration/password_reset_email.txt"


class NoEmailAddress(Exception):
    """The colleague has no e-mail address to send a link to."""


def send_password_link(user: Any, *, sent_by: Any) -> None:
    """E-mail `user` a single-use link to choose their own password.

    Nobody sets another person's password: a clinic admin sends this link (to a
    new colleague, or one who forgot theirs), and only its holder chooses the
    password. The link expires after PASSWORD_RESET_TIMEOUT and once used.
    """
    if not user.email:
        raise NoEmailAddress()
    base = urlsplit(settings.ALLIANCE_BASE_URL)
    context = {
        "email": user.email,
        "domain": base.netloc,
        "site_name": "Alliance",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": base.scheme or "https",
        "sent_by": sent_by,
    }
    PasswordResetForm().send_mail(
        SUBJECT_TEMPLATE, BODY_TEMPLATE, context, settings.DEFAULT_FROM_EMAIL, user.email
    )


def unlock_sign_in(user: Any) -> int:
    """Lift a log-in lock-out on this colleague's username (from every address)."""
    return axes_reset(username=user.get_username())
