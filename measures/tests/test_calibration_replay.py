"""Calibration's replay: a rule's findings are kept by the thresholds it reads, so each
rule must read no others, and a replay under many thresholds must count what a replay
under each alone would."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from measures import calibration, rules
from measures.calibration import ClientHistory, Replay
from measures.grouping import simulate_concerns
from measures.history import Point, Thresholds

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
NOW = START + dt.timedelta(weeks=30)
SINCE = NOW - dt.timedelta(weeks=calibration.WINDOW_WEEKS)

RUPTURE = st.sampled_from(["", "none", "a_little", "a_lot"])
TALKED_THROUGH = st.sampled_from(["", "fully", "partly", "not_at_all"])
DIMENSION_SCORES = st.tuples(*[st.integers(0, 10)] * 6)


@st.composite
def histories(draw: st.DrawFn, client: int = 0) -> list[Point]:
    """One client's sessions, weekly or so: attended (rated by either, both or neither, with
    or without a rupture), cancelled or missed; the latest may be inside its rating window."""
    history = []
    moment = START
    for number in range(1, draw(st.integers(0, 24)) + 1):
        moment += dt.timedelta(days=draw(st.integers(3, 14)))
        attendance = draw(st.sampled_from(["attended"] * 4 + ["cancelled", "no_show"]))
        common = {"session_id": client * 1000 + number, "number": number, "starts_at": moment}
        if attendance != "attended":
            history.append(Point(**common, attendance=attendance))
            continue
        rated = draw(st.booleans())
        history.append(
            Point(
                **common,
                client=draw(DIMENSION_SCORES) if rated else None,
                rupture=draw(RUPTURE) if rated else "",
                rupture_resolved=draw(TALKED_THROUGH) if rated else "",
                therapist=draw(st.none() | DIMENSION_SCORES),
                therapist_rupture=draw(RUPTURE),
                therapist_rupture_resolved=draw(TALKED_THROUGH),
            )
        )
    return history


# A value of every threshold, each drawn over the range a clinic could set.
THRESHOLD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "cutoff": st.sampled_from([6.0, 8.5, 9.0, 9.5]),
    "cutoff_operator": st.sampled_from(["lt", "le"]),
    "sd": st.sampled_from([0.4, 0.7, 1.0, 1.6]),
    "reliability": st.sampled_from([0.1, 0.5, 0.7, 0.9]),
    "min_earlier_ratings": st.integers(1, 6),
    "own_sd_multiplier": st.sampled_from([1.0, 2.0, 3.0]),
    "dimension_drop": st.integers(1, 7),
    "trend_length": st.integers(2, 5),
    "trend_min_fall": st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    "trend_below_usual": st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    "discrepancy": st.sampled_from([0.5, 1.0, 1.5, 3.0]),
    "missed_in_a_row": st.integers(1, 4),
    "unrated_in_a_row": st.integers(1, 5),
    "rating_grace": st.integers(1, 10).map(lambda days: dt.timedelta(days=days)),
    "context_rules": st.sampled_from(
        [frozenset(), frozenset({rules.BELOW_CUTOFF}), frozenset({rules.RATER_DISCREPANCY})]
    ),
    "minor_rupture_alerts": st.booleans(),
}
thresholds = st.fixed_dictionaries(THRESHOLD_VALUES).map(lambda values: Thresholds(**values))


def test_every_threshold_is_drawn_and_every_rule_is_replayed() -> None:
    names = {f.name for f in dataclasses.fields(Thresholds)}
    assert set(THRESHOLD_VALUES) == names
    assert {read for rule in rules.RULES for read in rule.reads} <= names
    assert len(rules.RULES) == len(rules.SCORE_RULES) + 2  # and the two that need a clock


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=histories(),
    t=thresholds,
    others=st.fixed_dictionaries({}, optional=THRESHOLD_VALUES),
    now=st.integers(0, 400).map(lambda days: START + dt.timedelta(days=days)),
)
def test_each_rule_reads_only_the_thresholds_it_names(
    history: list[Point], t: Thresholds, others: dict[str, Any], now: dt.datetime
) -> None:
    """Whatever else changes, a rule finds the same: else a replay would reuse findings
    made under thresholds the rule sees differently."""
    for rule in rules.RULES:
        unread = {name: value for name, value in others.items() if name not in rule.reads}
        changed = dataclasses.replace(t, **unread)
        assert list(rule.find(history, changed, now)) == list(rule.find(history, t, now)), (
            rule.find.__name__,
            unread,
        )


def test_the_rules_in_order_are_evaluate() -> None:
    history = [
        Point(1, 1, START, client=(9,) * 6, therapist=(10,) * 6),
        Point(2, 2, START + dt.timedelta(weeks=1), client=(3,) * 6, rupture="a_lot"),
        Point(3, 3, START + dt.timedelta(weeks=2), attendance="no_show"),
        Point(4, 4, START + dt.timedelta(weeks=3), attendance="cancelled"),
    ]
    t = Thresholds(min_earlier_ratings=1)
    found = [f for rule in rules.RULES for f in rule.find(history, t, NOW)]
    assert found == rules.evaluate(history, t, NOW)
    assert {f.rule for f in found} >= {
        rules.BELOW_CUTOFF,
        rules.DIMENSION_DROP,
        rules.RUPTURE_UNRESOLVED,
        rules.DISENGAGEMENT,
    }


def rates_alone(clients: list[ClientHistory], t: Thresholds) -> dict[str, float]:
    """What the thresholds would have opened, every rule evaluated afresh (as before the
    replay kept findings): the replay must count the same."""
    therapists = {c.therapist_id for c in clients if any(p.starts_at >= SINCE for p in c.history)}
    therapist_weeks = max(len(therapists), 1) * calibration.WINDOW_WEEKS
    opened: Counter[str] = Counter()
    for client in clients:
        starts = {p.session_id: p.starts_at for p in client.history}
        for concern in simulate_concerns(client.history, t, NOW):
            if starts[concern.opened_session_id] >= SINCE:
                opened[concern.opening_rule] += 1
    rates = {rule: round(count / therapist_weeks, 3) for rule, count in opened.items()}
    rates["all"] = round(sum(opened.values()) / therapist_weeks, 3)
    return rates


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    base=thresholds,
    curve=st.sampled_from(calibration.CURVES),
)
def test_a_replay_under_many_thresholds_counts_what_each_would_alone(
    data: st.DataObject, base: Thresholds, curve: calibration.Curve
) -> None:
    """A curve's points, then thresholds unlike any before: each counted as if alone."""
    clients = [
        ClientHistory(n, therapist_id=n % 3, stable=True, history=data.draw(histories(client=n)))
        for n in range(data.draw(st.integers(1, 8)))
    ]
    settings_ = [curve.set_to(base, value) for value in curve.values]
    settings_ += data.draw(st.lists(thresholds, max_size=3))
    seen = []
    replay = Replay(clients, SINCE, NOW, on_progress=seen.append)
    for t in settings_:
        assert replay.rates(t) == rates_alone(clients, t)
    assert replay.replayed == len(clients) * len(settings_)
