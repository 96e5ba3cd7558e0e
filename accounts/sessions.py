"""The signed-in session's clocks: when it was last used, when the password was last given.

Both are kept in the session itself (seconds since the epoch), so checking them
costs no query. The idle clock is written at most once a minute, so a busy
page does not write the session row on every request.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest

LAST_SEEN = "alliance_last_seen"
PASSWORD_GIVEN = "alliance_password_given"
TOUCH_EVERY_SECONDS = 60


def start(request: HttpRequest) -> None:
    """At sign-in: the session is fresh, and the password was just given."""
    now = time.time()
    request.session[LAST_SEEN] = now
    request.session[PASSWORD_GIVEN] = now


def is_idle(request: HttpRequest, now: float | None = None) -> bool:
    """Whether the session went unused longer than ALLIANCE_IDLE_MINUTES."""
    last = request.session.get(LAST_SEEN)
    if last is None:
        return False
    now = time.time() if now is None else now
    return now - last > settings.ALLIANCE_IDLE_MINUTES * 60


def touch(request: HttpRequest, now: float | None = None) -> None:
    """Restart the idle clock (and with it the session's expiry in the database)."""
    now = time.time() if now is None else now
    last = request.session.get(LAST_SEEN)
    if last is None or now - last >= TOUCH_EVERY_SECONDS:
        request.session[LAST_SEEN] = now


def password_given(request: HttpRequest) -> None:
    request.session[PASSWORD_GIVEN] = time.time()


def password_recently_given(request: HttpRequest) -> bool:
    given = request.session.get(PASSWORD_GIVEN)
    window = settings.ALLIANCE_REAUTHENTICATE_MINUTES * 60
    return given is not None and time.time() - given <= window
