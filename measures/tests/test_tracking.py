"""On track or not (measures.tracking), on hand-written series: the bands a client starts in,
deterioration, the clinic's expected course, and exactly at each margin.

Two scales, both as an instrument would give them:

- `CHECK`, the built-in outcome check: a 0–10 mean, higher is better, cut-off 6.25,
  reliable change 1.25. Starting bands: severe below 3.75, moderate from 3.75 up to (not
  including) 6.25, mild from 6.25.
- `PHQ`, a PHQ-9-like 0–27 sum, lower is better, cut-off 10, reliable change 6. Starting
  bands: severe above 22, moderate from 11 to 22, mild at 10 and below.

A client's answers are written as `scores(5.0, 6.0, …)`: sessions 1, 2, 3, … in order.
Margins are chosen so each edge is exact in binary floating point (.25, .5, whole numbers).
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from alliance.tests import hypothesis_profile  # noqa: F401  (loads the profile)
from measures.tracking import (
    MEAN,
    MILD,
    MODERATE,
    NOT_ON_TRACK,
    ON_TRACK,
    SEVERE,
    STARTING,
    SUM,
    BandPoint,
    Expected,
    Judgement,
    Scale,
    expected_band,
    expected_course,
    instrument_score,
    judge,
    newly_not_on_track,
    not_on_track_at,
    starting_band,
)

CHECK = Scale(minimum=0, maximum=10, higher_is_better=True, cutoff=6.25, reliable_change=1.25)
PHQ = Scale(minimum=0, maximum=27, higher_is_better=False, cutoff=10, reliable_change=6)
NO_COURSE: dict[str, dict[int, Expected]] = {}
MIN_CLIENTS = 5


def scores(*values: float) -> list[tuple[int, float]]:
    """Answers at sessions 1, 2, 3, … with these scores."""
    return [(number, value) for number, value in enumerate(values, start=1)]


def judged(
    *values: float, scale: Scale = CHECK, course=NO_COURSE, min_clients: int = MIN_CLIENTS
) -> list[Judgement]:
    return judge(scores(*values), scale, course, min_clients=min_clients)


def last(*values: float, **kwargs) -> Judgement:
    return judged(*values, **kwargs)[-1]


# --- Starting bands ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "first", "band"),
    [
        # Higher is better: the clinical side is below the cut-off.
        (CHECK, 0.0, SEVERE),
        (CHECK, 3.74, SEVERE),
        (CHECK, 3.75, MODERATE),  # exactly two reliable changes under: not yet severe
        (CHECK, 5.0, MODERATE),
        (CHECK, 6.24, MODERATE),
        (CHECK, 6.25, MILD),  # at the cut-off: outside the clinical range
        (CHECK, 8.0, MILD),
        (CHECK, 10.0, MILD),
        # Lower is better: the clinical side is above the cut-off.
        (PHQ, 27, SEVERE),
        (PHQ, 23, SEVERE),
        (PHQ, 22.01, SEVERE),
        (PHQ, 22, MODERATE),  # exactly two reliable changes over: not yet severe
        (PHQ, 11, MODERATE),
        (PHQ, 10.01, MODERATE),
        (PHQ, 10, MILD),  # at the cut-off: outside the clinical range
        (PHQ, 4, MILD),
        (PHQ, 0, MILD),
    ],
)
def test_the_starting_band(scale: Scale, first: float, band: str) -> None:
    assert starting_band(first, scale) == band


def test_the_band_reads_the_scale_s_direction() -> None:
    # 2 is far into the clinical range of a higher-is-better scale and far out of it of a
    # lower-is-better one with the same numbers.
    lower = Scale(0, 10, higher_is_better=False, cutoff=6.25, reliable_change=1.25)
    assert starting_band(2.0, CHECK) == SEVERE
    assert starting_band(2.0, lower) == MILD
    assert starting_band(8.0, lower) == MODERATE


# --- Deterioration: worse than one's own first score by the reliable change --------------


@pytest.mark.parametrize(
    ("scale", "first", "score", "deteriorated"),
    [
        (CHECK, 5.0, 5.0, False),
        (CHECK, 5.0, 4.0, False),
        (CHECK, 5.0, 3.76, False),  # just under the margin
        (CHECK, 5.0, 3.75, True),  # exactly the margin counts
        (CHECK, 5.0, 3.74, True),
        (CHECK, 5.0, 0.0, True),
        (CHECK, 5.0, 10.0, False),  # improvement never deteriorates
        (CHECK, 1.0, 0.0, False),  # a floor client cannot fall a whole margin
        (CHECK, 10.0, 8.75, True),
        # Lower is better: worse is higher.
        (PHQ, 15, 15, False),
        (PHQ, 15, 20, False),
        (PHQ, 15, 20.99, False),  # just under the margin
        (PHQ, 15, 21, True),  # exactly the margin counts
        (PHQ, 15, 27, True),
        (PHQ, 15, 9, False),  # six points better is improvement, not deterioration
        (PHQ, 15, 0, False),
        (PHQ, 0, 6, True),
    ],
)
def test_deterioration_against_the_first_score(
    scale: Scale, first: float, score: float, deteriorated: bool
) -> None:
    judgement = last(first, score, scale=scale)
    assert judgement.deteriorated is deteriorated
    assert judgement.below_expected is False  # no course: only this test applies
    assert judgement.status == (NOT_ON_TRACK if deteriorated else ON_TRACK)
    assert (judgement.expected, judgement.lowest_on_track, judgement.clients) == (None, None, 0)


def test_deterioration_is_always_against_the_first_score_not_the_previous() -> None:
    # Each step down is less than the margin, but the third answer is the margin below the first.
    assert [j.status for j in judged(6.0, 5.5, 5.0, 4.75)] == [
        STARTING,
        ON_TRACK,
        ON_TRACK,
        NOT_ON_TRACK,
    ]
    # A client who started low and climbed is judged against the start, not the peak.
    assert [j.status for j in judged(3.0, 8.0, 3.0)] == [STARTING, ON_TRACK, ON_TRACK]


# --- Below the clinic's expected course ---------------------------------------------------

# Moderate clients (e.g. first 5.0 on the check) usually improve 2.0 by answer 2 (five
# clients) and 3.0 by answer 3 (only four clients so far).
CHECK_COURSE = {MODERATE: {2: Expected(2.0, 5), 3: Expected(3.0, 4)}}


@pytest.mark.parametrize(
    ("score", "status", "below"),
    [
        (9.0, ON_TRACK, False),  # better than expected
        (7.0, ON_TRACK, False),  # the expected score
        (6.0, ON_TRACK, False),
        (5.75, ON_TRACK, False),  # exactly expected − margin is still on track
        (5.74, NOT_ON_TRACK, True),  # more below is not
        (5.0, NOT_ON_TRACK, True),  # unchanged while peers improved 2.0
        (3.75, NOT_ON_TRACK, True),  # and deteriorated too
    ],
)
def test_below_the_expected_course(score: float, status: str, below: bool) -> None:
    judgement = last(5.0, score, course=CHECK_COURSE)
    assert (judgement.status, judgement.below_expected) == (status, below)
    assert judgement.deteriorated is (score <= 3.75)
    assert (judgement.expected, judgement.lowest_on_track, judgement.clients) == (7.0, 5.75, 5)


@pytest.mark.parametrize(
    ("min_clients", "status", "expected", "lowest", "clients"),
    [
        # Four clients at answer 3 are too few for five: only deterioration applies.
        (5, ON_TRACK, None, None, 0),
        # Enough for four: 4.0 is 1.0 worse than the first where peers are 3.0 better.
        (4, NOT_ON_TRACK, 8.0, 6.75, 4),
    ],
)
def test_the_expected_course_counts_only_with_enough_clients(
    min_clients: int, status: str, expected: float | None, lowest: float | None, clients: int
) -> None:
    judgement = last(5.0, 7.0, 4.0, course=CHECK_COURSE, min_clients=min_clients)
    assert judgement.index == 3
    assert judgement.deteriorated is False
    assert judgement.status == status
    assert (judgement.expected, judgement.lowest_on_track, judgement.clients) == (
        expected,
        lowest,
        clients,
    )


def test_the_expected_course_is_per_band_and_per_answer() -> None:
    # A severe client (first 2.0) has no course: moderate clients' improvement is not theirs.
    severe = last(2.0, 2.0, course=CHECK_COURSE, min_clients=1)
    assert (severe.band, severe.status, severe.expected) == (SEVERE, ON_TRACK, None)
    # Answer 4 has no point at all for moderate clients.
    fourth = last(5.0, 7.0, 8.0, 5.0, course=CHECK_COURSE, min_clients=1)
    assert (fourth.status, fourth.expected, fourth.clients) == (ON_TRACK, None, 0)
    # The band is the one the client started in, whatever they score later.
    assert {j.band for j in judged(5.0, 9.0, 1.0, course=CHECK_COURSE)} == {MODERATE}


# Moderate PHQ clients (11–22) usually improve 5 points by answer 2.
PHQ_COURSE = {MODERATE: {2: Expected(5.0, 6)}}


@pytest.mark.parametrize(
    ("score", "status", "below", "deteriorated"),
    [
        (8, ON_TRACK, False, False),
        (13, ON_TRACK, False, False),  # the expected score: 18 − 5
        (19, ON_TRACK, False, False),  # exactly expected + margin (worse) is on track
        (19.5, NOT_ON_TRACK, True, False),  # more is not
        (18, ON_TRACK, False, False),  # unchanged, but within the margin of the expected 13
        (24, NOT_ON_TRACK, True, True),
    ],
)
def test_below_the_expected_course_when_lower_is_better(
    score: float, status: str, below: bool, deteriorated: bool
) -> None:
    judgement = last(18, score, scale=PHQ, course=PHQ_COURSE)
    assert (judgement.status, judgement.below_expected, judgement.deteriorated) == (
        status,
        below,
        deteriorated,
    )
    assert (judgement.expected, judgement.lowest_on_track, judgement.clients) == (13, 19, 6)


@pytest.mark.parametrize(
    ("scale", "course", "first", "expected", "lowest"),
    [
        # Peers improve 2.0 from 9.5: 11.5 is off the scale; the expected score is its best.
        (CHECK, {MILD: {2: Expected(2.0, 5)}}, 9.5, 10.0, 8.75),
        (CHECK, {MILD: {2: Expected(2.0, 5)}}, 10.0, 10.0, 8.75),
        # Peers get worse by 1.0 from 0.5: both lines rest on the floor.
        (CHECK, {SEVERE: {2: Expected(-1.0, 5)}}, 0.5, 0.0, 0.0),
        # Lower is better: the best is 0 …
        (PHQ, {MILD: {2: Expected(8.0, 5)}}, 3, 0, 6),
        # … and the worst is 27.
        (PHQ, {SEVERE: {2: Expected(-3.0, 5)}}, 25, 27, 27),
    ],
)
def test_the_expected_score_and_the_line_are_kept_inside_the_scale(
    scale: Scale, course, first: float, expected: float, lowest: float
) -> None:
    judgement = last(first, first, scale=scale, course=course)
    assert (judgement.expected, judgement.lowest_on_track) == (expected, lowest)
    [_, point] = expected_band(first, scale, course, min_clients=MIN_CLIENTS, longest=2)
    assert (point.expected, point.lowest_on_track) == (expected, lowest)


@pytest.mark.parametrize(
    ("scale", "course", "first", "score", "status"),
    [
        # Peers starting outside the clinical range improved 2.0; this client started at the
        # top of the scale and stayed there. They cannot do better: on track.
        (CHECK, {MILD: {2: Expected(2.0, 5)}}, 10.0, 10.0, ON_TRACK),
        # Expected 10.0 at best; 9.0 is within the margin of it, 8.75 exactly at it.
        (CHECK, {MILD: {2: Expected(2.0, 5)}}, 9.5, 9.0, ON_TRACK),
        (CHECK, {MILD: {2: Expected(2.0, 5)}}, 9.5, 8.75, ON_TRACK),
        (CHECK, {MILD: {2: Expected(2.0, 5)}}, 9.5, 8.74, NOT_ON_TRACK),
        # Lower is better: started at 3, peers improved 8 (expected 0 at best, line 6).
        (PHQ, {MILD: {2: Expected(8.0, 5)}}, 3, 3, ON_TRACK),
        (PHQ, {MILD: {2: Expected(8.0, 5)}}, 3, 6, ON_TRACK),
        (PHQ, {MILD: {2: Expected(8.0, 5)}}, 3, 6.5, NOT_ON_TRACK),
        (PHQ, {MILD: {2: Expected(8.0, 5)}}, 0, 0, ON_TRACK),
    ],
)
def test_an_expected_course_beyond_the_best_score_is_judged_at_the_best_score(
    scale: Scale, course, first: float, score: float, status: str
) -> None:
    judgement = last(first, score, scale=scale, course=course)
    assert judgement.status == status
    # The judgement agrees with the line it shows.
    worse_than_line = scale.improvement(judgement.lowest_on_track, score) < 0
    assert judgement.below_expected is worse_than_line


def test_deterioration_still_counts_when_the_clinic_s_clients_usually_get_worse() -> None:
    # Peers starting outside the clinical range fall 0.5 by answer 2 (regression to the
    # mean): 7.75 is within their margin but 1.25 below this client's own first score.
    judgement = last(9.0, 7.75, course={MILD: {2: Expected(-0.5, 5)}})
    assert (judgement.below_expected, judgement.deteriorated) == (False, True)
    assert judgement.status == NOT_ON_TRACK


@pytest.mark.parametrize(
    ("scale", "first", "course", "expected", "lowest"),
    [
        # Peers fall 0.5 from 9.0: expected 8.5, but 7.75 (a reliable fall from the first
        # score) is already not on track, so the line is there, not at 8.5 − 1.25.
        (CHECK, 9.0, {MILD: {2: Expected(-0.5, 5)}}, 8.5, 7.75),
        # Lower is better: peers worsen 2 from 3, expected 5; not on track from 3 + 6.
        (PHQ, 3, {MILD: {2: Expected(-2.0, 5)}}, 5, 9),
    ],
)
def test_when_the_clinic_s_clients_usually_get_worse_the_line_is_the_first_score_s(
    scale: Scale, first: float, course, expected: float, lowest: float
) -> None:
    """The band's line is where the client stops being on track, by either test: a score
    between the two lines is not on track, and must not be drawn inside the band."""
    judgement = last(first, first, scale=scale, course=course)
    assert (judgement.expected, judgement.lowest_on_track) == (expected, lowest)
    [_, point] = expected_band(first, scale, course, min_clients=MIN_CLIENTS, longest=2)
    assert (point.expected, point.lowest_on_track) == (expected, lowest)
    assert last(first, scale.moved(lowest, -0.25), scale=scale, course=course).not_on_track
    assert not last(first, scale.moved(lowest, 0.25), scale=scale, course=course).not_on_track


def test_the_evidence_of_a_judgement() -> None:
    judgement = last(5.0, 5.0, course=CHECK_COURSE)
    assert judgement.evidence(5.0, CHECK) == {
        "score": 5.0,
        "first": 5.0,
        "margin": 1.25,
        "deteriorated": False,
        "below_expected": True,
        "expected": 7.0,
        "clients": 5,
        "band": MODERATE,
        "higher_is_better": True,
    }


def test_the_first_answer_is_the_baseline() -> None:
    [first] = judge([(4, 3.0)], CHECK, CHECK_COURSE, min_clients=1)
    assert first == Judgement(4, 1, 3.0, STARTING, SEVERE)
    assert not first.not_on_track
    assert judge([], CHECK, CHECK_COURSE, min_clients=1) == []


# --- The clinic's expected course ---------------------------------------------------------


def test_the_expected_course_is_the_median_improvement_per_band_and_answer() -> None:
    histories = [
        [5.0, 6.0, 7.0],  # moderate: +1.0, +2.0
        [5.0, 7.0],  # moderate: +2.0
        [4.0, 7.0, 8.0, 9.5],  # moderate: +3.0, +4.0, (+5.5 beyond `longest`)
        [5.0],  # one answer: no change to count
        [2.0],  # one answer: no severe band at all
        [8.0, 7.0, 9.0],  # mild: −1.0, +1.0
    ]
    assert expected_course(histories, CHECK, longest=3) == {
        MODERATE: {2: Expected(2.0, 3), 3: Expected(3.0, 2)},
        MILD: {2: Expected(-1.0, 1), 3: Expected(1.0, 1)},
    }


@pytest.mark.parametrize(
    ("longest", "course"),
    [
        (1, {}),
        (2, {MODERATE: {2: Expected(1.0, 2)}}),
        (3, {MODERATE: {2: Expected(1.0, 2), 3: Expected(2.0, 2)}}),
        (4, {MODERATE: {2: Expected(1.0, 2), 3: Expected(2.0, 2), 4: Expected(4.0, 1)}}),
        (9, {MODERATE: {2: Expected(1.0, 2), 3: Expected(2.0, 2), 4: Expected(4.0, 1)}}),
    ],
)
def test_the_expected_course_stops_at_the_longest_answer(longest: int, course) -> None:
    histories = [[5.0, 5.5, 6.0, 9.0], [5.0, 6.5, 8.0]]
    assert expected_course(histories, CHECK, longest=longest) == course


def test_the_expected_course_when_lower_is_better() -> None:
    histories = [
        [15, 9],  # moderate: 6 better
        [15, 12, 10],  # moderate: 3 better, then 5
        [14, 20],  # moderate: 6 worse
        [25, 20],  # severe: 5 better
        [3, 3],  # mild: unchanged
    ]
    assert expected_course(histories, PHQ, longest=5) == {
        MODERATE: {2: Expected(3.0, 3), 3: Expected(5.0, 1)},
        SEVERE: {2: Expected(5.0, 1)},
        MILD: {2: Expected(0.0, 1)},
    }


def test_the_expected_course_is_rounded_to_two_decimals() -> None:
    # Two answers of 4 items: 5.0 then 5.33 (the check's mean, to two decimals), and the
    # median of an even count.
    course = expected_course([[5.0, 16 / 3], [5.0, 5.0], [5.0, 6.0]], CHECK, longest=2)
    assert course == {MODERATE: {2: Expected(0.33, 3)}}
    course = expected_course([[5.0, 5.5], [5.0, 6.0]], CHECK, longest=2)
    assert course == {MODERATE: {2: Expected(0.75, 2)}}


def test_the_expected_course_of_no_clients_is_empty() -> None:
    assert expected_course([], CHECK, longest=10) == {}
    assert expected_course([[5.0], [2.0]], CHECK, longest=10) == {}


def test_a_course_learnt_from_clients_judges_the_next() -> None:
    histories = [[5.0, 7.0], [5.5, 7.5], [4.0, 6.0], [6.0, 8.0], [5.0, 6.5]]
    course = expected_course(histories, CHECK, longest=2)
    assert course == {MODERATE: {2: Expected(2.0, 5)}}
    assert last(5.0, 5.75, course=course).status == ON_TRACK
    assert last(5.0, 5.5, course=course).status == NOT_ON_TRACK


# --- Newly not on track, and the status at a session --------------------------------------

# Sessions 1, 3, 4, 6, 7, 9: starting, down a margin, still down, back, down again, down.
UP_AND_DOWN = [(1, 5.0), (3, 3.0), (4, 3.0), (6, 5.0), (7, 3.5), (9, 3.75)]


def test_newly_not_on_track_is_the_transition_not_each_answer() -> None:
    judgements = judge(UP_AND_DOWN, CHECK, NO_COURSE, min_clients=MIN_CLIENTS)
    assert [j.status for j in judgements] == [
        STARTING,
        NOT_ON_TRACK,
        NOT_ON_TRACK,
        ON_TRACK,
        NOT_ON_TRACK,
        NOT_ON_TRACK,
    ]
    # Session 4 repeats session 3's status; session 7 is a new start after recovering.
    assert [j.session_number for j in newly_not_on_track(judgements)] == [3, 7]


@pytest.mark.parametrize(
    ("values", "sessions"),
    [
        ((5.0,), []),
        ((5.0, 5.0, 5.0), []),
        ((5.0, 3.0), [2]),  # straight from the first answer
        ((5.0, 3.0, 3.0, 3.0), [2]),
        ((5.0, 5.0, 3.0, 5.0, 3.0, 5.0, 3.0), [3, 5, 7]),
    ],
)
def test_newly_not_on_track(values: tuple[float, ...], sessions: list[int]) -> None:
    assert [j.session_number for j in newly_not_on_track(judged(*values))] == sessions


def test_newly_not_on_track_of_no_answers() -> None:
    assert newly_not_on_track([]) == []


@pytest.mark.parametrize(
    ("session", "not_on_track"),
    [
        (0, False),  # no answer yet
        (1, False),  # the first answer is the baseline
        (2, False),  # no answer at 2: the latest is the first
        (3, True),
        (5, True),  # no answer at 5: the latest is session 4's
        (6, False),
        (7, True),
        (8, True),
        (100, True),
    ],
)
def test_not_on_track_at_a_session(session: int, not_on_track: bool) -> None:
    judgements = judge(UP_AND_DOWN, CHECK, NO_COURSE, min_clients=MIN_CLIENTS)
    assert not_on_track_at(judgements, session) is not_on_track


def test_not_on_track_at_with_no_answers() -> None:
    assert not_on_track_at([], 5) is False


# --- The expected band for the chart ------------------------------------------------------


def test_the_expected_band_of_a_moderate_client() -> None:
    band = expected_band(5.0, CHECK, CHECK_COURSE, min_clients=4, longest=10)
    assert band == [
        BandPoint(1, 5.0, 3.75, 0),  # the first answer: the deterioration line
        BandPoint(2, 7.0, 5.75, 5),
        BandPoint(3, 8.0, 6.75, 4),
    ]


def test_the_expected_band_agrees_with_the_judgements() -> None:
    band = expected_band(5.0, CHECK, CHECK_COURSE, min_clients=4, longest=3)
    judgements = judged(5.0, 6.0, 7.0, course=CHECK_COURSE, min_clients=4)
    assert [(p.index, p.expected, p.lowest_on_track, p.clients) for p in band[1:]] == [
        (j.index, j.expected, j.lowest_on_track, j.clients) for j in judgements[1:]
    ]


@pytest.mark.parametrize(
    ("first", "min_clients", "longest", "indexes"),
    [
        (5.0, 5, 10, [1, 2]),  # answer 3 rests on four clients only
        (5.0, 6, 10, []),  # no point rests on enough clients: no band at all
        (5.0, 4, 2, [1, 2]),  # `longest` respected
        (5.0, 4, 1, []),
        (2.0, 1, 10, []),  # no course for severe clients
        (8.0, 1, 10, []),  # nor for mild ones
    ],
)
def test_the_expected_band_only_where_enough_clients_show_it(
    first: float, min_clients: int, longest: int, indexes: list[int]
) -> None:
    band = expected_band(first, CHECK, CHECK_COURSE, min_clients=min_clients, longest=longest)
    assert [point.index for point in band] == indexes


def test_the_expected_band_when_lower_is_better() -> None:
    course = {MODERATE: {2: Expected(5.0, 6), 3: Expected(7.0, 2), 4: Expected(9.0, 6)}}
    assert expected_band(18, PHQ, course, min_clients=5, longest=3) == [
        BandPoint(1, 18, 24, 0),
        BandPoint(2, 13, 19, 6),
    ]
    assert expected_band(18, PHQ, course, min_clients=5, longest=4)[-1] == BandPoint(4, 9, 15, 6)


def test_the_first_point_of_the_band_is_kept_inside_the_scale() -> None:
    band = expected_band(1.0, CHECK, {SEVERE: {2: Expected(3.0, 5)}}, min_clients=5, longest=2)
    assert band == [BandPoint(1, 1.0, 0.0, 0), BandPoint(2, 4.0, 2.75, 5)]


# --- Scoring an instrument ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "scoring", "score"),
    [
        ([7, 8, 6, 5], MEAN, 6.5),
        ([0, 0, 0, 0], MEAN, 0.0),
        ([10, 10, 10, 10], MEAN, 10.0),
        ([1, 2, 2], MEAN, 1.67),  # to two decimals
        ([6, 6, 6, 7], MEAN, 6.25),  # exactly the check's cut-off
        ([3, 3, 3, 1, 0, 0, 0, 0, 0], SUM, 10.0),
        ([3] * 9, SUM, 27.0),
        ([0] * 9, SUM, 0.0),
        ([4], SUM, 4.0),
    ],
)
def test_instrument_score(answers: list[int], scoring: str, score: float) -> None:
    result = instrument_score(answers, scoring)
    assert result == score
    assert isinstance(result, float)


@pytest.mark.parametrize("scoring", [SUM, MEAN])
def test_an_answer_without_items_is_refused(scoring: str) -> None:
    with pytest.raises(ValueError, match="at least one item"):
        instrument_score([], scoring)


@pytest.mark.parametrize("scoring", ["median", "Sum", "MEAN", ""])
def test_an_unknown_scoring_is_refused(scoring: str) -> None:
    with pytest.raises(ValueError, match="Unknown scoring"):
        instrument_score([1, 2, 3], scoring)


# --- Properties over any answers ---------------------------------------------------------

# Scores as the instruments give them: the check's means of four whole items (quarters),
# the PHQ's whole-number sums; course improvements on the same grid, so lines are exact.
CHECK_SCORES = st.integers(0, 40).map(lambda quarters: quarters / 4)
PHQ_SCORES = st.integers(0, 27).map(float)


def course_for(improvements: st.SearchStrategy[float]) -> st.SearchStrategy:
    point = st.builds(Expected, improvements, st.integers(0, 12))
    return st.dictionaries(
        st.sampled_from([SEVERE, MODERATE, MILD]),
        st.dictionaries(st.integers(2, 8), point, max_size=7),
        max_size=3,
    )


CASES = st.one_of(
    st.tuples(
        st.just(CHECK),
        st.lists(CHECK_SCORES, min_size=1, max_size=10),
        course_for(st.integers(-40, 40).map(lambda quarters: quarters / 4)),
    ),
    st.tuples(
        st.just(PHQ),
        st.lists(PHQ_SCORES, min_size=1, max_size=10),
        course_for(st.integers(-27, 27).map(float)),
    ),
)


@given(CASES, st.integers(1, 10))
@example((CHECK, [9.5, 9.0, 10.0], {MILD: {2: Expected(2.0, 5), 3: Expected(3.0, 5)}}), 5)
def test_every_judgement_is_one_of_the_three_and_only_the_first_is_starting(
    case, min_clients: int
) -> None:
    scale, values, course = case
    judgements = judged(*values, scale=scale, course=course, min_clients=min_clients)
    assert len(judgements) == len(values)
    assert judgements[0].status == STARTING
    assert [j.index for j in judgements] == list(range(1, len(values) + 1))
    assert {j.status for j in judgements} <= {STARTING, ON_TRACK, NOT_ON_TRACK}
    assert all(j.status != STARTING for j in judgements[1:])
    for j in judgements[1:]:
        assert j.not_on_track is (j.deteriorated or j.below_expected)
        assert (j.expected is None) is (j.lowest_on_track is None) is (j.clients == 0)
        if j.expected is not None:
            assert j.clients >= min_clients
            assert scale.minimum <= j.lowest_on_track <= scale.maximum
            assert scale.minimum <= j.expected <= scale.maximum
            # Not on track for the course exactly when worse than the line it shows.
            assert j.below_expected is (scale.improvement(j.lowest_on_track, j.score) < 0)
    newly = newly_not_on_track(judgements)
    assert all(j.not_on_track for j in newly)
    assert len(newly) <= sum(j.not_on_track for j in judgements)


@given(CASES, st.integers(1, 10))
def test_each_judgement_reads_the_scale_as_its_own_methods_do(case, min_clients: int) -> None:
    """judge() writes the scale's arithmetic out for speed; the expected band and the
    scale's own methods (what the chart draws) give the same numbers at every answer."""
    scale, values, course = case
    judgements = judged(*values, scale=scale, course=course, min_clients=min_clients)
    band = {
        point.index: (point.expected, point.lowest_on_track, point.clients)
        for point in expected_band(
            values[0], scale, course, min_clients=min_clients, longest=len(values)
        )
    }
    first, margin = values[0], scale.reliable_change
    for j in judgements[1:]:
        assert (j.expected, j.lowest_on_track, j.clients) == band.get(j.index, (None, None, 0))
        assert j.deteriorated is (scale.improvement(first, j.score) <= -margin + 1e-9)
        if j.expected is not None:
            usual = scale.moved(first, course[j.band][j.index].improvement)
            assert j.below_expected is (scale.improvement(usual, j.score) < -margin - 1e-9)


