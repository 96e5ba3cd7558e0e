"""How well a therapist reads their clients: their guesses beside the clients' scores.

The numbers come from `measures.guesses` (pure); this module only fetches the sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Subquery

from clients.models import User
from measures.guesses import Judged, Pair, Reading, judge, read
from measures.models import Rating
from measures.thresholds import clinic_thresholds
from sessions.models import Session

# How many of the latest sessions the page lists.
SHOWN_SESSIONS = 20


@dataclass(frozen=True)
class ReadingPage:
    reading: Reading
    latest: list[tuple[Session, Judged]]  # newest first
    drop_threshold: float


def _sessions(viewer: Any, therapist: User) -> list[Session]:
    """The therapist's current, attended sessions the client rated, oldest first, with the
    client's alliance score and the therapist's guess; only those `viewer` may read."""
    ratings = Rating.objects.filter(session=OuterRef("pk"))
    return list(
        Session.objects.visible_to(viewer)
        .current()
        .attended()
        .filter(therapist=therapist, client__excluded_from_statistics=False)
        .annotate(
            client_score=Subquery(ratings.by_client().with_alliance_score().values("score")[:1]),
            guess=Subquery(ratings.by_therapist().values("guessed_client_score")[:1]),
        )
        .filter(client_score__isnull=False)
        .select_related("client")
        .in_history_order()
    )


def reading_page(viewer: Any, therapist: User) -> ReadingPage:
    sessions = _sessions(viewer, therapist)
    threshold = clinic_thresholds(therapist.clinic_id).reliable_change
    judged = judge(
        [Pair(s.pk, s.client_id, float(s.client_score), s.guess) for s in sessions],
        drop_threshold=threshold,
    )
    latest = list(zip(sessions, judged, strict=True))[-SHOWN_SESSIONS:]
    return ReadingPage(read(judged), latest[::-1], threshold)
