"""What a fresh sign-in starts: the idle clock, and the two-factor step if one is due."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import sessions, two_factor


@receiver(user_logged_in)
def start_signed_in_session(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    if request is None or not hasattr(request, "session"):
        return
    sessions.start(request)
    if two_factor.is_required(user) or two_factor.has_authenticator(user):
        request.session[two_factor.PENDING] = True
