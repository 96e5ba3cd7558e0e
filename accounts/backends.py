"""The log-in throttle as an authentication backend."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.db.models import CharField, Max, Value
from django.db.models.functions import Coalesce, Lower
from django.http import HttpRequest


class ThrottledBackend(AxesStandaloneBackend):
    """django-axes' check, for password checks made on behalf of a request.

    Every sign-in form and the re-authentication form pass the request, so each is
    counted and locked out. A check without one (the shell, a management command,
    a test's `Client.login`) has no address to count and is left to the next backend.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def throttled_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> Any:
    """The username the throttle counts a password check against (AXES_USERNAME_CALLABLE).

    A username signs in in any case (`StaffManager.get_by_natural_key`), so it is counted
    in one: as stored, for the person who signs in as it ("ANN" and "ann" are Ann's five
    tries together, and the admin's unlock, which lifts the stored one's, lifts them); in
    small letters, for a name nobody has, so that trying it in other capitals tells no
    guesser whether someone has it (each would have five tries of its own).

    Small letters as the database makes them, by the LOWER its unique index and the log-in
    compare with, not Python's: they differ beyond A-Z (SQLite folds those alone; Python
    ends a word's "Σ" as "ς" and makes "İ" "i" and a combining dot), and where they did,
    spellings that would sign in one person were counted apart for a name nobody has, or
    together where they sign in nobody, so trying them told a guesser whether someone has
    it all the same."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        typed = credentials.get(field)
    else:
        typed = getattr(request, "data", getattr(request, "POST", {})).get(field)
    if not isinstance(typed, str) or not typed:
        return typed
    # Asked several times for one password check: looked up once.
    known = request.__dict__.setdefault("_alliance_throttled_usernames", {}) if request else {}
    if typed not in known:
        from clients.models import User

        # One query: the username as stored, else the one typed in the database's small letters.
        known[typed] = User.objects.signing_in_as(typed).aggregate(
            counted=Coalesce(Max("username"), Lower(Value(typed, output_field=CharField())))
        )["counted"]
    return known[typed]
