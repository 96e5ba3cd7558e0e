"""The rules, on hand-written series: fires, does not fire, and exactly at each threshold.

The mechanics of each rule are tested at the design's first thresholds (`CLASSIC`), which make
small hand-written series fire; the tuned defaults (`DEFAULT`) have their own tests below each
rule, at exactly their thresholds.

A series is written as `points(9.5, 9.0, None, "no_show", …)`: a number is an attended
session the client rated (six whole-number dimensions averaging that score), None an
attended session without a client rating, "cancelled"/"no_show" a missed session. Sessions
are numbered from 1, a week apart; a session's id is 1000 + its number.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence

import pytest

from measures import evidence, history, rules, tracking
from measures.history import Finding, Point, Thresholds, mean_score
from measures.models import Flag, Rating
from measures.scoring import DIMENSIONS
from sessions.models import Session

START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)
LATER = START + dt.timedelta(days=365)  # long after every session's rating window
DEFAULT = Thresholds()
# DESIGN.md's first defaults, before tuning on the signal benchmark.
CLASSIC = Thresholds(
    min_earlier_ratings=3,
    dimension_drop=3,
    trend_min_fall=0.0,
    trend_below_usual=0.0,
    discrepancy=2.0,
    unrated_in_a_row=3,
    minor_rupture_alerts=True,
)


def classic(**changes: object) -> Thresholds:
    return dataclasses.replace(CLASSIC, **changes)


Entry = float | str | tuple[int, ...] | None
ScoreRule = Callable[[Sequence[Point], Thresholds], Iterator[Finding]]


def dims(score: float) -> tuple[int, ...]:
    """Six whole-number dimensions whose alliance score is `score`."""
    for total in range(61):
        low, extra = divmod(total, 6)
        values = (low + 1,) * extra + (low,) * (6 - extra)
        if mean_score(values) == score:
            return values
    raise ValueError(f"No six whole numbers from 0 to 10 have the alliance score {score}.")


def dimensions(base: int = 9, **changes: int) -> tuple[int, ...]:
    """Six dimensions at `base`, except those named: dimensions(trust=5)."""
    return tuple(changes.get(name, base) for name in DIMENSIONS)


def point(number: int, entry: Entry = None) -> Point:
    common = {"session_id": 1000 + number, "number": number}
    starts_at = START + (number - 1) * WEEK
    if entry in ("cancelled", "no_show"):
        return Point(**common, starts_at=starts_at, attendance=entry)
    if entry is None:
        return Point(**common, starts_at=starts_at)
    client = entry if isinstance(entry, tuple) else dims(entry)
    return Point(**common, starts_at=starts_at, client=client)


def points(*entries: Entry) -> list[Point]:
    return [point(number, entry) for number, entry in enumerate(entries, start=1)]


def with_rupture(p: Point, rupture: str, resolved: str = "") -> Point:
    return p._replace(rupture=rupture, rupture_resolved=resolved)


def with_therapist(p: Point, score: float) -> Point:
    return p._replace(therapist=dims(score))


def forced(p: Point, score: float) -> Point:
    """A point whose client score is `score` even where six whole numbers cannot give it
    (7.4, 6.9): the reliable-change arithmetic is checked at a finer grain than the form's.
    (The named tuple's own copy, which keeps the scores it is given.)"""
    return tuple.__new__(Point, (*p[:-2], score, p.therapist_score))


def at(findings: Iterable[Finding]) -> list[int]:
    """The session numbers where the findings fired, in order."""
    return [finding.session_id - 1000 for finding in findings]


def score_rule(rule: ScoreRule, history: list[Point], t: Thresholds = CLASSIC) -> list[Finding]:
    return list(rule(history, t))


def disengaged(
    history: list[Point], t: Thresholds = CLASSIC, now: dt.datetime = LATER
) -> list[Finding]:
    return list(rules.disengagement(history, t, now))


# --- The builder itself ----------------------------------------------------------------


def test_the_builder_makes_the_scores_it_is_asked_for() -> None:
    history = points(9.5, 9.0, None, "no_show", 8.2)
    assert [p.client_score for p in history] == [9.5, 9.0, None, None, 8.2]
    assert [p.attendance for p in history] == ["attended"] * 3 + ["no_show", "attended"]


def test_the_builder_refuses_a_score_six_whole_numbers_cannot_make() -> None:
    with pytest.raises(ValueError, match=r"7\.4"):
        dims(7.4)


# --- Names, severities, short histories ------------------------------------------------

ALL_RULES = [
    rules.below_cutoff,
    rules.reliable_drop,
    rules.dimension_drop,
    rules.declining_trend,
    rules.rupture_unresolved,
    rules.rater_discrepancy,
]


def test_a_point_works_out_its_scores_when_made_and_when_changed() -> None:
    p = Point(1, 1, START, client=dimensions(9, trust=3))
    assert (p.client_score, p.therapist_score) == (8.0, None)
    changed = p._replace(client=dimensions(6), therapist=dimensions(8))
    assert (changed.client_score, changed.therapist_score) == (6.0, 8.0)
    assert p.client_score == 8.0  # unchanged: a point is a value
    with pytest.raises(AttributeError):
        p.client_score = 5.0  # type: ignore[misc]
    assert copy.deepcopy(p) == pickle.loads(pickle.dumps(p)) == p


def test_rule_names_and_severities_are_the_flag_model_values() -> None:
    assert {
        rules.BELOW_CUTOFF,
        rules.RELIABLE_DROP,
        rules.DIMENSION_DROP,
        rules.DECLINING_TREND,
        rules.RUPTURE_UNRESOLVED,
        rules.RATER_DISCREPANCY,
        rules.DISENGAGEMENT,
        tracking.NOT_ON_TRACK,
    } == set(Flag.Rule.values)
    assert {rules.LOW, rules.MEDIUM, rules.HIGH} == set(Flag.Severity.values)


def test_the_pure_rules_and_their_wording_know_every_stored_answer() -> None:
    # The rules and evidence stay free of the ORM, so they spell the stored values
    # themselves; this holds them to the models' choices.
    attendance = Session.Attendance
    assert history.ATTENDED == attendance.ATTENDED
    assert {attendance.CANCELLED, attendance.NO_SHOW} == history.MISSED
    assert set(evidence.ATTENDANCE_WORDS) == set(attendance.values)
    assert set(Rating.Rupture.values) - {Rating.Rupture.NONE} == rules.RUPTURES
    assert set(evidence.RUPTURE_WORDS) == set(Rating.Rupture.values)
    assert set(evidence.TALKED_THROUGH_WORDS) == {*Rating.RuptureResolved.values, "unanswered"}


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.__name__)
@pytest.mark.parametrize(
    "history",
    [[], points(9.5), points(None), points("no_show"), points(None, None)],
    ids=["empty", "one-high-rating", "one-unrated", "one-missed", "two-unrated"],
)
def test_a_history_too_short_to_judge_yields_nothing(rule: ScoreRule, history: list[Point]) -> None:
    assert score_rule(rule, history) == []


