"""Believable outcome courses for the demo clinic, as plain data.

Pure, like `demo.histories`: given a seeded random generator, one client's alliance
history and the instrument's scale, `outcome_answers()` gives the outcome check the
client answered with each of their ratings (their link asks it before the alliance
questions, so an answer comes with every client rating and never without one).

The courses follow what routine outcome monitoring finds: most clients improve, fastest
in the first sessions, and level off (the dose-response curve; Howard et al. 1986,
Lambert 2007); some stay where they started; a few get worse, often while the alliance
slips too; some dip in a hard stretch and come back. Courses are drawn in units of the
instrument's reliable change from the client's first score, so "got worse" and "on
track" mean what `measures.tracking` will judge them to mean.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from demo.histories import SessionPlan
from measures.tracking import MEAN, MILD, MODERATE, SEVERE, Scale, instrument_score, starting_band

IMPROVING = "improving"
FLAT = "flat"
DETERIORATING = "deteriorating"
RECOVERING = "recovering"
COURSES: tuple[str, ...] = (IMPROVING, FLAT, DETERIORATING, RECOVERING)

# Where a client starts: how far on the clinical side of the cut-off, in reliable changes
# (negative: on the healthy side). Clear of the bands' edges, so a first score rounded to
# the items' steps stays in the band it was drawn for.
STARTS = {SEVERE: (2.3, 3.4), MODERATE: (0.4, 1.8), MILD: (-1.0, -0.3)}
# How much better an improving client ends up, in reliable changes: a client far inside the
# clinical range has most room to improve, one outside it least.
GAINS = {SEVERE: (2.0, 3.2), MODERATE: (1.2, 2.2), MILD: (0.2, 0.8)}
# How many answers it takes to get about two thirds of the way there.
PACE = (2.5, 5.0)
# Week-to-week noise, in reliable changes; the clamps keep it from telling a story of its own.
NOISE = 0.25
IMPROVING_FLOOR = -0.4  # an improving client never comes near a reliable fall
FLAT_SPREAD = 0.5
# A client getting worse: slower gains, then a slide over the last three answers, the first
# two losing ground short of a reliable fall (and of the usual course's lowest line), the
# last falling well past it, as the alliance slips at the end of the history.
DETERIORATING_PACE = 0.6
SLIDE = 3
SLIP_FLOOR = -0.2
FALL = (1.4, 1.8)
# A client who recovers: a fall past the reliable change in the hard week after a rupture
# (or mid-treatment), then back on course.
DIP = (1.2, 1.6)
BACK_ON_COURSE = 0.2
# Each item scatters around the client's level by a point or so (moves of one point).
ITEM_SCATTER_MOVES = 2


def outcome_answers(
    rng: random.Random,
    history: Sequence[SessionPlan],
    *,
    course: str,
    band: str,
    scale: Scale,
    items: int,
    scoring: str = MEAN,
) -> list[list[int] | None]:
    """The item answers given with each session's client rating (None where the client did
    not rate), following `course` from a first score in `band`."""
    if course not in COURSES:
        raise ValueError(f"Unknown course {course!r}; choose one of {', '.join(COURSES)}.")
    if band not in STARTS:
        raise ValueError(f"Unknown band {band!r}; choose one of {', '.join(STARTS)}.")
    rated = [index for index, plan in enumerate(history) if plan["client"] is not None]
    margin = scale.reliable_change
    start = scale.moved(scale.cutoff, -rng.uniform(*STARTS[band]) * margin)
    first = _answers(rng, start, scale, items, scoring)
    first_score = instrument_score(first, scoring)
    if starting_band(first_score, scale) != band:  # only if STARTS stopped fitting the scale
        raise ValueError(f"A first score of {first_score} does not start in the {band} band.")
    ruptures = [plan["client"]["rupture"] != "none" for plan in history if plan["client"]]
    improvements = _improvements(rng, course, band, ruptures)
    answers: list[list[int] | None] = [None] * len(history)
    answers[rated[0]] = first
    for index, improvement in zip(rated[1:], improvements[1:], strict=True):
        level = scale.moved(first_score, improvement * margin)
        answers[index] = _answers(rng, level, scale, items, scoring)
    return answers


def _improvements(
    rng: random.Random, course: str, band: str, ruptures: Sequence[bool]
) -> list[float]:
    """Each answer's improvement on the first, in reliable changes (the first is 0), given
    which answers came with a rupture in the alliance."""
    count = len(ruptures)
    if course == FLAT:
        return [0.0] + [_clamp(rng.gauss(0, NOISE), FLAT_SPREAD) for _ in range(1, count)]
    gain = rng.uniform(*GAINS[band])
    pace = rng.uniform(*PACE)
    if course == DETERIORATING:
        gain *= DETERIORATING_PACE
    curve = [0.0] + [
        max(IMPROVING_FLOOR, gain * (1 - math.exp(-answer / pace)) + rng.gauss(0, NOISE))
        for answer in range(1, count)
    ]
    if course == DETERIORATING and count > SLIDE:
        level, fall = curve[-SLIDE - 1], -rng.uniform(*FALL)
        for step in range(1, SLIDE):
            slipped = level + (fall - level) * step / (SLIDE + 1)
            curve[step - SLIDE - 1] = max(SLIP_FLOOR, min(curve[step - SLIDE - 1], slipped))
        curve[-1] = fall
    if course == RECOVERING and count >= 3:
        # The week after the rupture the alliance history tells of, else mid-treatment.
        ruptures_at = [answer for answer, rupture in enumerate(ruptures) if rupture]
        dip = min(ruptures_at[0] + 1 if ruptures_at else count // 2, count - 2)
        curve[dip] = -rng.uniform(*DIP)
        curve[dip + 1] = max(curve[dip + 1] - BACK_ON_COURSE, 0.0)
    return curve


def _clamp(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))


def _answers(rng: random.Random, level: float, scale: Scale, items: int, scoring: str) -> list[int]:
    """Whole-number item answers whose score is `level` as nearly as the items allow."""
    low, high = int(scale.minimum), int(scale.maximum)
    if scoring != MEAN:  # the scale is in totals; each item answers on its own range
        low, high, level = low // items, high // items, level / items
    total = min(high * items, max(low * items, round(level * items)))
    answers = [total // items] * items
    for item in rng.sample(range(items), total % items):
        answers[item] += 1
    # People do not answer every part of their life the same; the score stays as it is.
    for _ in range(ITEM_SCATTER_MOVES):
        up, down = rng.sample(range(items), 2)
        if answers[up] < high and answers[down] > low:
            answers[up] += 1
            answers[down] -= 1
    return answers
