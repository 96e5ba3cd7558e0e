"""Addresses of pages owned by a higher app, for the apps below it.

The apps are layered `clients` ← `sessions` ← `measures` ← `reports`, and a lower app
never imports a higher one or names its URLs. When one must send someone up — to a
client's or a session's page or home (the read side, `reports`), or a client to the
form that rates a session (`measures`), a clinic admin from the clinic's settings to its
outcome instruments (`measures`) — it asks here, so those URL names are written
in one place besides their own app.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import get_script_prefix, get_urlconf, reverse


def home() -> str:
    """Where staff land after signing in: their caseload."""
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def client_page(client_id: int) -> str:
    return reverse("reports:client-detail", args=[client_id])


def session_page(session_id: int) -> str:
    return reverse("reports:session-detail", args=[session_id])


def rating_form(token: str) -> str:
    """The client's form for one session, at their link's token."""
    return reverse("measures:client-rating", args=[token])


def is_link_address(path: str) -> bool:
    """Whether `path` is at a client's link (`/r/<token>/`, its thanks): every answer
    there carries the token in its address, whoever gave it."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return path.startswith(_link_prefix(get_script_prefix(), urlconf))


@functools.cache
def _link_prefix(script_prefix: str, urlconf: str) -> str:
    """ "/r/" under the script prefix: asked on every request (the outermost middleware),
    so reversed once per prefix and URL conf, not each time (20 µs a request)."""
    token = "-"
    return rating_form(token).removesuffix(f"{token}/")


def outcome_instruments() -> str:
    """The clinic's outcome instruments, linked from the clinic's settings."""
    return reverse("measures:instruments")