@given(CASES, st.integers(1, 10))
def test_a_client_whose_every_score_is_their_first_is_never_not_on_track(
    case, min_clients: int
) -> None:
    scale, values, course = case
    unchanged = [values[0]] * len(values)
    # Judged on their own scores only (no course yet), they are on track throughout …
    alone = judged(*unchanged, scale=scale, min_clients=min_clients)
    assert [j.status for j in alone] == [STARTING] + [ON_TRACK] * (len(values) - 1)
    # … and whatever the clinic's course, they have not deteriorated.
    assert not any(
        j.deteriorated
        for j in judged(*unchanged, scale=scale, course=course, min_clients=min_clients)
    )


@given(CASES, st.integers(1, 10))
@example((CHECK, [10.0, 10.0], {MILD: {2: Expected(2.0, 5)}}), 5)
@example((PHQ, [3.0, 0.0], {MILD: {2: Expected(8.0, 5)}}), 5)
def test_a_client_at_the_best_score_is_never_not_on_track(case, min_clients: int) -> None:
    scale, values, course = case
    best = scale.maximum if scale.higher_is_better else scale.minimum
    later = judged(
        values[0], *[best] * (len(values) - 1), scale=scale, course=course, min_clients=min_clients
    )
    assert not any(j.not_on_track for j in later)