@pytest.mark.parametrize(
    "history", [[], points(9.5), points(None, None), points("no_show")], ids=str
)
def test_a_history_too_short_shows_no_disengagement(history: list[Point]) -> None:
    assert disengaged(history) == []


# --- below_cutoff ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "cutoff", "operator", "fires"),
    [
        (8.8, 9.0, "lt", True),  # just below
        (9.0, 9.0, "lt", False),  # equal: "lt" wants strictly below
        (9.2, 9.0, "lt", False),  # just above
        (8.8, 9.0, "le", True),
        (9.0, 9.0, "le", True),  # equal: "le" includes the cut-off
        (9.2, 9.0, "le", False),
        (7.8, 8.0, "lt", True),  # a non-default cut-off
        (8.0, 8.0, "lt", False),
        (8.8, 8.0, "lt", False),
        (0.0, 9.0, "lt", True),
        (10.0, 10.0, "le", True),
    ],
)
def test_below_cutoff_compares_the_score_with_the_cutoff_and_operator(
    score: float, cutoff: float, operator: str, fires: bool
) -> None:
    t = classic(cutoff=cutoff, cutoff_operator=operator)
    assert at(score_rule(rules.below_cutoff, points(score), t)) == ([1] if fires else [])


def test_below_cutoff_fires_at_every_low_rating_and_never_at_unrated_or_missed() -> None:
    history = points(8.5, None, "no_show", 9.5, 8.8, "cancelled", 9.0)
    assert at(score_rule(rules.below_cutoff, history)) == [1, 5]


