"""How well a therapist reads their clients: their guesses beside the clients' scores, on
their page and, as the typical gap per therapist, on the team dashboard.

The page's numbers come from `measures.guesses` (pure); this module only fetches the
sessions. The dashboard's typical gap — the same mean absolute difference, over the same
sessions — is worked out in SQL (`reports.dashboard`), so a team can be sorted and paged
by it; the tests hold the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from clients.models import User
from measures.guesses import Judged, Pair, Reading, judge, read
from measures.thresholds import clinic_thresholds
from sessions.models import Session

# How many of the latest sessions the page lists.
SHOWN_SESSIONS = 20


@dataclass(frozen=True)
class ReadingPage:
    reading: Reading
    latest: list[tuple[Session, Judged]]  # newest first
    drop_threshold: float


def compared_sessions(viewer: Any) -> QuerySet[Session]:
    """The current, attended sessions `viewer` may read that the client rated, with the
    client's alliance score (`client_score`) and the therapist's guess
    (`guessed_client_score`, None when they gave none) — both copied onto the session from
    the ratings; clients whose numbers count only. The reading page and the dashboard's
    typical guess gap compare the same sessions."""
    return (
        Session.objects.visible_to(viewer)
        .current()
        .attended()
        .filter(client__excluded_from_statistics=False, client_score__isnull=False)
    )


def _sessions(viewer: Any, therapist: User) -> list[Session]:
    """The therapist's compared sessions, oldest first, with their clients: the sessions
    they led of the clients who are still theirs (as the dashboard's `GUESSED`)."""
    return list(
        compared_sessions(viewer)
        .filter(therapist=therapist, client__therapist=therapist)
        .select_related("client")
        .in_history_order()
    )


def reading_page(viewer: Any, therapist: User) -> ReadingPage:
    sessions = _sessions(viewer, therapist)
    threshold = clinic_thresholds(therapist.clinic_id).reliable_change
    judged = judge(
        [Pair(s.pk, s.client_id, float(s.client_score), s.guessed_client_score) for s in sessions],
        drop_threshold=threshold,
    )
    latest = list(zip(sessions, judged, strict=True))[-SHOWN_SESSIONS:]
    return ReadingPage(read(judged), latest[::-1], threshold)


# --- The dashboard's column (reports.dashboard) --------------------------------------


@dataclass(frozen=True)
class GuessGap:
    """How close a therapist's guesses came to their clients' own scores: the reading page's
    typical gap (the mean absolute difference, in points) and how many guesses it rests on."""

    typical: float | None = None
    guesses: int = 0
