"""The dates a session can fall on: the one place their bounds are read.

The session form, the services that write sessions and the dashboard's period all
ask here, so a date the form refuses cannot come in another way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from alliance.fields import spoken_date

# Used until settings.py names its own: the clinic's records don't reach back further,
# so an older date is a slip of the keyboard ("0025" for "2025"), not a session.
DEFAULT_EARLIEST_SESSION_DATE = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class DateBounds:
    """The first and last day (both included) a session or a period may fall on."""

    earliest: dt.date
    latest: dt.date

    def __str__(self) -> str:
        return f"from {spoken_date(self.earliest)} to {spoken_date(self.latest)}"


def earliest_session_date() -> dt.date:
    return getattr(settings, "ALLIANCE_EARLIEST_SESSION_DATE", DEFAULT_EARLIEST_SESSION_DATE)


def session_date_bounds(today: dt.date | None = None) -> DateBounds:
    """From `ALLIANCE_EARLIEST_SESSION_DATE` to a year from today.

    A year ahead is where a date stops being a plan and becomes a typing slip; logging
    a session has its own, tighter limit (`sessions.services.LOG_AHEAD_LIMIT`).
    """
    today = today or timezone.localdate()
    try:
        a_year_ahead = today.replace(year=today.year + 1)
    except ValueError:  # 29 February, with no 29 February next year
        a_year_ahead = today.replace(year=today.year + 1, day=28)
    return DateBounds(earliest=earliest_session_date(), latest=a_year_ahead)