def test_below_cutoff_evidence_and_severity() -> None:
    [finding] = score_rule(rules.below_cutoff, points(8.5))
    assert finding == Finding(
        session_id=1001,
        rule="below_cutoff",
        severity="low",
        evidence={"score": 8.5, "cutoff": 9.0, "operator": "lt"},
    )


# --- reliable_drop ---------------------------------------------------------------------


def test_the_default_reliable_change_is_1_96_times_root_0_6() -> None:
    # 1.96 × SD 1.0 × √(2 × (1 − 0.70)) = 1.96 × √0.6
    assert CLASSIC.reliable_change == pytest.approx(1.96 * math.sqrt(0.6))
    assert CLASSIC.reliable_change == pytest.approx(1.5182, abs=1e-4)


@pytest.mark.parametrize(
    ("earlier", "score", "fires"),
    [
        # Own SD 0 → threshold is the reliable change, 1.52.
        ((9.0, 9.0, 9.0), 7.5, False),  # drop 1.5
        ((9.0, 9.0, 9.0), 7.4, True),  # drop 1.6 (score forced: not a form score)
        ((9.0, 9.0, 9.0), 7.3, True),  # drop 1.7
        # Own SD 1.0 → threshold 2 × 1.0 = 2.0, above the reliable change.
        ((8.0, 9.0, 10.0), 7.2, False),  # drop 1.8
        ((8.0, 9.0, 10.0), 7.0, False),  # drop 2.0: equal does not fire
        ((8.0, 9.0, 10.0), 6.9, True),  # drop 2.1 (forced)
        ((8.0, 9.0, 10.0), 6.8, True),  # drop 2.2
        # Decimals whose float sums are noisy: usual 8.2, SD 1.0, 8.2 − 6.2 is exactly 2.0.
        ((7.2, 8.2, 9.2), 6.2, False),
        ((7.2, 8.2, 9.2), 6.0, True),
        # A rise or a small dip never fires.
        ((9.0, 9.0, 9.0), 9.5, False),
        ((9.0, 9.0, 9.0), 8.2, False),
    ],
)
def test_reliable_drop_fires_beyond_the_stricter_threshold(
    earlier: tuple[float, ...], score: float, fires: bool
) -> None:
    last = forced(point(4, 9.0), score) if score in (7.4, 6.9) else point(4, score)
    history = [*points(*earlier), last]
    assert at(score_rule(rules.reliable_drop, history)) == ([4] if fires else [])


def test_reliable_drop_evidence_shows_the_arithmetic() -> None:
    [finding] = score_rule(rules.reliable_drop, points(8.0, 9.0, 10.0, 6.8))
    assert finding.severity == "high"
    assert finding.evidence == {
        "score": 6.8,
        "usual": 9.0,
        "drop": 2.2,
        "threshold": 2.0,
        "reliable_change": 1.52,
        "own_sd": 1.0,
        "earlier_ratings": 3,
    }


def test_reliable_drop_needs_enough_earlier_client_ratings() -> None:
    assert score_rule(rules.reliable_drop, points(9.0, 9.0, 2.0)) == []
    # Unrated and missed sessions are not ratings.
    assert score_rule(rules.reliable_drop, points(9.0, None, 9.0, "no_show", 2.0)) == []
    assert at(score_rule(rules.reliable_drop, points(9.0, None, 9.0, 9.0, 2.0))) == [5]


def test_reliable_drop_usual_is_the_mean_of_all_earlier_ratings() -> None:
    # At session 5 the earlier ratings are 10, 10, 10, 7: usual 9.25, own SD 1.5 → threshold
    # 3.0, and 7.0 is 2.25 below: no flag, though it is 3 below the 10s before the first drop.
    history = points(10.0, 10.0, 10.0, 7.0, 7.0)
    findings = score_rule(rules.reliable_drop, history)
    assert at(findings) == [4]


