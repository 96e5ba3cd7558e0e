"""Two gates in front of every page for signed-in staff.

- `IdleSessionMiddleware` signs out a session unused for ALLIANCE_IDLE_MINUTES.
- `TwoFactorMiddleware` sends a session that still owes its second factor to the
  code page (or, for staff who must use two-factor but have none yet, to set it
  up): every page, the admin's included, until it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts import sessions, two_factor


def _to(url: str, request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


class IdleSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            if sessions.is_idle(request):
                logout(request)
                messages.info(request, _("You were signed out after a while without activity."))
                return _to(reverse("login"), request)
            sessions.touch(request)
        return self.get_response(request)


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @cached_property
    def open_paths(self) -> frozenset[str]:
        """Where a session owing its second factor may still go."""
        names = ["two-factor-verify", "two-factor-setup", "reauthenticate", "logout"]
        return frozenset(reverse(name) for name in names)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and request.path not in self.open_paths:
            step = two_factor.step_owed(request)
            if step is not None:
                return _to(reverse(f"two-factor-{step}"), request)
        return self.get_response(request)
