"""Each flag's evidence in words, for the clinician reading the flag.

Flags outlive the code that raised them, so `describe` never raises: evidence
with missing keys, odd values or an unknown rule falls back to the rule's name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

from measures.items import DIMENSION_NAMES

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
RUPTURE_WORDS = {"a_little": "a little", "a_lot": "a lot", "none": "none"}
TALKED_THROUGH_WORDS = {
    "not_at_all": "not at all",
    "partly": "partly",
    "fully": "fully",
    "unanswered": "unanswered",
}
ATTENDANCE_WORDS = {"cancelled": "cancelled", "no_show": "no-show", "attended": "attended"}


def describe(rule: str, evidence: dict[str, Any]) -> str:
    """The evidence in a sentence, e.g. "Alliance 8.5, below the cut-off of 9.0"."""
    try:
        return DESCRIBERS[rule](evidence)
    except Exception:  # Old or malformed evidence must not break a page that lists flags.
        return _fallback(rule)


def _fallback(rule: object) -> str:
    """The rule's name, as the review queue labels it."""
    try:
        from measures.models import Flag  # Lazy: measures.models imports this module.

        return str(Flag.Rule(rule).label)
    except Exception:  # An unknown rule, or Django not set up: a plain name will do.
        return str(rule).replace("_", " ").capitalize() or "Flag"


def _below_cutoff(evidence: dict[str, Any]) -> str:
    where = "at or below" if evidence["operator"] == "le" else "below"
    return f"Alliance {_one(evidence['score'])}, {where} the cut-off of {_one(evidence['cutoff'])}"


def _reliable_drop(evidence: dict[str, Any]) -> str:
    drop, threshold = float(evidence["drop"]), float(evidence["threshold"])
    # Show two decimals when one would make the drop look no larger than its threshold.
    places = 2 if f"{drop:.1f}" == f"{threshold:.1f}" else 1
    return (
        f"Alliance {_one(evidence['score'])}, {drop:.{places}f} below this client's usual "
        f"{_one(evidence['usual'])} (threshold {threshold:.{places}f})"
    )


def _dimension_drop(evidence: dict[str, Any]) -> str:
    falls = [
        f"{_dimension_name(dimension['name'], first=index == 0)} fell from "
        f"{dimension['from']} to {dimension['to']}"
        for index, dimension in enumerate(evidence["dimensions"])
    ]
    if not falls:
        raise ValueError("no dimensions")
    return f"{'; '.join(falls)} since session {evidence['since_session']}"


def _dimension_name(name: str, *, first: bool) -> str:
    label = str(DIMENSION_NAMES.get(name, name))
    return label[:1].upper() + label[1:] if first else label[:1].lower() + label[1:]


def _declining_trend(evidence: dict[str, Any]) -> str:
    scores, sessions = evidence["scores"], evidence["sessions"]
    arrows = " → ".join(_one(score) for score in scores)
    return f"Alliance fell {_count(len(scores))} sessions running: {arrows} ({_sessions(sessions)})"


def _rupture_unresolved(evidence: dict[str, Any]) -> str:
    rupture = _word(RUPTURE_WORDS, evidence["rupture"])
    talked_through = _word(TALKED_THROUGH_WORDS, evidence.get("talked_through") or "unanswered")
    return f"Rupture reported ({rupture}); talked through: {talked_through}"


def _rater_discrepancy(evidence: dict[str, Any]) -> str:
    return (
        f"You rated the session {_one(evidence['therapist'])}, the client "
        f"{_one(evidence['client'])}: {_one(evidence['difference'])} higher"
    )


def _disengagement(evidence: dict[str, Any]) -> str:
    sessions = evidence["sessions"]
    if evidence["kind"] == "missed":
        attendance = ", ".join(_word(ATTENDANCE_WORDS, value) for value in evidence["attendance"])
        count = _count(len(sessions)).capitalize()
        return f"{count} missed sessions in a row ({_sessions(sessions)}: {attendance})"
    if evidence["kind"] == "unrated":
        return (
            f"No client rating for the last {len(sessions)} attended sessions "
            f"({_sessions(sessions)})"
        )
    raise ValueError(f"unknown kind {evidence['kind']!r}")


def _one(value: Any) -> str:
    """A score to one decimal, as the therapist sees it elsewhere."""
    return f"{float(value):.1f}"


def _count(number: int) -> str:
    return NUMBER_WORDS[number] if 0 <= number < len(NUMBER_WORDS) else str(number)


def _word(words: dict[str, str], value: object) -> str:
    return words.get(str(value), str(value).replace("_", " "))


def _sessions(numbers: Sequence[int]) -> str:
    """A run without gaps as a range ("sessions 4–6"), otherwise a list ("sessions 5, 6, 8")."""
    if not numbers:
        raise ValueError("no sessions")
    if len(numbers) == 1:
        return f"session {numbers[0]}"
    if all(later == earlier + 1 for earlier, later in pairwise(numbers)):
        return f"sessions {numbers[0]}–{numbers[-1]}"
    return "sessions " + ", ".join(str(number) for number in numbers)


DESCRIBERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "below_cutoff": _below_cutoff,
    "reliable_drop": _reliable_drop,
    "dimension_drop": _dimension_drop,
    "declining_trend": _declining_trend,
    "rupture_unresolved": _rupture_unresolved,
    "rater_discrepancy": _rater_discrepancy,
    "disengagement": _disengagement,
}