@pytest.mark.parametrize(
    ("t", "history", "expected"),
    [
        (classic(min_earlier_ratings=2), points(9.0, 9.0, 2.0), [3]),
        (classic(min_earlier_ratings=4), points(9.0, 9.0, 9.0, 2.0), []),
        # One earlier rating: no SD to speak of, so the reliable change alone decides.
        (classic(min_earlier_ratings=1), points(9.0, 7.3), [2]),
        (classic(min_earlier_ratings=1), points(9.0, 7.5), []),
        # A smaller multiplier of the client's own SD: 1.0 × 1.0 < 1.52, so 1.52 decides.
        (classic(own_sd_multiplier=1.0), points(8.0, 9.0, 10.0, 7.3), [4]),
        (classic(own_sd_multiplier=1.0), points(8.0, 9.0, 10.0, 7.5), []),
        # A wider scale SD: reliable change 3.04.
        (classic(sd=2.0), points(9.0, 9.0, 9.0, 6.0), []),
        (classic(sd=2.0), points(9.0, 9.0, 9.0, 5.8), [4]),
    ],
)
def test_reliable_drop_respects_non_default_thresholds(
    t: Thresholds, history: list[Point], expected: list[int]
) -> None:
    assert at(score_rule(rules.reliable_drop, history, t)) == expected


def test_the_evidence_names_a_multiplier_other_than_the_default() -> None:
    """So the figures say "1.5 times the spread", not "twice"; under the default the
    evidence is as it always was, and no stored signal is rewritten for it."""
    history = points(10.0, 9.0, 10.0, 9.0, 6.0)
    [default] = score_rule(rules.reliable_drop, history)
    assert "own_sd_multiplier" not in default.evidence
    [other] = score_rule(rules.reliable_drop, history, classic(own_sd_multiplier=1.5))
    assert other.evidence["own_sd_multiplier"] == 1.5


# --- dimension_drop --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "by", "fires"),
    [
        (9, 7, 3, False),  # fell 2: just below
        (9, 6, 3, True),  # fell 3: equal fires
        (9, 5, 3, True),  # fell 4
        (9, 6, 4, False),  # a non-default drop
        (9, 5, 4, True),
        (5, 9, 3, False),  # a rise
    ],
)
def test_dimension_drop_fires_when_a_dimension_falls_far_enough(
    before: int, after: int, by: int, fires: bool
) -> None:
    history = points(dimensions(trust=before), dimensions(trust=after))
    findings = score_rule(rules.dimension_drop, history, classic(dimension_drop=by))
    assert at(findings) == ([2] if fires else [])


def test_dimension_drop_compares_with_the_previous_rating_skipping_unrated_and_missed() -> None:
    history = points(dimensions(trust=9), None, "no_show", dimensions(trust=5))
    [finding] = score_rule(rules.dimension_drop, history)
    assert finding.session_id == 1004
    assert finding.severity == "medium"
    assert finding.evidence == {
        "dimensions": [{"name": "trust", "from": 9, "to": 5}],
        "since_session": 1,
    }


def test_dimension_drop_lists_every_fallen_dimension_largest_fall_first() -> None:
    history = points(
        dimensions(9),
        dimensions(9, trust=5, empathy=3, respect=6, growth=7),  # growth fell only 2
    )
    [finding] = score_rule(rules.dimension_drop, history)
    assert finding.evidence["dimensions"] == [
        {"name": "empathy", "from": 9, "to": 3},
        {"name": "trust", "from": 9, "to": 5},
        {"name": "respect", "from": 9, "to": 6},
    ]


def test_dimension_drop_lists_equal_falls_in_form_order() -> None:
    history = points(dimensions(9), dimensions(9, respect=6, trust=6))
    [finding] = score_rule(rules.dimension_drop, history)
    assert [d["name"] for d in finding.evidence["dimensions"]] == ["trust", "respect"]


def test_dimension_drop_fires_once_per_session_against_the_latest_rating() -> None:
    history = points(dimensions(trust=9), dimensions(trust=6), dimensions(trust=4))
    assert at(score_rule(rules.dimension_drop, history)) == [2]  # 6 → 4 is only 2


