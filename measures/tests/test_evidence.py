"""Each signal's evidence in words, and a plain fallback when the evidence is odd or old."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from measures import tracking
from measures.evidence import describe, numbers
from measures.rules import evaluate
from measures.tests.test_rules import (
    CLASSIC,
    LATER,
    dimensions,
    point,
    with_rupture,
    with_therapist,
)


@pytest.mark.parametrize(
    ("rule", "evidence", "words"),
    [
        (
            "below_cutoff",
            {"score": 8.5, "cutoff": 9.0, "operator": "lt"},
            "Alliance 8.5, below the cut-off of 9.0",
        ),
        (
            "below_cutoff",
            {"score": 9.0, "cutoff": 9.0, "operator": "le"},
            "Alliance 9.0, at or below the cut-off of 9.0",
        ),
        (
            "reliable_drop",
            {
                "score": 6.8,
                "usual": 8.93,
                "drop": 2.13,
                "threshold": 1.52,
                "reliable_change": 1.52,
                "own_sd": 0.12,
                "earlier_ratings": 3,
            },
            "Alliance 6.8, 2.1 below this client's usual 8.9 (threshold 1.5)",
        ),
        (
            "reliable_drop",
            {"score": 7.4, "usual": 9.0, "drop": 1.6, "threshold": 1.52},
            "Alliance 7.4, 1.6 below this client's usual 9.0 (threshold 1.5)",
        ),
        (
            # At one decimal the drop would look no larger than its threshold: show two.
            "reliable_drop",
            {"score": 7.3, "usual": 8.83, "drop": 1.53, "threshold": 1.52},
            "Alliance 7.3, 1.53 below this client's usual 8.8 (threshold 1.52)",
        ),
        (
            "dimension_drop",
            {"dimensions": [{"name": "trust", "from": 9, "to": 5}], "since_session": 6},
            "Trust and safety fell from 9 to 5 since session 6",
        ),
        (
            "dimension_drop",
            {
                "dimensions": [
                    {"name": "empathy", "from": 9, "to": 3},
                    {"name": "trust", "from": 9, "to": 5},
                ],
                "since_session": 6,
            },
            "Empathy fell from 9 to 3; trust and safety fell from 9 to 5 since session 6",
        ),
        (
            "declining_trend",
            {"scores": [9.5, 9.0, 8.2], "sessions": [4, 5, 6]},
            "Alliance fell three sessions running: 9.5 → 9.0 → 8.2 (sessions 4–6)",
        ),
        (
            "declining_trend",
            {"scores": [9.5, 9.0, 8.2, 7.8], "sessions": [2, 4, 5, 7]},
            "Alliance fell four sessions running: 9.5 → 9.0 → 8.2 → 7.8 (sessions 2, 4, 5, 7)",
        ),
        (
            "rupture_unresolved",
            {"rupture": "a_lot", "talked_through": "not_at_all"},
            "The client reported a rupture (a lot); talked through: not at all",
        ),
        (
            "rupture_unresolved",
            {"rupture": "a_little", "talked_through": "unanswered"},
            "The client reported a rupture (a little); talked through: not answered",
        ),
        (
            "rater_discrepancy",
            {"therapist": 9.3, "client": 7.0, "difference": 2.3},
            "The therapist rated the session 9.3, the client 7.0: 2.3 higher",
        ),
        (
            "disengagement",
            {"kind": "missed", "sessions": [7, 8], "attendance": ["no_show", "cancelled"]},
            "Two missed sessions in a row (sessions 7 and 8: no-show, cancelled)",
        ),
        (
            "disengagement",
            {"kind": "unrated", "sessions": [5, 6, 8]},
            "No client rating for the last 3 attended sessions (sessions 5, 6, 8)",
        ),
    ],
)
def test_each_rule_reads_as_a_sentence(rule: str, evidence: dict[str, Any], words: str) -> None:
    assert describe(rule, evidence) == words


def test_an_outcome_worse_by_exactly_the_margin_is_not_said_to_be_worse_by_more() -> None:
    """The rule fires at the margin ("by at least"); the sentence must not claim more."""
    scale = tracking.Scale(0, 10, True, 6.25, 1.25)
    course = {tracking.MODERATE: {2: tracking.Expected(1.0, 30)}}  # 7.0 expected by now
    judged = tracking.judge([(1, 6.0), (2, 4.75)], scale, course, min_clients=20)[-1]
    assert judged.deteriorated and judged.below_expected
    told = describe("not_on_track", judged.evidence(6.0, scale))
    assert "worse than the first score of 6 by 1.25 or more" in told


def test_an_outcome_behind_its_course_reads_right_whichever_way_the_scale_runs() -> None:
    """On a scale where lower is better, a client behind the expected course is above it."""
    scale = tracking.Scale(0, 12, False, 5.5, 3.0)
    course = {tracking.MODERATE: {2: tracking.Expected(2.0, 30)}}  # 7 → 5 expected by now
    judged = tracking.judge([(1, 7.0), (2, 9.0)], scale, course, min_clients=20)[-1]
    assert judged.below_expected and not judged.deteriorated
    told = describe("not_on_track", judged.evidence(7.0, scale))
    assert "Outcome 9: more than 3 worse than the 5 expected by now" in told


@pytest.mark.parametrize(
    ("rule", "evidence", "fallback"),
    [
        ("below_cutoff", {}, "Below the cut-off"),
        ("reliable_drop", {"score": 6.8}, "Reliable drop"),
        ("dimension_drop", {"dimensions": [], "since_session": 6}, "Drop in one dimension"),
        ("dimension_drop", {"dimensions": [{"name": "trust"}]}, "Drop in one dimension"),
        ("declining_trend", {"scores": [9.5, 9.0]}, "Declining trend"),
        ("declining_trend", {"scores": ["high"], "sessions": [1]}, "Declining trend"),
        ("rupture_unresolved", {"talked_through": "partly"}, "Rupture not fully talked through"),
        (
            "rater_discrepancy",
            {"therapist": None, "client": 7.0},
            "Therapist rated higher than client",
        ),
        ("disengagement", {"kind": "missed", "sessions": [7, 8]}, "Disengagement"),
        ("disengagement", {"kind": "vanished", "sessions": [7]}, "Disengagement"),
        ("disengagement", {"sessions": []}, "Disengagement"),
        ("disengagement", None, "Disengagement"),
        ("disengagement", ["not", "a", "dict"], "Disengagement"),
        ("a_rule_since_retired", {"score": 1.0}, "A rule since retired"),
        ("", {}, "Signal"),
    ],
)
def test_odd_or_old_evidence_falls_back_to_the_rules_name(
    rule: str, evidence: Any, fallback: str
) -> None:
    assert describe(rule, evidence) == fallback


def test_unknown_details_are_worded_plainly_rather_than_refused() -> None:
    assert describe("rupture_unresolved", {"rupture": "some_new_answer"}) == (
        "The client reported a rupture (some new answer); talked through: not answered"
    )
    assert describe(
        "dimension_drop",
        {"dimensions": [{"name": "warmth", "from": 9, "to": 4}], "since_session": 2},
    ) == ("Warmth fell from 9 to 4 since session 2")


def test_every_finding_the_rules_make_can_be_described() -> None:
    history = [
        point(1, 10.0),
        point(2, 10.0),
        point(3, 9.8),
        with_therapist(with_rupture(point(4, dimensions(9, trust=2)), "a_lot", ""), 10.0),
        point(5, "no_show"),
        point(6, "cancelled"),
        point(7, None),
        point(8, None),
        point(9, None),
    ]
    words = {f.rule: describe(f.rule, f.evidence) for f in evaluate(history, CLASSIC, LATER)}
    assert words == {
        "below_cutoff": "Alliance 7.8, below the cut-off of 9.0",
        "reliable_drop": "Alliance 7.8, 2.1 below this client's usual 9.9 (threshold 1.5)",
        "dimension_drop": "Trust and safety fell from 10 to 2 since session 3",
        "declining_trend": "Alliance fell three sessions running: 10.0 → 9.8 → 7.8 (sessions 2–4)",
        "rupture_unresolved": (
            "The client reported a rupture (a lot); talked through: not answered"
        ),
        "rater_discrepancy": "The therapist rated the session 10.0, the client 7.8: 2.2 higher",
        # The later of the two disengagement findings: sessions 7–9 unrated.
        "disengagement": "No client rating for the last 3 attended sessions (sessions 7–9)",
    }


# --- Ruptures from both chairs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "words"),
    [
        (
            {"client": {"rupture": "a_lot", "talked_through": "partly"}},
            "The client reported a rupture (a lot); talked through: partly",
        ),
        (
            {
                "client": {"rupture": "none"},
                "therapist": {"rupture": "a_little", "talked_through": "not_at_all"},
            },
            "The therapist noticed a rupture (a little; talked through: not at all) "
            "that the client did not report",
        ),
        (
            {"therapist": {"rupture": "a_lot", "talked_through": "unanswered"}},
            "The therapist noticed a rupture (a lot; talked through: not answered)",
        ),
        (
            {
                "client": {"rupture": "a_lot", "talked_through": "not_at_all"},
                "therapist": {"rupture": "a_little", "talked_through": "partly"},
            },
            "The client reported a rupture (a lot); talked through: not at all; "
            "the therapist noticed it too (a little; talked through: partly)",
        ),
    ],
)
def test_a_rupture_says_who_saw_it(evidence: dict[str, Any], words: str) -> None:
    assert describe("rupture_unresolved", evidence) == words


# --- The figures beneath the sentence ---------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "evidence", "figures"),
    [
        (
            "below_cutoff",
            {"score": 8.5, "cutoff": 9.0, "operator": "lt"},
            [("Client's score", "8.5"), ("Cut-off", "9.0")],
        ),
        (
            "reliable_drop",
            {
                "score": 6.8,
                "usual": 9.9,
                "drop": 3.1,
                "threshold": 1.52,
                "reliable_change": 1.52,
                "own_sd": 0.2,
                "earlier_ratings": 5,
            },
            [
                ("Client's score", "6.8"),
                ("Client's usual level", "9.9 (the mean of 5 earlier ratings)"),
                ("Fall", "3.1"),
                ("Threshold", "1.5"),
                (
                    "Threshold from",
                    "the larger of the reliable change (1.52) and twice the spread of this "
                    "client's earlier scores (0.40)",
                ),
            ],
        ),
        (
            # Judged under ALLIANCE_OWN_SD_MULTIPLIER=1.5: the evidence names it.
            "reliable_drop",
            {
                "score": 6.8,
                "usual": 9.9,
                "drop": 3.1,
                "threshold": 1.52,
                "reliable_change": 1.52,
                "own_sd": 0.2,
                "earlier_ratings": 5,
                "own_sd_multiplier": 1.5,
            },
            [
                ("Client's score", "6.8"),
                ("Client's usual level", "9.9 (the mean of 5 earlier ratings)"),
                ("Fall", "3.1"),
                ("Threshold", "1.5"),
                (
                    "Threshold from",
                    "the larger of the reliable change (1.52) and 1.5 times the spread of this "
                    "client's earlier scores (0.30)",
                ),
            ],
        ),
        (
            "dimension_drop",
            {"dimensions": [{"name": "trust", "from": 10, "to": 5}], "since_session": 4},
            [("Trust and safety", "10 → 5"), ("Compared with", "session 4")],
        ),
        (
            "declining_trend",
            {"scores": [9.6, 8.7, 7.5], "sessions": [3, 4, 5], "fall": 2.1, "usual": 9.6},
            [
                ("Scores", "9.6 → 8.7 → 7.5"),
                ("Sessions", "sessions 3–5"),
                ("Total fall", "2.1"),
                ("Client's usual level before the slide", "9.6"),
            ],
        ),
        (
            "rupture_unresolved",
            {
                "client": {"rupture": "none"},
                "therapist": {"rupture": "a_lot", "talked_through": "not_at_all"},
            },
            [
                ("Client", "no rupture reported"),
                ("Therapist", "rupture: a lot; talked through: not at all"),
            ],
        ),
        (
            "rater_discrepancy",
            {"therapist": 9.3, "client": 7.0, "difference": 2.3},
            [
                ("Therapist's score", "9.3"),
                ("Client's score", "7.0"),
                ("Therapist higher by", "2.3"),
            ],
        ),
        (
            "disengagement",
            {"kind": "missed", "sessions": [7, 8], "attendance": ["no_show", "cancelled"]},
            [("Sessions", "sessions 7 and 8"), ("Attendance", "no-show, cancelled")],
        ),
    ],
)
def test_each_signals_figures_are_named_and_in_words(
    rule: str, evidence: dict[str, Any], figures: list[tuple[str, str]]
) -> None:
    found = numbers(rule, evidence)
    assert found == figures
    for _name, value in found:
        assert not any(code in value.lower() for code in ("a_lot", "not_at_all", "no_show", "["))


@pytest.mark.parametrize(
    ("rule", "evidence"),
    [
        ("reliable_drop", {"score": 6.8}),
        ("disengagement", {"kind": "vanished", "sessions": [1]}),
        ("no_such_rule", {"score": 1}),
        ("below_cutoff", None),
    ],
)
def test_odd_evidence_has_no_figures_rather_than_an_error(rule: str, evidence: Any) -> None:
    assert numbers(rule, evidence) == []


def _project_imports(module: str) -> set[str]:
    """The project modules `module` imports, anywhere in its body (function-level too)."""
    root = Path(__file__).resolve().parents[2]
    path = root.joinpath(*module.split("."))
    source = (path / "__init__.py") if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if (root / parts[0]).is_dir() and (
                root.joinpath(*parts).is_dir() or root.joinpath(*parts).with_suffix(".py").exists()
            ):
                found.add(name)
    return found


def test_the_wording_never_imports_the_models_that_use_it() -> None:
    # measures.models words each Flag through this module; importing the models back
    # (even inside a function) would be a cycle.
    seen, todo = set(), ["measures.evidence"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_project_imports(module))
    assert not any(module.startswith("measures.models") for module in seen), sorted(seen)
