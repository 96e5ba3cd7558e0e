"""Grouping signals into concerns, on plain values: one episode per client, and a closed
concern reopened only for something new."""

from __future__ import annotations

import dataclasses

import pytest

from measures.grouping import Closed, Signal, group, is_new, outcome_raise, simulate_concerns
from measures.history import Point, Thresholds
from measures.tests.test_rules import LATER, point, points, with_rupture, with_therapist

T = Thresholds()  # reliable change 1.52


def signal(number: int, rule: str = "reliable_drop", severity: str = "high") -> Signal:
    return Signal(key=(number, rule), number=number, rule=rule, severity=severity)


CONTEXT = "below_cutoff"


def placed(result: object, attribute: str) -> list[tuple[int, str]]:
    return [signal.key for signal in getattr(result, attribute)]


# --- group(): opening and joining ------------------------------------------------------


def test_the_first_alerting_signal_opens_a_concern_and_the_rest_join_it() -> None:
    result = group(
        [
            signal(6, "rater_discrepancy", "medium"),
            signal(5),
            signal(7, "dimension_drop", "medium"),
        ],
        open_severity=None,
        closed=None,
        scores={},
        t=T,
    )
    assert result.opens
    assert placed(result, "joined") == [
        (5, "reliable_drop"),
        (6, "rater_discrepancy"),
        (7, "dimension_drop"),
    ]
    assert result.severity == "high"
    assert result.outside == []


def test_context_alone_never_opens_a_concern() -> None:
    result = group(
        [signal(n, CONTEXT, "low") for n in (3, 4, 5)],
        open_severity=None,
        closed=None,
        scores={},
        t=T,
    )
    assert not result.opens and result.joined == [] and result.severity is None
    assert len(result.outside) == 3


def test_context_joins_a_concern_something_else_opened_from_that_session_on() -> None:
    result = group(
        [signal(4, CONTEXT, "low"), signal(5, CONTEXT, "low"), signal(5, "reliable_drop")],
        open_severity=None,
        closed=None,
        scores={},
        t=T,
    )
    assert placed(result, "joined") == [(5, "reliable_drop"), (5, CONTEXT)]
    assert placed(result, "outside") == [(4, CONTEXT)]
    assert result.severity == "high"  # context never sets the severity


def test_an_open_concern_takes_every_new_signal_and_may_grow_more_severe() -> None:
    result = group(
        [signal(9, CONTEXT, "low"), signal(9, "dimension_drop", "medium"), signal(10)],
        open_severity="medium",
        closed=None,
        scores={},
        t=T,
    )
    assert not result.opens
    assert len(result.joined) == 3
    assert result.severity == "high"


def test_a_less_severe_signal_leaves_the_severity_as_it_was() -> None:
    result = group(
        [signal(9, "dimension_drop", "medium")],
        open_severity="high",
        closed=None,
        scores={},
        t=T,
    )
    assert result.severity == "high"


def test_within_a_session_the_most_specific_signal_opens_the_concern() -> None:
    at_five = [
        signal(5, "dimension_drop", "medium"),
        signal(5, "reliable_drop"),
        signal(5, "rupture_unresolved"),
    ]
    result = group(at_five, open_severity=None, closed=None, scores={}, t=T)
    assert result.joined[0].rule == "rupture_unresolved"


def test_a_small_rupture_is_context_when_small_ruptures_do_not_alert() -> None:
    small = signal(5, "rupture_unresolved", "low")
    assert not group([small], open_severity=None, closed=None, scores={}, t=T).opens


# --- is_new(): after a concern is closed -----------------------------------------------

CLOSED_AT_SIX = Closed(through=6, level=6.7)


@pytest.mark.parametrize(
    ("scores", "number", "new"),
    [
        # The same low stretch goes on: 6.5 is not reliably below the 6.7 at closing.
        ({7: 6.5}, 7, False),
        ({7: 6.8, 8: 6.4}, 8, False),
        # A further reliable fall from the level at closing: 6.7 − 5.1 = 1.6 > 1.52.
        ({7: 5.1}, 7, True),
        ({7: 5.2}, 7, False),  # 1.5: not beyond the reliable change
        # A recovery, then a fall from the recovered level: a new episode.
        ({7: 9.6, 8: 9.5, 9: 7.5}, 9, True),
        ({7: 9.6, 8: 9.5, 9: 8.5}, 9, False),
        # A level signal needs a client score at its session.
        ({7: None}, 7, False),
    ],
)
def test_a_level_signal_after_closing_is_new_only_after_a_further_reliable_fall(
    scores: dict[int, float | None], number: int, new: bool
) -> None:
    assert is_new(signal(number, "rater_discrepancy", "medium"), CLOSED_AT_SIX, scores, T) is new