# --- declining_trend -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (points(9.5, 9.0, 8.2), [3]),
        (points(9.2, 9.0, 8.8), [3]),  # the smallest steps a form can make
        (points(9.5, 9.0, 9.0), []),  # equal is not lower
        (points(9.5, 9.0), []),  # two ratings are not a trend
        (points(9.5, 9.0, 9.2, 8.8), []),  # a rise restarts it
        (points(9.5, 9.0, 8.2, 7.8), [3, 4]),
        (points(9.5, 9.0, 8.2, 8.5, 8.3, 8.0), [3, 6]),
        (points(9.5, None, 9.0, "cancelled", 8.2), [5]),  # among client ratings only
        (points(8.0, 9.0, 10.0), []),
    ],
)
def test_declining_trend_fires_after_consecutive_falls(
    history: list[Point], expected: list[int]
) -> None:
    assert at(score_rule(rules.declining_trend, history)) == expected


def test_declining_trend_evidence_names_the_last_ratings() -> None:
    history = points(9.5, None, 9.0, "cancelled", 8.2, 7.8)
    findings = score_rule(rules.declining_trend, history)
    assert [f.evidence for f in findings] == [
        {"scores": [9.5, 9.0, 8.2], "sessions": [1, 3, 5], "fall": 1.3},
        # The rating before the run is the client's usual level (here, one rating).
        {"scores": [9.0, 8.2, 7.8], "sessions": [3, 5, 6], "fall": 1.2, "usual": 9.5},
    ]
    assert {f.severity for f in findings} == {"medium"}


def test_declining_trend_respects_a_longer_trend_length() -> None:
    t = classic(trend_length=4)
    assert score_rule(rules.declining_trend, points(9.5, 9.0, 8.2), t) == []
    [finding] = score_rule(rules.declining_trend, points(9.5, 9.0, 8.2, 7.8), t)
    assert finding.evidence == {
        "scores": [9.5, 9.0, 8.2, 7.8],
        "sessions": [1, 2, 3, 4],
        "fall": 1.7,
    }


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (points(9.8, 9.7, 9.5), []),  # a 0.3 slide near the ceiling: noise at this setting
        (points(9.5, 9.2, 8.5), [3]),  # exactly the minimum fall
        (points(9.5, 9.2, 8.7), []),  # just short of it
    ],
)
def test_declining_trend_can_require_a_minimum_fall(
    history: list[Point], expected: list[int]
) -> None:
    t = classic(trend_min_fall=1.0)
    assert at(score_rule(rules.declining_trend, history, t)) == expected


# --- rupture_unresolved ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rupture", "resolved", "severity"),
    [
        ("none", "", None),
        ("a_little", "fully", None),
        ("a_lot", "fully", None),
        ("a_little", "partly", "medium"),
        ("a_little", "not_at_all", "high"),
        ("a_little", "", "high"),  # unanswered counts as not talked through
        ("a_lot", "partly", "high"),
        ("a_lot", "not_at_all", "high"),
        ("a_lot", "", "high"),
    ],
)
def test_rupture_unresolved_severity(rupture: str, resolved: str, severity: str | None) -> None:
    history = [with_rupture(point(1, 9.5), rupture, resolved)]
    findings = score_rule(rules.rupture_unresolved, history)
    assert [f.severity for f in findings] == ([severity] if severity else [])


def test_rupture_unresolved_evidence_says_unanswered_for_an_empty_answer() -> None:
    history = [point(1, 9.5), with_rupture(point(2, 9.0), "a_little", "")]
    [finding] = score_rule(rules.rupture_unresolved, history)
    assert finding.session_id == 1002
    assert finding.evidence == {"client": {"rupture": "a_little", "talked_through": "unanswered"}}


def test_rupture_unresolved_needs_a_client_rating() -> None:
    history = [with_rupture(point(1, None), "a_lot", "not_at_all")]
    assert score_rule(rules.rupture_unresolved, history) == []


