"""Plain values the flag rules work on: one client's ordered history, and the thresholds.

Nothing here touches the ORM, so the rules can be tested on hand-written series.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from measures.scoring import DIMENSIONS

ATTENDED = "attended"
MISSED = frozenset({"cancelled", "no_show"})


def mean_score(values: tuple[int, ...]) -> float:
    """The alliance score of six dimension scores, to one decimal (as `alliance_score`)."""
    return round(sum(values) / len(values), 1)


class _PointValues(NamedTuple):
    session_id: int
    number: int
    starts_at: dt.datetime
    attendance: str
    # The client's six dimension scores in DIMENSIONS order, or None when unrated.
    client: tuple[int, ...] | None
    rupture: str
    rupture_resolved: str
    # The therapist's six dimension scores, or None.
    therapist: tuple[int, ...] | None
    # What the therapist said of a rupture ("" when they did not rate the session).
    therapist_rupture: str
    therapist_rupture_resolved: str
    # The client holds a link to rate it that is still open (made late, it outlasts the
    # session's own rating window): their answer may yet come.
    link_open: bool
    client_score: float | None
    therapist_score: float | None


class Point(_PointValues):
    """One session in a client's history, with what each rater said about it; the two
    scores are worked out from the dimensions when it is made.

    An immutable named tuple rather than a frozen dataclass: a sweep makes one for every
    session (60,000 at a large clinic), and a frozen dataclass took twice as long to make
    (each field set through object.__setattr__)."""

    __slots__ = ()

    def __new__(
        cls,
        session_id: int,
        number: int,
        starts_at: dt.datetime,
        attendance: str = ATTENDED,
        client: tuple[int, ...] | None = None,
        rupture: str = "",
        rupture_resolved: str = "",
        therapist: tuple[int, ...] | None = None,
        therapist_rupture: str = "",
        therapist_rupture_resolved: str = "",
        link_open: bool = False,
    ) -> Point:
        return tuple.__new__(
            cls,
            (
                session_id,
                number,
                starts_at,
                attendance,
                client,
                rupture,
                rupture_resolved,
                therapist,
                therapist_rupture,
                therapist_rupture_resolved,
                link_open,
                mean_score(client) if client else None,
                mean_score(therapist) if therapist else None,
            ),
        )

    def __getnewargs__(self) -> tuple[Any, ...]:
        # What copy and pickle hand back to __new__: the values given, not the scores.
        return tuple(self)[:-2]

    def _replace(self, **changes: Any) -> Point:
        """A copy with these changes, its scores worked out again (a named tuple's own
        `_replace` would copy the old ones)."""
        given = {name: getattr(self, name) for name in _PointValues._fields[:-2]}
        return Point(**{**given, **changes})

    @property
    def attended(self) -> bool:
        return self.attendance == ATTENDED

    def awaits_client(self, t: Thresholds, now: dt.datetime) -> bool:
        """Whether the client may still rate it: inside the session's rating window (a
        link's lifetime from its start), or holding a link still open, made later."""
        return self.link_open or self.starts_at + t.rating_grace > now

    @property
    def missed(self) -> bool:
        return self.attendance in MISSED

    def dimension(self, name: str) -> int:
        assert self.client is not None
        return self.client[DIMENSIONS.index(name)]


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule fired at a session; becomes a Flag unless one exists for (session, rule)."""

    session_id: int
    rule: str
    severity: str
    evidence: dict[str, Any]


# The reliable drop's threshold is at least this many times the spread of the client's own
# earlier scores (ALLIANCE_OWN_SD_MULTIPLIER); its evidence names any other.
DEFAULT_OWN_SD_MULTIPLIER = 2.0


@dataclass(frozen=True)
class Thresholds:
    """Every number the rules use. The defaults are tuned on the signal benchmark
    (bench/signal.py; README "Signals and concerns"); settings, then each clinic's own
    values, override them."""

    cutoff: float = 9.0
    cutoff_operator: str = "lt"  # "lt": score < cutoff fires; "le": score <= cutoff fires
    sd: float = 1.0  # the scale's population SD, for the reliable-change index
    reliability: float = 0.70  # the scale's test-retest reliability r
    min_earlier_ratings: int = 4
    own_sd_multiplier: float = DEFAULT_OWN_SD_MULTIPLIER
    dimension_drop: int = 4
    trend_length: int = 3
    # How far the run must fall in all (first to last) to count.
    trend_min_fall: float = 2.0
    # How far below the client's usual level (mean of the ratings before the run) it must end.
    trend_below_usual: float = 1.0
    discrepancy: float = 1.5
    missed_in_a_row: int = 2
    unrated_in_a_row: int = 4
    # An attended session counts as unanswered only once its link could have expired.
    rating_grace: dt.timedelta = dt.timedelta(days=4)
    # Rules that are context: shown beside a concern, never opening one on their own.
    context_rules: frozenset[str] = frozenset({"below_cutoff"})
    # Whether a rupture of "a little", partly talked through, alerts (else it is context).
    minor_rupture_alerts: bool = False

    @property
    def reliable_change(self) -> float:
        """1.96 × SD × √(2 × (1 − r)): a drop larger than this is unlikely to be noise."""
        return 1.96 * self.sd * math.sqrt(2 * (1 - self.reliability))

    def is_below_cutoff(self, score: float) -> bool:
        return score < self.cutoff if self.cutoff_operator == "lt" else score <= self.cutoff

    def alerts(self, rule: str, severity: str) -> bool:
        """Whether a signal may open a concern: low severity and context rules never do."""
        return severity != "low" and rule not in self.context_rules

    @classmethod
    def from_settings(cls) -> Thresholds:
        from django.conf import settings

        return cls(
            cutoff=settings.ALLIANCE_CUTOFF,
            cutoff_operator=settings.ALLIANCE_CUTOFF_OPERATOR,
            sd=settings.ALLIANCE_SD,
            reliability=settings.ALLIANCE_RELIABILITY,
            min_earlier_ratings=settings.ALLIANCE_MIN_EARLIER_RATINGS,
            own_sd_multiplier=settings.ALLIANCE_OWN_SD_MULTIPLIER,
            dimension_drop=settings.ALLIANCE_DIMENSION_DROP,
            trend_length=settings.ALLIANCE_TREND_LENGTH,
            trend_min_fall=settings.ALLIANCE_TREND_MIN_FALL,
            trend_below_usual=settings.ALLIANCE_TREND_BELOW_USUAL,
            discrepancy=settings.ALLIANCE_DISCREPANCY,
            missed_in_a_row=settings.ALLIANCE_MISSED_IN_A_ROW,
            unrated_in_a_row=settings.ALLIANCE_UNRATED_IN_A_ROW,
            rating_grace=dt.timedelta(days=settings.ALLIANCE_INVITATION_LIFETIME_DAYS),
            context_rules=frozenset(settings.ALLIANCE_CONTEXT_RULES),
            minor_rupture_alerts=settings.ALLIANCE_MINOR_RUPTURE_ALERTS,
        )