@pytest.mark.parametrize("rule", ["rupture_unresolved", "disengagement"])
def test_a_rupture_or_missed_sessions_are_always_new(rule: str) -> None:
    assert is_new(signal(7, rule, "high"), CLOSED_AT_SIX, {7: 6.6}, T)


def test_with_nothing_closed_every_alerting_signal_is_new() -> None:
    assert is_new(signal(2), None, {2: 9.0}, T)


def test_a_closed_concern_without_scores_compares_with_what_came_after() -> None:
    closed = Closed(through=4, level=None)
    assert is_new(signal(6), closed, {5: 9.5, 6: 7.0}, T)
    assert not is_new(signal(6), closed, {5: 7.2, 6: 7.0}, T)
    assert is_new(signal(6), closed, {6: 7.0}, T)  # nothing at all to compare with


def test_the_reliable_change_is_the_clinics() -> None:
    wider = dataclasses.replace(T, sd=2.0)  # reliable change 3.04
    assert not is_new(signal(7), CLOSED_AT_SIX, {7: 4.0}, wider)
    assert is_new(signal(7), CLOSED_AT_SIX, {7: 3.6}, wider)


def test_a_signal_not_new_stays_outside() -> None:
    result = group(
        [signal(7, "rater_discrepancy", "medium"), signal(7, CONTEXT, "low")],
        open_severity=None,
        closed=CLOSED_AT_SIX,
        scores={7: 6.6},
        t=T,
    )
    assert not result.opens and len(result.outside) == 2


# --- simulate_concerns(): whole histories ----------------------------------------------


def low_stretch() -> list[Point]:
    """Five good sessions, then six at 6.5 the therapist rates 9.5: one slide, not six."""
    good = points(9.8, 9.8, 9.7, 9.8, 9.8)
    low = [with_therapist(point(n, 6.5), 9.5) for n in range(6, 12)]
    return [*good, *low]


def test_a_continuing_low_stretch_is_one_concern_not_one_a_session() -> None:
    concerns = simulate_concerns(low_stretch(), T, LATER)
    assert len(concerns) == 1
    [concern] = concerns
    assert concern.opening_rule == "reliable_drop"
    assert concern.opened_number == 6
    # Session 6 and the next (reviewed after it); later sessions belong to the closed stretch.
    assert {session_id - 1000 for session_id, _ in concern.signals} == {6, 7}


def test_a_further_reliable_fall_after_closing_opens_a_second_concern() -> None:
    history = [*low_stretch(), with_therapist(point(12, 4.8), 9.5)]
    concerns = simulate_concerns(history, T, LATER)
    assert [c.opened_number for c in concerns] == [6, 12]


def test_a_new_rupture_after_closing_opens_a_second_concern() -> None:
    history = low_stretch()
    history[8] = with_rupture(history[8], "a_lot", "not_at_all")  # session 9
    concerns = simulate_concerns(history, T, LATER)
    assert [(c.opened_number, c.opening_rule) for c in concerns] == [
        (6, "reliable_drop"),
        (9, "rupture_unresolved"),
    ]


def test_a_steady_ceiling_history_opens_nothing() -> None:
    history = [
        with_therapist(point(n, score), 9.5)
        for n, score in enumerate([9.8, 10.0, 9.7, 9.8, 9.5, 10.0, 9.8, 9.7], start=1)
    ]
    assert simulate_concerns(history, T, LATER) == []


def test_closing_later_lets_more_of_the_episode_join() -> None:
    concerns = simulate_concerns(low_stretch(), T, LATER, closed_after_sessions=3)
    assert len(concerns) == 1
    assert {session_id - 1000 for session_id, _ in concerns[0].signals} == {6, 7, 8, 9}


@pytest.mark.parametrize(
    ("severity", "alliance", "not_on_track", "already", "expected"),
    [
        # An alliance concern of a client off track rises one level, and says from what.
        ("low", True, True, False, ("medium", "low")),
        ("medium", True, True, False, ("high", "medium")),
        # High has nowhere to go: not raised, nothing to say.
        ("high", True, True, False, ("high", "")),
        # On track: as the alliance signals put it.
        ("medium", True, False, False, ("medium", "")),
        # Once raised it stays raised while open, though the client is back on track.
        ("medium", True, False, True, ("high", "medium")),
        # A concern about the outcome alone is not raised by the outcome.
        ("medium", False, True, False, ("medium", "")),
    ],
)
def test_a_not_on_track_clients_alliance_concern_is_raised_one_level(
    severity: str, alliance: bool, not_on_track: bool, already: bool, expected: tuple[str, str]
) -> None:
    raised = outcome_raise(
        severity, alliance=alliance, not_on_track=not_on_track, already_raised=already
    )
    assert raised == expected
