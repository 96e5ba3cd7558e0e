"""A concern's story in one sentence, in the words a clinician would use.

"Alliance slid from 9.4 to 6.7 over sessions 3–7: a reliable drop at session 5; you
rated sessions 6 and 7 higher than the client did."

Pure: it takes the concern's signals (rule, session number, evidence) and the
client's scores by session, so it can be tested on hand-written cases. The
reader decides the person: the treating therapist reads "you", anyone else
"the therapist". Odd or old evidence leaves its clause out rather than failing.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from measures.evidence import (
    count_words,
    dimension_name,
    one,
    rupture_report,
    session_list,
)

# A rise after the lowest point worth telling (half a point: more than a rating's noise).
RECOVERY = 0.5


@dataclass(frozen=True)
class StorySignal:
    number: int  # the session's number
    rule: str
    evidence: dict[str, Any]


def concern_story(
    signals: Sequence[StorySignal],
    scores: Mapping[int, float | None],
    *,
    reader_is_therapist: bool,
) -> str:
    """One sentence: how the alliance moved over the concern's sessions, then what fired."""
    if not signals:
        return _("No signals remain in this concern.")
    by_rule: dict[str, list[StorySignal]] = defaultdict(list)
    for signal in sorted(signals, key=lambda s: s.number):
        by_rule[signal.rule].append(signal)
    first, last = _span(signals)
    movement = _movement(first, last, scores)
    clauses = []
    for rule, tell in CLAUSES:
        if rule == "declining_trend" and movement:
            continue  # "slid from … to …" already tells the slide
        if by_rule.get(rule):
            clause = _safely(tell, by_rule[rule], reader_is_therapist)
            if clause:
                clauses.append(clause)
    if movement and clauses:
        sentence = f"{movement}: {'; '.join(clauses)}"
    else:
        sentence = (
            movement
            or "; ".join(clauses)
            or _("Signals at %(sessions)s")
            % {"sessions": session_list(sorted({s.number for s in signals}))}
        )
    return sentence[:1].upper() + sentence[1:] + "."


def _span(signals: Sequence[StorySignal]) -> tuple[int, int]:
    """The sessions the concern covers; a slide's evidence reaches back to where it began."""
    numbers = [s.number for s in signals]
    for signal in signals:
        if signal.rule == "declining_trend":
            with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):
                numbers.append(int(signal.evidence["sessions"][0]))
    return min(numbers), max(numbers)


def _movement(first: int, last: int, scores: Mapping[int, float | None]) -> str:
    """ "Alliance slid from 9.4 to 6.7 over sessions 3–7", or "fell from … at session 5",
    and ", then rose to 9.6 at session 8" when the client has come back up since.

    It starts from the client's last score before the concern's first session (the level
    they fell from), or from the first score inside it when there is none before, and
    goes down to the lowest score inside the concern.
    """
    rated = sorted((n, s) for n, s in scores.items() if s is not None)
    inside = [(n, s) for n, s in rated if first <= n <= last]
    before = [(n, s) for n, s in rated if n < first]
    if not inside:
        return ""
    start = before[-1] if before else inside[0]
    # The latest of the lowest scores: where the fall ended.
    trough = min(inside, key=lambda point: (point[1], -point[0]))
    if trough[0] <= start[0] or trough[1] >= start[1]:
        return ""
    values = {"from": one(start[1]), "to": one(trough[1])}
    if len([n for n, _ in rated if start[0] <= n <= trough[0]]) == 2:
        told = _("Alliance fell from %(from)s to %(to)s at %(session)s") % {
            **values,
            "session": session_list([trough[0]]),
        }
    else:
        told = _("Alliance slid from %(from)s to %(to)s over %(sessions)s") % {
            **values,
            "sessions": session_list(list(range(start[0], trough[0] + 1))),
        }
    latest = inside[-1]
    if latest[0] > trough[0] and latest[1] - trough[1] >= RECOVERY:
        told += _(", then rose to %(score)s at %(session)s") % {
            "score": one(latest[1]),
            "session": session_list([latest[0]]),
        }
    return told


def _safely(
    tell: Callable[[list[StorySignal], bool], str], signals: list[StorySignal], you: bool
) -> str:
    try:
        return tell(signals, you)
    except Exception:  # Old or odd evidence: the signal list beneath still shows it.
        return ""


