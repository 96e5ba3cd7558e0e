"""How well a therapist reads their clients: their guesses beside the clients' scores, on
their page and, as the typical gap per therapist, on the team dashboard.

The numbers come from `measures.guesses` (pure); this module only fetches the sessions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

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


def compared_sessions(viewer: Any) -> QuerySet[Session]:
    """The current, attended sessions `viewer` may read that the client rated, with the
    client's alliance score (`client_score`) and the therapist's guess (`guess`, None when
    they gave none); clients whose numbers count only. The reading page and the
    dashboard's typical guess gap compare the same sessions."""
    # Two subqueries a session, not a join to each rater's rating: the join was twice as
    # fast with fresh statistics (0.6 against 1.3 s for a month of 500 therapists) but,
    # planned for a supervisor just given 500 supervisees as if they had one, ran past 20 s
    # where this stayed at 2.6 s.
    ratings = Rating.objects.filter(session=OuterRef("pk"))
    return (
        Session.objects.visible_to(viewer)
        .current()
        .attended()
        .filter(client__excluded_from_statistics=False)
        .annotate(
            client_score=Subquery(ratings.by_client().with_alliance_score().values("score")[:1]),
            guess=Subquery(ratings.by_therapist().values("guessed_client_score")[:1]),
        )
        .filter(client_score__isnull=False)
    )


def _sessions(viewer: Any, therapist: User) -> list[Session]:
    """The therapist's compared sessions, oldest first, with their clients."""
    return list(
        compared_sessions(viewer)
        .filter(therapist=therapist)
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


# --- The dashboard's column ------------------------------------------------------------


@dataclass(frozen=True)
class GuessGap:
    """How close a therapist's guesses came to their clients' own scores: the reading page's
    typical gap (the mean absolute difference, in points) and how many guesses it rests on."""

    typical: float | None = None
    guesses: int = 0


@dataclass(frozen=True)
class GuessGaps:
    therapists: dict[int, GuessGap] = field(default_factory=dict)
    team: GuessGap = GuessGap()

    def of(self, therapist_id: int) -> GuessGap:
        return self.therapists.get(therapist_id, GuessGap())


def _gap(pairs: list[Pair]) -> GuessGap:
    # Only the gap is shown, and no drop threshold changes it: an infinite one judges no
    # drop, rather than reading the clinic's thresholds for a number nobody sees.
    reading = read(judge(pairs, drop_threshold=math.inf))
    return GuessGap(reading.mean_absolute_difference, reading.compared)


def guess_gaps(sessions: QuerySet[Session]) -> GuessGaps:
    """Each therapist's guess gap over `sessions` (narrowed from `compared_sessions`), and
    that of all their guesses together (not the mean of the therapists'), in one query."""
    guessed = (
        sessions.filter(guess__isnull=False)
        .in_history_order()
        .values_list("therapist_id", "pk", "client_id", "client_score", "guess")
    )
    pairs: dict[int, list[Pair]] = defaultdict(list)
    for therapist_id, session_id, client_id, score, guess in guessed:
        pairs[therapist_id].append(Pair(session_id, client_id, float(score), guess))
    return GuessGaps(
        therapists={therapist_id: _gap(theirs) for therapist_id, theirs in pairs.items()},
        team=_gap([pair for theirs in pairs.values() for pair in theirs]),
    )
