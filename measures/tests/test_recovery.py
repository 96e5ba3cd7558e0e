"""Repairs followed up, on hand-written series: recovered, watching, not recovered, and exactly
at the reliable-change margin.

Series are written as in test_rules (`points(9.0, 9.0, …)`). The margin is set to exactly 1.0
(r = 0.5, SD = 1 / 1.96) so the edge can be written by hand; the concern began at session 4
and was resolved when session 5 was the latest, so sessions 1–3 give the usual level and
session 6 onward is the follow-up.
"""

from __future__ import annotations

import dataclasses

import pytest

from measures import recovery as follow_up
from measures.history import Thresholds
from measures.recovery import NO_BASELINE, NOT_RECOVERED, RECOVERED, WATCHING, recovery
from measures.tests.test_rules import forced, points

MARGIN_ONE = Thresholds(sd=1 / 1.96, reliability=0.5)


def judged(*entries, began: int = 4, through: int = 5, t: Thresholds = MARGIN_ONE):
    history = points(*entries)
    return recovery(history, concern_began=began, reviewed_through=through, t=t)


@pytest.mark.parametrize(
    ("entries", "state", "at_session"),
    [
        # Usual level 9.0; the concern at 4–5, then the follow-up.
        ((9.0, 9.0, 9.0, 6.0, 6.0), WATCHING, None),
        ((9.0, 9.0, 9.0, 6.0, 6.0, 9.0), RECOVERED, 6),
        # Exactly the margin below the usual level is back within it.
        ((9.0, 9.0, 9.0, 6.0, 6.0, 8.0), RECOVERED, 6),
        ((9.0, 9.0, 9.0, 6.0, 6.0, 7.8), WATCHING, None),
        ((9.0, 9.0, 9.0, 6.0, 6.0, 7.8, 8.0), RECOVERED, 7),
        ((9.0, 9.0, 9.0, 6.0, 6.0, 7.8, 7.7), NOT_RECOVERED, None),
        # Sessions without a client rating are not counted as follow-up ratings.
        ((9.0, 9.0, 9.0, 6.0, 6.0, None, "no_show", 7.0), WATCHING, None),
        ((9.0, 9.0, 9.0, 6.0, 6.0, None, 7.0, None, 9.5), RECOVERED, 9),
        # Only the next two ratings count: a later recovery is too late.
        ((9.0, 9.0, 9.0, 6.0, 6.0, 7.0, 7.0, 9.0), NOT_RECOVERED, None),
        # Better than usual is back, too.
        ((8.0, 8.0, 8.0, 5.0, 5.0, 10.0), RECOVERED, 6),
    ],
)
def test_the_follow_up_reads_the_next_two_client_ratings(entries, state, at_session) -> None:
    result = judged(*entries)
    assert (result.state, result.at_session) == (state, at_session)


def test_the_usual_level_is_the_mean_of_the_ratings_before_the_concern() -> None:
    # Usual (9.0 + 8.0 + 10.0) / 3 = 9.0; the ratings during the concern do not lower it.
    result = judged(9.0, 8.0, 10.0, 2.0, 2.0, 8.0)
    assert result.state == RECOVERED
    assert result.evidence == {"usual": 9.0, "margin": 1.0, "scores": [8.0], "sessions": [6]}


@pytest.mark.parametrize(
    ("score", "state"),
    [(8.01, RECOVERED), (8.0, RECOVERED), (7.99, WATCHING), (7.9, WATCHING)],
)
def test_at_and_around_the_margin(score: float, state: str) -> None:
    history = points(9.0, 9.0, 9.0, 6.0, 6.0, 9.0)
    history[5] = forced(history[5], score)
    result = recovery(history, concern_began=4, reviewed_through=5, t=MARGIN_ONE)
    assert result.state == state


def test_the_margin_is_the_reliable_change_index_of_the_clinic() -> None:
    # Default r = .70, SD = 1.0: 1.96 × √0.6 ≈ 1.52, so 7.5 is back from 9.0 and 7.4 is not.
    history = points(9.0, 9.0, 9.0, 6.0, 6.0, 9.0, 9.0)
    history[5] = forced(history[5], 7.4)
    history[6] = forced(history[6], 7.5)
    result = recovery(history, concern_began=4, reviewed_through=5, t=Thresholds())
    assert (result.state, result.at_session) == (RECOVERED, 7)
    assert result.evidence == {
        "usual": 9.0,
        "margin": 1.52,
        "scores": [7.4, 7.5],
        "sessions": [6, 7],
    }


def test_not_recovered_keeps_both_ratings_as_evidence() -> None:
    result = judged(9.0, 9.0, 9.0, 6.0, 6.0, 7.0, 6.5)
    assert result.state == NOT_RECOVERED
    assert result.finished
    assert result.evidence == {
        "usual": 9.0,
        "margin": 1.0,
        "scores": [7.0, 6.5],
        "sessions": [6, 7],
    }


def test_a_client_with_no_rating_before_the_concern_has_no_usual_level() -> None:
    result = judged(None, None, None, 6.0, 6.0, 9.0, began=4)
    assert result.state == NO_BASELINE
    assert result.finished


def test_watching_is_not_finished() -> None:
    assert not judged(9.0, 9.0, 9.0, 6.0, 6.0).finished


def test_the_usual_level_counts_in_tenths_like_reliable_drop() -> None:
    assert follow_up.usual_level(points(9.2, 9.3)) == 9.25
    assert follow_up.usual_level(points(None, "no_show")) is None
    assert dataclasses.is_dataclass(follow_up.Recovery)
