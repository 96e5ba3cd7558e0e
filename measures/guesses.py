"""How well a therapist reads their clients: pure functions of (client score, guess) pairs.

In their own rating a therapist may guess the client's alliance score for the same session.
Therapists are poor judges of how their clients experience the alliance — client and
therapist ratings correlate only modestly (Tryon, Blackwell & Hammel 2007) and therapists
rarely notice a client who is getting worse (Hannan et al. 2005) — so seeing one's own
guesses beside the client's answers, over time, is the feedback that can close the gap.

Nothing here reads settings or touches the ORM: callers pass the drop threshold (the
clinic's reliable-change margin) and get plain numbers back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Client scores have one decimal and guesses none; a difference of "exactly 1.0" must count
# as within one point although 9.3 − 8.3 is 0.9999999999999991 in binary floating point.
TOLERANCE = 1e-9
# The trend compares the most recent sessions with the ones before them.
RECENT_SESSIONS = 10


@dataclass(frozen=True, slots=True)
class Pair:
    """One rated session: the client's alliance score and the therapist's guess (or None)."""

    session_id: int
    client_id: int  # drops are judged within one client's series
    score: float
    guess: int | None


@dataclass(frozen=True, slots=True)
class Judged:
    """A session as the page shows it."""

    session_id: int
    client_id: int
    score: float
    guess: int | None
    difference: float | None  # guess − score
    dropped: bool  # the client's score fell by the threshold since their previous rating
    missed_drop: bool  # …and the guess did not fall


@dataclass(frozen=True, slots=True)
class Reading:
    """The summary numbers; each is None when there is nothing to compute it from."""

    compared: int  # sessions with both a client score and a guess
    mean_absolute_difference: float | None
    share_within_one: float | None  # 0–1
    bias: float | None  # mean guess − mean score: positive, the therapist guesses high
    drops: int  # drops with a guess to judge them by
    missed_drops: int
    earlier_mean_absolute_difference: float | None
    recent_mean_absolute_difference: float | None

    @property
    def change(self) -> float | None:
        """Recent minus earlier mean absolute difference: negative, the guesses got closer."""
        if self.earlier_mean_absolute_difference is None:
            return None
        if self.recent_mean_absolute_difference is None:
            return None
        return self.recent_mean_absolute_difference - self.earlier_mean_absolute_difference


def judge(pairs: Sequence[Pair], *, drop_threshold: float) -> list[Judged]:
    """Each session with its difference and whether a drop was missed.

    A **drop**: the client's score is at least `drop_threshold` below their previous rated
    session's score (the reliable-change margin, Jacobson & Truax 1991, so a fall this size
    is unlikely to be noise). A drop is **missed** when the guess did not fall: it is at
    least the therapist's guess for that previous session or, when there was none, at
    least the client's previous score. A session without a guess misses nothing.
    """
    previous: dict[int, Pair] = {}
    judged = []
    for pair in pairs:
        before = previous.get(pair.client_id)
        dropped = before is not None and before.score - pair.score >= drop_threshold - TOLERANCE
        missed = False
        if dropped and pair.guess is not None:
            assert before is not None
            reference = before.guess if before.guess is not None else before.score
            missed = pair.guess >= reference - TOLERANCE
        judged.append(
            Judged(
                session_id=pair.session_id,
                client_id=pair.client_id,
                score=pair.score,
                guess=pair.guess,
                difference=None if pair.guess is None else round(pair.guess - pair.score, 1),
                dropped=dropped,
                missed_drop=missed,
            )
        )
        previous[pair.client_id] = pair
    return judged


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def read(judged: Sequence[Judged], *, recent: int = RECENT_SESSIONS) -> Reading:
    """The summary of `judge`'s sessions, in order; the trend sets the last `recent`
    compared sessions (at least one) against all the earlier ones."""
    recent = max(1, recent)
    guessed = [row for row in judged if row.difference is not None]
    gaps = [abs(row.difference) for row in guessed if row.difference is not None]
    earlier, latest = gaps[:-recent], gaps[-recent:]
    return Reading(
        compared=len(guessed),
        mean_absolute_difference=_mean(gaps),
        share_within_one=_mean([1.0 if gap <= 1 + TOLERANCE else 0.0 for gap in gaps]),
        bias=_mean([row.difference for row in guessed if row.difference is not None]),
        drops=sum(1 for row in guessed if row.dropped),
        missed_drops=sum(1 for row in guessed if row.missed_drop),
        earlier_mean_absolute_difference=_mean(earlier),
        recent_mean_absolute_difference=_mean(latest),
    )
