"""The therapist's guesses against the client's scores: table tests on hand-written series."""

from __future__ import annotations

import pytest

from measures.guesses import Pair, judge, read

# The default reliable-change margin: 1.96 × 1.0 × √(2 × 0.3).
MARGIN = 1.52


def series(*rows: tuple[int, float, int | None]) -> list[Pair]:
    """(client, score, guess) rows, in order; session ids count from 1."""
    return [
        Pair(number, client, score, guess) for number, (client, score, guess) in enumerate(rows, 1)
    ]


@pytest.mark.parametrize(
    ("rows", "dropped", "missed"),
    [
        # no earlier rating: nothing can have dropped
        ([(1, 5.0, 9)], [False], [False]),
        # a fall of 2.0 ≥ margin, guess steady at 9 (= previous guess): missed
        ([(1, 9.0, 9), (1, 7.0, 9)], [False, True], [False, True]),
        # the same fall, but the guess fell too: seen
        ([(1, 9.0, 9), (1, 7.0, 7)], [False, True], [False, False]),
        # the guess rose while the client fell: missed
        ([(1, 9.0, 8), (1, 7.0, 9)], [False, True], [False, True]),
        # a fall of 1.0 is below the margin: no drop at all
        ([(1, 9.0, 9), (1, 8.0, 9)], [False, False], [False, False]),
        # exactly the margin counts as a drop (float-safe)
        ([(1, 9.0, 9), (1, 7.48, 9)], [False, True], [False, True]),
        # no guess last time: compared with the client's previous score (9.0); 9 ≥ 9 missed
        ([(1, 9.0, None), (1, 7.0, 9)], [False, True], [False, True]),
        # …and a guess below it saw the fall
        ([(1, 9.0, None), (1, 7.0, 8)], [False, True], [False, False]),
        # no guess on the dropped session: a drop, but nothing missed
        ([(1, 9.0, 9), (1, 7.0, None)], [False, True], [False, False]),
        # drops are judged within one client: client 2's low score is not client 1's fall
        ([(1, 9.0, 9), (2, 6.0, 9), (1, 8.8, 9)], [False, False, False], [False, False, False]),
        # interleaved clients: client 1 falls at its own next session
        ([(1, 9.0, 9), (2, 6.0, 6), (1, 6.5, 9), (2, 6.0, 6)],
         [False, False, True, False], [False, False, True, False]),
    ],
)  # fmt: skip
def test_drops_and_missed_drops(
    rows: list[tuple[int, float, int | None]], dropped: list[bool], missed: list[bool]
) -> None:
    judged = judge(series(*rows), drop_threshold=MARGIN - 0.0000000001)
    assert [row.dropped for row in judged] == dropped
    assert [row.missed_drop for row in judged] == missed


def test_differences_are_guess_minus_score() -> None:
    judged = judge(series((1, 8.3, 9), (1, 9.0, None), (1, 9.7, 7)), drop_threshold=MARGIN)
    assert [row.difference for row in judged] == [0.7, None, -2.7]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # nothing guessed: no numbers, not zeros
        ([(1, 9.0, None)], (0, None, None, None, 0, 0)),
        # one exact guess
        ([(1, 9.0, 9)], (1, 0.0, 1.0, 0.0, 0, 0)),
        # |+1.0| is within one point, |−2.0| is not; bias (1 − 2) / 2; a rise is no drop
        ([(1, 8.0, 9), (1, 9.0, 7)], (2, 1.5, 0.5, -0.5, 0, 0)),
        # 9 − 8.1 is 0.9000000000000004 in floats: still within one point
        ([(1, 8.1, 9), (1, 8.0, 9)], (2, 0.95, 1.0, 0.95, 0, 0)),
        # a missed drop (9.5 → 7.0, guess stays 9) and a seen one (9.0 → 6.0, guess 9 → 5)
        ([(1, 9.5, 9), (1, 7.0, 9), (1, 9.0, 9), (1, 6.0, 5)], (4, 0.875, 0.75, 0.125, 2, 1)),
    ],
)  # fmt: skip
def test_the_summary(
    rows: list[tuple[int, float, int | None]], expected: tuple[object, ...]
) -> None:
    reading = read(judge(series(*rows), drop_threshold=MARGIN))
    got = (
        reading.compared,
        reading.mean_absolute_difference,
        reading.share_within_one,
        reading.bias,
        reading.drops,
        reading.missed_drops,
    )
    assert got[:1] + got[4:] == expected[:1] + expected[4:]
    for value, wanted in zip(got[1:4], expected[1:4], strict=True):
        assert value == (None if wanted is None else pytest.approx(wanted))


@pytest.mark.parametrize(
    ("gaps", "recent", "earlier", "latest", "change"),
    [
        # too few sessions for an "earlier": no trend yet
        ([2, 1], 2, None, 1.5, None),
        # the last two are closer than the two before: the change is negative
        ([3, 1, 0, 1], 2, 2.0, 0.5, -1.5),
        # guesses drifting away
        ([0, 0, 0, 2, 2], 2, 0.0, 2.0, 2.0),
    ],
)
def test_the_trend_sets_recent_sessions_against_earlier_ones(
    gaps: list[int], recent: int, earlier: float | None, latest: float, change: float | None
) -> None:
    # Each session is a different client's first, so nothing drops.
    pairs = [Pair(number, number, 10.0 - gap, 10) for number, gap in enumerate(gaps, 1)]
    reading = read(judge(pairs, drop_threshold=MARGIN), recent=recent)
    assert reading.earlier_mean_absolute_difference == earlier
    assert reading.recent_mean_absolute_difference == latest
    assert reading.change == change