# --- rater_discrepancy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("therapist", "client", "discrepancy", "fires"),
    [
        (9.2, 7.3, 2.0, False),  # 1.9: just below
        (9.2, 7.2, 2.0, True),  # 2.0 (as floats, 1.9999999999999991): equal fires
        (9.3, 7.2, 2.0, True),  # 2.1
        (7.2, 9.2, 2.0, False),  # the client higher
        (9.0, 9.0, 2.0, False),
        (8.2, 7.2, 1.0, True),  # a non-default discrepancy
        (8.0, 7.2, 1.0, False),
        (9.3, 7.2, 2.5, False),
    ],
)
def test_rater_discrepancy_fires_when_the_therapist_rates_higher_enough(
    therapist: float, client: float, discrepancy: float, fires: bool
) -> None:
    history = [with_therapist(point(1, client), therapist)]
    findings = score_rule(rules.rater_discrepancy, history, classic(discrepancy=discrepancy))
    assert at(findings) == ([1] if fires else [])


def test_rater_discrepancy_evidence() -> None:
    [finding] = score_rule(rules.rater_discrepancy, [with_therapist(point(1, 7.0), 9.3)])
    assert finding.severity == "medium"
    assert finding.evidence == {"therapist": 9.3, "client": 7.0, "difference": 2.3}


def test_rater_discrepancy_needs_both_raters() -> None:
    history = [with_therapist(point(1, None), 9.5), point(2, 5.0)]
    assert score_rule(rules.rater_discrepancy, history) == []


# --- disengagement: missed sessions ----------------------------------------------------


@pytest.mark.parametrize(
    ("history", "t", "expected"),
    [
        (points(9.0, "no_show"), CLASSIC, []),  # one missed: just below
        (points(9.0, "no_show", "cancelled"), CLASSIC, [3]),  # two: fires
        (points("no_show", "cancelled", "no_show"), CLASSIC, [2]),  # once per run
        (points("no_show", 9.0, "cancelled"), CLASSIC, []),  # attended breaks it
        (points("no_show", None, "cancelled"), CLASSIC, []),  # unrated attended breaks it too
        (points("no_show", "no_show", 9.0, "cancelled", "cancelled"), CLASSIC, [2, 5]),
        (points("no_show", "no_show"), classic(missed_in_a_row=3), []),
        (points("no_show", "no_show", "no_show"), classic(missed_in_a_row=3), [3]),
    ],
)
def test_disengagement_counts_missed_sessions_in_a_row(
    history: list[Point], t: Thresholds, expected: list[int]
) -> None:
    findings = disengaged(history, t)
    assert at(findings) == expected
    assert {f.evidence["kind"] for f in findings} <= {"missed"}


def test_disengagement_missed_evidence() -> None:
    [finding] = disengaged(points(9.0, 9.0, "no_show", "cancelled", "no_show"))
    assert finding.session_id == 1004
    assert finding.rule == "disengagement"
    assert finding.severity == "medium"
    assert finding.evidence == {
        "kind": "missed",
        "sessions": [3, 4],
        "attendance": ["no_show", "cancelled"],
    }


# --- disengagement: attended sessions left unrated ---------------------------------------


@pytest.mark.parametrize(
    ("history", "t", "expected"),
    [
        (points(9.0, None, None), CLASSIC, []),  # two: just below
        (points(9.0, None, None, None), CLASSIC, [4]),  # three: fires
        (points(None, None, None, None, None), CLASSIC, [3]),  # once per run
        (points(None, None, 9.0, None), CLASSIC, []),  # a rating breaks it
        (points(None, "no_show", None, "cancelled", None), CLASSIC, [5]),  # missed skipped
        (points(None, None, None, 9.0, None, None, None), CLASSIC, [3, 7]),
        (points(None, None), classic(unrated_in_a_row=2), [2]),
        (points(None, None, None), classic(unrated_in_a_row=4), []),
    ],
)
def test_disengagement_counts_attended_sessions_without_a_client_rating(
    history: list[Point], t: Thresholds, expected: list[int]
) -> None:
    findings = disengaged(history, t)
    assert at(findings) == expected
    assert {f.evidence["kind"] for f in findings} <= {"unrated"}


def test_disengagement_unrated_evidence_skips_missed_sessions() -> None:
    [finding] = disengaged(points(9.0, None, None, "no_show", None))
    assert finding.evidence == {"kind": "unrated", "sessions": [2, 3, 5]}