def _at(signals: list[StorySignal]) -> str:
    return session_list(sorted({s.number for s in signals}))


def _reliable_drop(signals: list[StorySignal], you: bool) -> str:
    if len(signals) == 1:
        return _("a reliable drop at %(sessions)s") % {"sessions": _at(signals)}
    return _("reliable drops at %(sessions)s") % {"sessions": _at(signals)}


def _dimension_drop(signals: list[StorySignal], you: bool) -> str:
    """Each fall in words: the largest two dimensions of a session (the signal lists all)."""
    falls = []
    for signal in signals[:2]:
        fallen = signal.evidence["dimensions"][:2]
        values = {
            "dimension": dimension_name(fallen[0]["name"]),
            "from": int(fallen[0]["from"]),
            "to": int(fallen[0]["to"]),
            "session": session_list([signal.number]),
        }
        if len(fallen) == 1:
            falls.append(_("%(dimension)s fell from %(from)s to %(to)s at %(session)s") % values)
            continue
        falls.append(
            _(
                "%(dimension)s fell from %(from)s to %(to)s and %(other)s from %(other_from)s "
                "to %(other_to)s at %(session)s"
            )
            % {
                **values,
                "other": dimension_name(fallen[1]["name"]),
                "other_from": int(fallen[1]["from"]),
                "other_to": int(fallen[1]["to"]),
            }
        )
    return "; ".join(falls)


def _rupture(signals: list[StorySignal], you: bool) -> str:
    client_told, therapist_only = [], []
    for signal in signals:
        reports = rupture_report(signal.evidence)
        client = reports.get("client", {})
        if client.get("rupture", "none") != "none":
            client_told.append(signal)
        elif "therapist" in reports:
            therapist_only.append(signal)
    clauses = []
    if client_told:
        clauses.append(
            _("the client reported a rupture at %(sessions)s that was not fully talked through")
            % {"sessions": _at(client_told)}
        )
    if therapist_only:
        text = (
            _("you noticed a rupture at %(sessions)s that the client did not report")
            if you
            else _("the therapist noticed a rupture at %(sessions)s that the client did not report")
        )
        clauses.append(text % {"sessions": _at(therapist_only)})
    return "; ".join(clauses)


def _rater_discrepancy(signals: list[StorySignal], you: bool) -> str:
    text = (
        _("you rated %(sessions)s higher than the client did")
        if you
        else _("the therapist rated %(sessions)s higher than the client did")
    )
    return text % {"sessions": _at(signals)}


def _declining_trend(signals: list[StorySignal], you: bool) -> str:
    longest = max(signals, key=lambda s: len(s.evidence["scores"]))
    return _("alliance fell %(count)s sessions running (%(scores)s)") % {
        "count": count_words(len(longest.evidence["scores"])),
        "scores": " → ".join(one(score) for score in longest.evidence["scores"]),
    }


def _disengagement(signals: list[StorySignal], you: bool) -> str:
    clauses = []
    for signal in signals:
        sessions = signal.evidence["sessions"]
        if signal.evidence["kind"] == "missed":
            clauses.append(
                _("%(count)s missed sessions in a row (%(sessions)s)")
                % {"count": count_words(len(sessions)), "sessions": session_list(sessions)}
            )
        elif signal.evidence["kind"] == "unrated":
            clauses.append(
                _("no client rating for %(count)s attended sessions in a row (%(sessions)s)")
                % {"count": count_words(len(sessions)), "sessions": session_list(sessions)}
            )
    return "; ".join(clauses)


def _not_on_track(signals: list[StorySignal], you: bool) -> str:
    return _("the client's outcome answers were not on track at %(sessions)s") % {
        "sessions": _at(signals)
    }


def _below_cutoff(signals: list[StorySignal], you: bool) -> str:
    return _("under the cut-off at %(sessions)s") % {"sessions": _at(signals)}


# The order clauses are told in: what happened, then how it shows, then the context.
CLAUSES: tuple[tuple[str, Callable[[list[StorySignal], bool], str]], ...] = (
    ("reliable_drop", _reliable_drop),
    ("dimension_drop", _dimension_drop),
    ("rupture_unresolved", _rupture),
    ("rater_discrepancy", _rater_discrepancy),
    ("declining_trend", _declining_trend),
    ("disengagement", _disengagement),
    ("not_on_track", _not_on_track),
    ("below_cutoff", _below_cutoff),
)
