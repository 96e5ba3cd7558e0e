"""Signing in as a person would: the log-in form, then the code from their phone."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "correct horse battery"  # the factories' password


def log_in(client: Any, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def current_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """What the authenticator app shows now (or `steps_ahead` periods later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def authenticator_for(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def signed_in_as(client: Any) -> int | None:
    user_id = client.session.get("_auth_user_id")
    return int(user_id) if user_id else None