@pytest.mark.parametrize(
    ("after_last_session", "fires"),
    [
        (dt.timedelta(days=4) - dt.timedelta(seconds=1), False),  # still within its window
        (dt.timedelta(days=4), True),  # the window has just closed
        (dt.timedelta(days=5), True),
    ],
)
def test_disengagement_counts_an_unrated_session_only_once_its_window_has_passed(
    after_last_session: dt.timedelta, fires: bool
) -> None:
    history = points(9.0, None, None, None)
    now = history[-1].starts_at + after_last_session
    assert at(disengaged(history, now=now)) == ([4] if fires else [])


def test_disengagement_a_pending_session_neither_counts_nor_breaks_the_run() -> None:
    history = points(None, None, None, None)
    # Session 4 is still pending; sessions 1–3 have passed their windows.
    now = history[-1].starts_at + dt.timedelta(days=1)
    [finding] = disengaged(history, now=now)
    assert finding.evidence == {"kind": "unrated", "sessions": [1, 2, 3]}
    # With only two counted, the pending one does not make it three.
    assert disengaged(history[1:], now=now) == []


def test_a_session_whose_link_is_still_open_is_pending_past_its_own_window() -> None:
    """A link made late (a session logged days after it was held, a link given later)
    lives its own days: the client may still answer, so the session is not yet unrated."""
    history = points(None, None, None)  # three unrated sessions make a run (CLASSIC)
    now = history[-1].starts_at + dt.timedelta(days=10)  # every window has passed
    assert at(disengaged(history, now=now)) == [3]
    history[2] = history[2]._replace(link_open=True)
    assert disengaged(history, now=now) == []


def test_a_rupture_only_the_therapist_saw_waits_for_a_link_still_open() -> None:
    """The client has the last word: while their link is open they may yet say it was
    fully talked through."""
    noticed = point(1, None)._replace(
        therapist=dims(9.0), therapist_rupture="a_lot", therapist_rupture_resolved="not_at_all"
    )
    now = noticed.starts_at + dt.timedelta(days=10)
    [finding] = rules.rupture_unresolved([noticed], CLASSIC, now)
    assert finding.rule == rules.RUPTURE_UNRESOLVED
    assert list(rules.rupture_unresolved([noticed._replace(link_open=True)], CLASSIC, now)) == []


def test_disengagement_respects_a_non_default_rating_grace() -> None:
    history = points(None, None, None)
    now = history[-1].starts_at + dt.timedelta(days=2)
    assert disengaged(history, now=now) == []
    t = classic(rating_grace=dt.timedelta(days=1))
    assert at(disengaged(history, t, now=now)) == [3]


def test_disengagement_reports_both_kinds() -> None:
    history = points("no_show", "cancelled", None, None, None)
    kinds = [(f.evidence["kind"], f.session_id - 1000) for f in disengaged(history)]
    assert kinds == [("missed", 2), ("unrated", 5)]


# --- evaluate --------------------------------------------------------------------------


def test_evaluate_returns_findings_from_every_rule() -> None:
    history = [
        point(1, 10.0),
        point(2, 10.0),
        point(3, 9.8),
        # 7.8: below 9.0, 2.1 under the usual 9.9, trust 10 → 2, a rupture, therapist 10.0.
        with_therapist(with_rupture(point(4, dimensions(9, trust=2)), "a_lot", "partly"), 10.0),
        point(5, "no_show"),
        point(6, "cancelled"),
        point(7, None),
        point(8, None),
        point(9, None),
    ]
    findings = rules.evaluate(history, CLASSIC, LATER)
    assert sorted((f.rule, f.session_id - 1000) for f in findings) == [
        ("below_cutoff", 4),
        ("declining_trend", 4),
        ("dimension_drop", 4),
        ("disengagement", 6),  # missed 5 and 6
        ("disengagement", 9),  # 7, 8 and 9 unrated
        ("rater_discrepancy", 4),
        ("reliable_drop", 4),
        ("rupture_unresolved", 4),
    ]
    # Every alliance rule; "not on track" is the outcome's, from measures.tracking.
    assert {f.rule for f in findings} == set(Flag.Rule.values) - {tracking.NOT_ON_TRACK}


def test_evaluate_of_a_steady_high_history_finds_nothing() -> None:
    history = [with_therapist(point(n, 9.5), 9.5) for n in range(1, 30)]
    assert rules.evaluate(history, DEFAULT, LATER) == []
