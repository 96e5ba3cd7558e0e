"""On track or not: pure rules over one client's outcome scores. No ORM, no settings.

Feedback helps most for the clients who are not improving as expected (Lambert et al.
2018; Shimokawa, Lambert & Smart 2010), so each outcome answer is judged two ways:

- **Deteriorated**: worse than the client's own first score by at least the instrument's
  reliable-change margin (Jacobson & Truax 1991).
- **Below the expected course**: worse, by more than the same margin, than clients of this
  clinic who started in the same band usually are by the same answer — the median change
  from their first score (expected treatment response, Lambert 2007; Finch et al. 2001).
  Only where enough such clients exist; until then only the first test applies.

Either makes the client **not on track**. Bands are the clinician's usual reading of an
intake score: far into the clinical range, in it near the cut-off, or outside it.

Scores are compared in the instrument's own direction (`Scale.higher_is_better`); changes
are stored as *improvement* (positive = better), so one rule fits every instrument.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

# Float noise must never decide a clinical status (as in measures.rules).
TOLERANCE = 1e-9

# Starting bands, most distressed first.
SEVERE = "severe"
MODERATE = "moderate"
MILD = "mild"
BANDS = (SEVERE, MODERATE, MILD)
BAND_NAMES = {
    SEVERE: "well inside the clinical range",
    MODERATE: "inside the clinical range, near the cut-off",
    MILD: "outside the clinical range",
}

# The statuses of one answer (OutcomeAnswer.track).
STARTING = "starting"  # the first answer: the baseline others are judged against
ON_TRACK = "on_track"
NOT_ON_TRACK = "not_on_track"


@dataclass(frozen=True)
class Scale:
    """What the rules need of an instrument: its range, direction and clinical margins."""

    minimum: float
    maximum: float
    higher_is_better: bool
    cutoff: float
    reliable_change: float

    def improvement(self, first: float, score: float) -> float:
        """How much better `score` is than `first` (negative when worse)."""
        return score - first if self.higher_is_better else first - score

    def moved(self, first: float, improvement: float) -> float:
        """The score `improvement` better than `first`, kept inside the scale."""
        score = first + improvement if self.higher_is_better else first - improvement
        return min(self.maximum, max(self.minimum, score))


def starting_band(first: float, scale: Scale) -> str:
    """The band a client starts in: more than two reliable changes on the clinical side of
    the cut-off (severe), on that side within two (moderate), or on the healthy side (mild)."""
    distress = -scale.improvement(scale.cutoff, first)  # how far on the clinical side
    if distress > 2 * scale.reliable_change + TOLERANCE:
        return SEVERE
    if distress > TOLERANCE:
        return MODERATE
    return MILD


@dataclass(frozen=True)
class Expected:
    """The clinic's experience for one band at one answer: the median improvement since
    the first answer, and how many clients it rests on."""

    improvement: float
    clients: int


Course = Mapping[str, Mapping[int, Expected]]  # band → answer index (2, 3, …) → Expected


def expected_course(
    histories: Iterable[Sequence[float]], scale: Scale, *, longest: int
) -> dict[str, dict[int, Expected]]:
    """The expected course per starting band, from many clients' scores in answer order.

    Answer index 1 is the first answer (improvement 0 by definition), so the course starts
    at 2 and stops at `longest`. Every client counts at every index they reached.
    """
    changes: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for scores in histories:
        if len(scores) < 2:
            continue
        first = scores[0]
        band = starting_band(first, scale)
        for index, score in enumerate(scores[1:longest], start=2):
            changes[band][index].append(scale.improvement(first, score))
    return {
        band: {
            index: Expected(round(statistics.median(values), 2), len(values))
            for index, values in sorted(by_index.items())
        }
        for band, by_index in changes.items()
    }


class Judgement(NamedTuple):
    """One outcome answer judged: the status and the numbers behind it. (A named tuple: a
    sweep judges every answer of every client, and a frozen dataclass took twice as long
    to make.)"""

    session_number: int
    index: int  # 1 for the client's first answer
    score: float
    status: str
    band: str
    deteriorated: bool = False
    below_expected: bool = False
    # The expected score at this answer (None where the clinic has too few clients yet),
    # and the line below which the client is not on track.
    expected: float | None = None
    lowest_on_track: float | None = None
    clients: int = 0  # how many clients the expected score rests on

    @property
    def not_on_track(self) -> bool:
        return self.status == NOT_ON_TRACK

    def evidence(self, first: float, scale: Scale) -> dict[str, object]:
        """The numbers for a "not on track" signal, as measures.evidence words them."""
        return {
            "score": round(self.score, 2),
            "first": round(first, 2),
            "margin": round(scale.reliable_change, 2),
            "deteriorated": self.deteriorated,
            "below_expected": self.below_expected,
            "expected": None if self.expected is None else round(self.expected, 2),
            "clients": self.clients,
            "band": self.band,
            "higher_is_better": scale.higher_is_better,
        }


def expected_at(
    band_course: Mapping[int, Expected], index: int, min_clients: int
) -> Expected | None:
    """The point at this answer of the course of the client's starting band, if it rests
    on enough clients (the chart's band; `judge` asks the course itself)."""
    point = band_course.get(index)
    return point if point is not None and point.clients >= min_clients else None


def judge(
    answers: Sequence[tuple[int, float]], scale: Scale, course: Course, *, min_clients: int
) -> list[Judgement]:
    """Judge each of one client's answers, given as (session number, score) in order.

    The scale's arithmetic is written out here (`sign` is Scale.improvement's direction,
    the clamps Scale.moved's) and each Judgement made by position: a first sweep judges
    every answer of every client (442,000 at the huge scale), and the method calls and
    keyword arguments had been a quarter of its time (1.4 against 1.0 s there)."""
    if not answers:
        return []
    first = answers[0][1]
    band = starting_band(first, scale)
    margin = scale.reliable_change
    sign = 1.0 if scale.higher_is_better else -1.0
    low, high = scale.minimum, scale.maximum
    band_course = course.get(band, {})
    worse_than_first = -margin + TOLERANCE
    judgements = [Judgement(answers[0][0], 1, first, STARTING, band)]
    for index, (number, score) in enumerate(answers[1:], start=2):
        deteriorated = sign * (score - first) <= worse_than_first
        point = band_course.get(index)
        if point is None or point.clients < min_clients:
            status = NOT_ON_TRACK if deteriorated else ON_TRACK
            judgements.append(
                Judgement(number, index, score, status, band, deteriorated, False, None, None, 0)
            )
            continue
        # The margin is taken from the expected score kept inside the scale: a course
        # beyond the best score expects the best score, never more.
        usual = min(high, max(low, first + sign * point.improvement))
        # The line is where either test bites first: where the clinic's clients usually
        # get worse, a reliable fall from the first score comes before the course's margin.
        line_from = usual if sign * (usual - first) > 0 else first
        lowest = min(high, max(low, line_from - sign * margin))
        below = sign * (score - usual) < -margin - TOLERANCE
        status = NOT_ON_TRACK if deteriorated or below else ON_TRACK
        expected = (round(usual, 2), round(lowest, 2), point.clients)
        judgements.append(
            Judgement(number, index, score, status, band, deteriorated, below, *expected)
        )
    return judgements


def newly_not_on_track(judgements: Sequence[Judgement]) -> list[Judgement]:
    """The answers at which the client went from on track (or starting) to not on track."""
    return [
        current
        for previous, current in itertools.pairwise(judgements)
        if current.not_on_track and not previous.not_on_track
    ]


def not_on_track_at(judgements: Sequence[Judgement], session_number: int) -> bool:
    """Whether the client's latest answer at or before this session says not on track."""
    latest = [j for j in judgements if j.session_number <= session_number]
    return bool(latest) and latest[-1].not_on_track


@dataclass(frozen=True)
class BandPoint:
    """The expected band at one answer, for the chart: the expected score and the line
    below which the client would be not on track (above, for lower-is-better scales)."""

    index: int
    expected: float
    lowest_on_track: float
    clients: int


def expected_band(
    first: float, scale: Scale, course: Course, *, min_clients: int, longest: int
) -> list[BandPoint]:
    """The expected course of a client who started at `first`, where enough clients show it."""
    points = [BandPoint(1, first, scale.moved(first, -scale.reliable_change), 0)]
    band_course = course.get(starting_band(first, scale), {})
    for index in range(2, longest + 1):
        point = expected_at(band_course, index, min_clients)
        if point is None:
            continue
        usual = scale.moved(first, point.improvement)
        # As `judge` draws it: never below the reliable fall from the first score.
        line_from = usual if scale.improvement(first, usual) > 0 else first
        points.append(
            BandPoint(
                index,
                round(usual, 2),
                round(scale.moved(line_from, -scale.reliable_change), 2),
                point.clients,
            )
        )
    return points if len(points) > 1 else []


# --- Instruments as data: scoring --------------------------------------------------------

SUM = "sum"
MEAN = "mean"


def instrument_score(answers: Sequence[int], scoring: str) -> float:
    """The instrument's total: the sum of its items, or their mean to two decimals."""
    if not answers:
        raise ValueError("An outcome answer has at least one item.")
    if scoring == SUM:
        return float(sum(answers))
    if scoring == MEAN:
        return round(sum(answers) / len(answers), 2)
    raise ValueError(f"Unknown scoring {scoring!r}.")


def score_range(minimum: int, maximum: int, scoring: str, items: int) -> tuple[float, float]:
    """The lowest and highest possible totals: the answer range times the items for a sum,
    the answer range itself for a mean."""
    if scoring == SUM:
        return float(minimum * items), float(maximum * items)
    return float(minimum), float(maximum)
