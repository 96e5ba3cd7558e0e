"""The tuned defaults, exactly at each threshold; the therapist's rupture answer; repairs.

The defaults come from the signal benchmark (bench/signal.py); README "Signals and
concerns" says why each one is what it is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.conf import settings

from measures import rules
from measures.history import Point, Thresholds
from measures.tests.test_rules import (
    LATER,
    ScoreRule,
    at,
    dimensions,
    forced,
    point,
    points,
    with_rupture,
    with_therapist,
)

DEFAULT = Thresholds()


def fired(rule: ScoreRule, history: list[Point], t: Thresholds = DEFAULT) -> list[int]:
    return at(rule(history, t))


def therapist_saw(p: Point, rupture: str, resolved: str, score: float = 9.5) -> Point:
    """`p` rated by the therapist too, who noticed a rupture."""
    rated = with_therapist(p, score)
    return rated._replace(therapist_rupture=rupture, therapist_rupture_resolved=resolved)


# --- The defaults are the settings' defaults -------------------------------------------


def test_the_dataclass_defaults_are_the_settings_defaults() -> None:
    assert Thresholds.from_settings() == DEFAULT
    assert settings.ALLIANCE_CONTEXT_RULES == ["below_cutoff"]
    assert settings.ALLIANCE_MINOR_RUPTURE_ALERTS is False


@pytest.mark.parametrize(
    ("rule", "severity", "alerts"),
    [
        ("below_cutoff", "low", False),  # context: shown, never alerting alone
        ("reliable_drop", "high", True),
        ("dimension_drop", "medium", True),
        ("declining_trend", "medium", True),
        ("rater_discrepancy", "medium", True),
        ("disengagement", "medium", True),
        ("rupture_unresolved", "high", True),
        ("rupture_unresolved", "low", False),  # a small rupture, when minor ones do not alert
    ],
)
def test_each_signal_either_alerts_or_is_context(rule: str, severity: str, alerts: bool) -> None:
    assert DEFAULT.alerts(rule, severity) is alerts


def test_a_clinic_can_make_any_rule_context() -> None:
    t = dataclasses.replace(DEFAULT, context_rules=frozenset({"below_cutoff", "declining_trend"}))
    assert not t.alerts("declining_trend", "medium")


# --- Each default, exactly at its threshold --------------------------------------------


def test_reliable_drop_waits_for_four_earlier_ratings() -> None:
    assert fired(rules.reliable_drop, points(9.0, 9.0, 9.0, 6.0)) == []
    assert fired(rules.reliable_drop, points(9.0, 9.0, 9.0, 9.0, 6.0)) == [5]


@pytest.mark.parametrize(("after", "fires"), [(6, False), (5, True), (4, True)])
def test_dimension_drop_needs_a_fall_of_four(after: int, fires: bool) -> None:
    history = points(dimensions(trust=9), dimensions(trust=after))
    assert fired(rules.dimension_drop, history) == ([2] if fires else [])


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # The issue's example: three small falls near the ceiling are noise.
        (points(9.8, 9.8, 9.8, 9.7, 9.5), []),
        # A slide of 2.0 ending 1.0 below the usual 9.5: exactly at both thresholds.
        (points(9.5, 9.5, 10.0, 9.0, 8.0), [5]),
        # The same slide from a noisy high that ends at the usual level: not a decline.
        (points(8.5, 8.5, 10.0, 9.0, 8.0), []),
        # Ends 1.3 below usual but fell only 1.8 in the run.
        (points(9.5, 9.5, 10.0, 9.0, 8.2), []),
        # With no earlier rating, there is no usual level to fall below.
        (points(10.0, 9.0, 7.0), []),
    ],
)
def test_declining_trend_needs_a_real_fall_below_the_usual_level(
    history: list[Point], expected: list[int]
) -> None:
    assert fired(rules.declining_trend, history) == expected


def test_declining_trend_evidence_has_the_fall_and_the_usual_level() -> None:
    [finding] = rules.declining_trend(points(9.5, 9.5, 10.0, 9.0, 8.0), DEFAULT)
    assert finding.evidence == {
        "scores": [10.0, 9.0, 8.0],
        "sessions": [3, 4, 5],
        "fall": 2.0,
        "usual": 9.5,
    }


@pytest.mark.parametrize(("therapist", "fires"), [(8.3, False), (8.5, True), (9.0, True)])
def test_rater_discrepancy_fires_at_one_and_a_half_points(therapist: float, fires: bool) -> None:
    # The client 7.0: 8.3 is 1.3 above, 8.5 exactly 1.5.
    history = [with_therapist(point(1, 7.0), therapist)]
    assert fired(rules.rater_discrepancy, history) == ([1] if fires else [])


def test_four_unanswered_forms_in_a_row_are_disengagement() -> None:
    assert at(rules.disengagement(points(9.0, None, None, None), DEFAULT, LATER)) == []
    assert at(rules.disengagement(points(9.0, None, None, None, None), DEFAULT, LATER)) == [5]


# --- Ruptures: both chairs, the client's last word, repairs ------------------------------


@pytest.mark.parametrize(
    ("rupture", "resolved", "severity"),
    [
        ("a_little", "partly", "low"),  # context by default: shown in a concern, never opening
        ("a_little", "not_at_all", "low"),
        ("a_lot", "partly", "high"),
        ("a_lot", "not_at_all", "high"),
        ("a_lot", "fully", None),  # a repair
    ],
)
def test_by_default_only_a_large_rupture_alerts(
    rupture: str, resolved: str, severity: str | None
) -> None:
    findings = list(
        rules.rupture_unresolved([with_rupture(point(1, 9.0), rupture, resolved)], DEFAULT)
    )
    assert [f.severity for f in findings] == ([severity] if severity else [])


def test_a_rupture_only_the_therapist_saw_is_a_signal() -> None:
    seen = therapist_saw(point(1, 9.5), "a_little", "not_at_all")
    [finding] = rules.rupture_unresolved([seen], DEFAULT, LATER)
    assert finding.evidence == {
        "client": {"rupture": "none"},
        "therapist": {"rupture": "a_little", "talked_through": "not_at_all"},
    }
    assert finding.severity == "low"
    classic = dataclasses.replace(DEFAULT, minor_rupture_alerts=True)
    assert [f.severity for f in rules.rupture_unresolved([seen], classic, LATER)] == ["high"]


def test_a_therapist_rupture_of_a_lot_alerts_whatever_the_client_said() -> None:
    seen = therapist_saw(point(1, 9.5), "a_lot", "partly")
    [finding] = rules.rupture_unresolved([seen], DEFAULT, LATER)
    assert finding.severity == "high"


def test_when_both_report_one_the_evidence_keeps_both_answers() -> None:
    both = therapist_saw(with_rupture(point(1, 7.0), "a_lot", "partly"), "a_little", "partly")
    [finding] = rules.rupture_unresolved([both], DEFAULT, LATER)
    assert finding.evidence == {
        "client": {"rupture": "a_lot", "talked_through": "partly"},
        "therapist": {"rupture": "a_little", "talked_through": "partly"},
    }


def test_the_clients_fully_talked_through_is_the_last_word() -> None:
    repaired = therapist_saw(with_rupture(point(1, 9.0), "a_little", "fully"), "a_lot", "partly")
    assert list(rules.rupture_unresolved([repaired], DEFAULT, LATER)) == []
    assert rules.repaired(repaired)


def test_a_rupture_only_the_therapist_saw_waits_for_the_clients_answer() -> None:
    unrated = therapist_saw(point(1, None), "a_lot", "not_at_all")
    within = unrated.starts_at + DEFAULT.rating_grace - dt.timedelta(seconds=1)
    assert list(rules.rupture_unresolved([unrated], DEFAULT, within)) == []
    closed = unrated.starts_at + DEFAULT.rating_grace
    [finding] = rules.rupture_unresolved([unrated], DEFAULT, closed)
    assert finding.evidence == {"therapist": {"rupture": "a_lot", "talked_through": "not_at_all"}}


def test_a_therapist_who_saw_no_rupture_says_nothing() -> None:
    quiet = therapist_saw(point(1, 9.0), "none", "")
    assert list(rules.rupture_unresolved([quiet], DEFAULT, LATER)) == []


@pytest.mark.parametrize(
    ("p", "repair"),
    [
        (with_rupture(point(1, 9.0), "a_little", "fully"), True),
        (with_rupture(point(1, 9.0), "a_lot", "partly"), False),
        (point(1, 9.0), False),
        (therapist_saw(point(1, 9.0), "a_little", "fully"), True),  # the therapist's repair
        (therapist_saw(with_rupture(point(1, 8.0), "a_lot", "partly"), "a_little", "fully"), False),
        (therapist_saw(point(1, None), "a_little", "partly"), False),
    ],
)
def test_a_repair_is_a_rupture_reported_as_fully_talked_through(p: Point, repair: bool) -> None:
    assert rules.repaired(p) is repair


def test_evaluate_at_the_defaults_finds_the_issues_noise_quiet() -> None:
    """Ceiling noise — 9.8, 9.7, 9.5, a 0.3 dip, a therapist a little above — raises nothing
    but context."""
    history = [
        with_therapist(point(n, score), min(10.0, score + 0.5))
        for n, score in enumerate([9.8, 10.0, 9.8, 9.7, 9.5, 9.8, 8.8, 9.5], start=1)
    ]
    found = {(f.rule, f.session_id - 1000) for f in rules.evaluate(history, DEFAULT, LATER)}
    assert found == {("below_cutoff", 7)}
    assert not any(DEFAULT.alerts(rule, "medium") for rule, _ in found)


def test_forced_scores_still_work_with_the_defaults() -> None:
    history = [*points(9.0, 9.0, 9.0, 9.0), forced(point(5, 9.0), 7.4)]
    assert fired(rules.reliable_drop, history) == [5]
