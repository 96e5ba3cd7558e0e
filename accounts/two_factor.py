"""Two-factor sign-in: a code from an authenticator app (TOTP), or a one-time recovery code.

Who must use it: clinic admins and superusers always, everyone when
ALLIANCE_TWO_FACTOR is "all"; anyone else may turn it on. A session that has
given its second factor carries the device in `otp_device_id` (django-otp's
key); one that still owes it carries `PENDING`. Checking either costs no query.

A key shown for setting up belongs to the signed-in session that was shown it
(`SETUP_DEVICE`): someone else signed in with the same password, shown a key of
their own, cannot have the account holder confirm the key they copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import django_otp
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import end_other_sessions
from accounts.tokens import tokens_revoke_all
from clients import audit
from clients.models import AuditAction

PENDING = "alliance_two_factor_pending"
SETUP_DEVICE = "alliance_two_factor_setup_device"
VERIFIED = django_otp.DEVICE_ID_SESSION_KEY
RECOVERY_CODE_COUNT = 10
AUTHENTICATOR = "Authenticator app"
RECOVERY = "Recovery codes"


def is_required(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return settings.ALLIANCE_TWO_FACTOR == "all" or user.is_superuser or user.is_clinic_admin


def has_authenticator(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def authenticator(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def is_verified(request: HttpRequest) -> bool:
    return bool(request.session.get(VERIFIED))


def step_owed(request: HttpRequest) -> str | None:
    """ "verify" or "setup" when this signed-in session owes a second factor, else None."""
    if is_verified(request):
        return None
    if request.session.get(PENDING) or is_required(request.user):
        return "verify" if has_authenticator(request.user) else "setup"
    return None


def start_setup(request: HttpRequest) -> TOTPDevice:
    """A new, unconfirmed authenticator for this session (the one shown as a QR code until
    confirmed). A key another session was shown stops being confirmable: only the latest
    one shown is."""
    user = request.user
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)
    request.session[SETUP_DEVICE] = device.pk
    return device


def must_wait(device: Any) -> bool:
    """Whether django-otp makes the next code for this authenticator wait: after a wrong
    one, a second, doubling with each further failure. A code sent sooner is refused,
    right or not, and the person needs to hear why."""
    allowed, _reason = device.verify_is_allowed()
    return not allowed


def pending_setup(request: HttpRequest) -> TOTPDevice | None:
    """The unconfirmed authenticator this session was shown, if it is still the one."""
    shown = request.session.get(SETUP_DEVICE)
    if shown is None:
        return None
    return TOTPDevice.objects.filter(user=request.user, confirmed=False, pk=shown).first()


def new_recovery_codes(user: Any) -> list[str]:
    """Replace the user's recovery codes; each works once. Shown once, never stored readable
    anywhere but in the device table."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY)
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY).count()


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


@dataclass(frozen=True)
class SetUp:
    """A confirmed authenticator: the fresh recovery codes to show once, and how many API
    tokens stopped working."""

    recovery_codes: list[str]
    tokens_revoked: int


@transaction.atomic
def confirm_setup(request: HttpRequest, device: TOTPDevice, code: str) -> SetUp | None:
    """Confirm a new authenticator with its first code: it replaces any earlier one, the
    session counts as verified, every other session of the person ends, their API tokens
    are revoked, and fresh recovery codes are returned. None if the code is wrong.

    Other sessions end whether an authenticator was replaced (one verified with the old
    one, perhaps on a lost phone's browser, must not carry on) or this is the first: a
    session signed in with the password alone before two-factor was on never owes a
    code, and a stolen password is often why one turns it on. A token is such a session
    that never ends by itself: one made with the password alone, or by a browser that
    held the old phone's code, would carry on reading the caseload."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if not device.verify_token(_normalise(code)):
        return None
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    _mark_verified(request, device)
    request.session.pop(SETUP_DEVICE, None)
    ended = end_other_sessions(device.user, keep=request.session.session_key)
    _recorded(device.user, ended)
    revoked = tokens_revoke_all(actor=device.user, user=device.user)
    return SetUp(new_recovery_codes(device.user), revoked)


def verify(request: HttpRequest, code: str) -> bool:
    """Check a code from the authenticator, or a recovery code (used up on success).

    django-otp throttles each device: after a failure the next try must wait, and
    the wait doubles with each further failure.
    """
    user = request.user
    code = _normalise(code)
    devices: list[Any] = []
    if code.isascii() and code.isdigit():
        devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    else:
        devices = list(StaticDevice.objects.filter(user=user, name=RECOVERY))
    for device in devices:
        verified = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            _mark_verified(request, verified)
            return True
    return False


@transaction.atomic
def turn_off(request: HttpRequest) -> None:
    """Remove every second factor of the signed-in user (not allowed where it is required)."""
    user = request.user
    if is_required(user):
        raise PermissionError("Two-factor sign-in is required for this account.")
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    removed += StaticDevice.objects.filter(user=user).delete()[0]
    request.session.pop(VERIFIED, None)
    request.session.pop(PENDING, None)
    if removed:  # nothing was on: nothing happened to record
        _recorded(user, end_other_sessions(user, keep=request.session.session_key))


def _recorded(user: Any, sessions_ended: int) -> None:
    """In the trail, by the person themself, as an admin's removal is (`remove_two_factor`):
    whoever holds a session and the password can turn it off or put their own phone in."""
    fields = ["two_factor", "sessions"] if sessions_ended else ["two_factor"]
    audit.written(user, AuditAction.CHANGED, user, fields=fields)


def _mark_verified(request: HttpRequest, device: Any) -> None:
    # A new session key once the second factor is given, as at any change of privilege.
    request.session.cycle_key()
    django_otp.login(request, device)
    request.session.pop(PENDING, None)
