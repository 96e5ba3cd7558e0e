"""Each signal's evidence in words, for the clinician reading it — never the stored codes.

`describe` gives the sentence ("Alliance 6.8, 3.1 below this client's usual 9.9"),
`numbers` the figures beneath it as (name, value) pairs, both in the active
language. Signals outlive the code that raised them, so neither ever raises:
evidence with missing keys, odd values or an unknown rule falls back to the
rule's name (and no figures), and an unknown answer is worded plainly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from measures.choices import Rule
from measures.items import DIMENSION_NAMES

NUMBER_WORDS = (
    gettext_lazy("zero"),
    gettext_lazy("one"),
    gettext_lazy("two"),
    gettext_lazy("three"),
    gettext_lazy("four"),
    gettext_lazy("five"),
    gettext_lazy("six"),
    gettext_lazy("seven"),
    gettext_lazy("eight"),
    gettext_lazy("nine"),
)
RUPTURE_WORDS = {
    "a_little": gettext_lazy("a little"),
    "a_lot": gettext_lazy("a lot"),
    "none": gettext_lazy("none"),
}
TALKED_THROUGH_WORDS = {
    "not_at_all": gettext_lazy("not at all"),
    "partly": gettext_lazy("partly"),
    "fully": gettext_lazy("fully"),
    "unanswered": gettext_lazy("not answered"),
}
ATTENDANCE_WORDS = {
    "cancelled": gettext_lazy("cancelled"),
    "no_show": gettext_lazy("no-show"),
    "attended": gettext_lazy("attended"),
}


def describe(rule: str, evidence: dict[str, Any]) -> str:
    """The evidence in a sentence, e.g. "Alliance 8.5, below the cut-off of 9.0"."""
    try:
        return DESCRIBERS[rule](evidence)
    except Exception:  # Old or malformed evidence must not break a page that lists signals.
        return rule_name(rule)


def numbers(rule: str, evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures behind the sentence, each named and worded; none for odd evidence."""
    try:
        return FIGURES[rule](evidence)
    except Exception:  # As describe(): the sentence's fallback already says what fired.
        return []


def rule_name(rule: object) -> str:
    """The rule's name, as the pages label it."""
    try:
        return str(Rule(rule).label)
    except ValueError:  # A rule no longer known (signals outlive code): a plain name will do.
        return str(rule).replace("_", " ").capitalize() or _("Signal")


# --- Sentences ----------------------------------------------------------------------


def _below_cutoff(evidence: dict[str, Any]) -> str:
    values = {"score": one(evidence["score"]), "cutoff": one(evidence["cutoff"])}
    if evidence["operator"] == "le":
        return _("Alliance %(score)s, at or below the cut-off of %(cutoff)s") % values
    return _("Alliance %(score)s, below the cut-off of %(cutoff)s") % values


def _drop_places(evidence: dict[str, Any]) -> int:
    """Two decimals when one would make the drop look no larger than its threshold."""
    drop, threshold = float(evidence["drop"]), float(evidence["threshold"])
    return 2 if f"{drop:.1f}" == f"{threshold:.1f}" else 1


def _reliable_drop(evidence: dict[str, Any]) -> str:
    places = _drop_places(evidence)
    return _(
        "Alliance %(score)s, %(drop)s below this client's usual %(usual)s (threshold %(threshold)s)"
    ) % {
        "score": one(evidence["score"]),
        "drop": f"{float(evidence['drop']):.{places}f}",
        "usual": one(evidence["usual"]),
        "threshold": f"{float(evidence['threshold']):.{places}f}",
    }


def _dimension_drop(evidence: dict[str, Any]) -> str:
    falls = [
        _("%(dimension)s fell from %(from)s to %(to)s")
        % {
            "dimension": dimension_name(dimension["name"], first=index == 0),
            "from": int(dimension["from"]),
            "to": int(dimension["to"]),
        }
        for index, dimension in enumerate(evidence["dimensions"])
    ]
    if not falls:
        raise ValueError("no dimensions")
    return _("%(falls)s since session %(session)s") % {
        "falls": "; ".join(falls),
        "session": int(evidence["since_session"]),
    }


def dimension_name(name: str, *, first: bool = False) -> str:
    """A dimension's name, capitalised only at the start of a sentence."""
    label = str(DIMENSION_NAMES.get(name, str(name).replace("_", " ")))
    return label[:1].upper() + label[1:] if first else label[:1].lower() + label[1:]


def _declining_trend(evidence: dict[str, Any]) -> str:
    scores, sessions = evidence["scores"], evidence["sessions"]
    return _("Alliance fell %(count)s sessions running: %(scores)s (%(sessions)s)") % {
        "count": count_words(len(scores)),
        "scores": " → ".join(one(score) for score in scores),
        "sessions": session_list(sessions),
    }


def rupture_report(evidence: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each rater's rupture answer; evidence from before therapists' answers counted is the
    client's alone ({"rupture": …, "talked_through": …})."""
    if "client" in evidence or "therapist" in evidence:
        return {who: dict(report) for who, report in evidence.items() if report}
    return {"client": {"rupture": evidence["rupture"], **_talked(evidence)}}


def _talked(evidence: dict[str, Any]) -> dict[str, str]:
    return {"talked_through": evidence.get("talked_through") or "unanswered"}


def _rupture_unresolved(evidence: dict[str, Any]) -> str:
    reports = rupture_report(evidence)
    client, therapist = reports.get("client"), reports.get("therapist")
    client_saw = client is not None and client.get("rupture", "none") != "none"
    parts = []
    if client_saw:
        parts.append(
            _("The client reported a rupture (%(size)s); talked through: %(talked)s")
            % _rupture_words(client)
        )
    if therapist is not None:
        words = _rupture_words(therapist)
        if client_saw:
            parts.append(
                _("the therapist noticed it too (%(size)s; talked through: %(talked)s)") % words
            )
        elif client is not None:
            parts.append(
                _(
                    "The therapist noticed a rupture (%(size)s; talked through: %(talked)s) "
                    "that the client did not report"
                )
                % words
            )
        else:
            parts.append(
                _("The therapist noticed a rupture (%(size)s; talked through: %(talked)s)") % words
            )
    if not parts:
        raise ValueError("no rupture")
    return "; ".join(parts)


def _rupture_words(report: dict[str, str]) -> dict[str, str]:
    return {
        "size": word(RUPTURE_WORDS, report["rupture"]),
        "talked": word(TALKED_THROUGH_WORDS, report.get("talked_through") or "unanswered"),
    }


def _rater_discrepancy(evidence: dict[str, Any]) -> str:
    return _(
        "The therapist rated the session %(therapist)s, the client %(client)s: "
        "%(difference)s higher"
    ) % {
        "therapist": one(evidence["therapist"]),
        "client": one(evidence["client"]),
        "difference": one(evidence["difference"]),
    }


def _disengagement(evidence: dict[str, Any]) -> str:
    sessions = evidence["sessions"]
    if evidence["kind"] == "missed":
        attendance = ", ".join(word(ATTENDANCE_WORDS, value) for value in evidence["attendance"])
        return _("%(count)s missed sessions in a row (%(sessions)s: %(attendance)s)") % {
            "count": count_words(len(sessions)).capitalize(),
            "sessions": session_list(sessions),
            "attendance": attendance,
        }
    if evidence["kind"] == "unrated":
        return _("No client rating for the last %(count)s attended sessions (%(sessions)s)") % {
            "count": len(sessions),
            "sessions": session_list(sessions),
        }
    raise ValueError(f"unknown kind {evidence['kind']!r}")


def _not_on_track(evidence: dict[str, Any]) -> str:
    values = {
        "score": score(evidence["score"]),
        "first": score(evidence["first"]),
        "margin": score(evidence["margin"]),
    }
    if evidence["deteriorated"] and evidence["below_expected"]:
        return (
            _(
                "Outcome %(score)s: worse than the first score of %(first)s by %(margin)s or "
                "more, and behind the course expected of similar clients"
            )
            % values
        )
    if evidence["deteriorated"]:
        return (
            _("Outcome %(score)s: worse than the first score of %(first)s by %(margin)s or more")
            % values
        )
    return _(
        "Outcome %(score)s: more than %(margin)s worse than the %(expected)s expected by "
        "now of clients who started like this one"
    ) % {**values, "expected": score(evidence["expected"])}


# --- Figures ------------------------------------------------------------------------


def _below_cutoff_figures(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    cutoff = one(evidence["cutoff"])
    if evidence["operator"] == "le":
        cutoff = _("%(cutoff)s (a score equal to it counts as under)") % {"cutoff": cutoff}
    return [(_("Client's score"), one(evidence["score"])), (_("Cut-off"), cutoff)]


def _reliable_drop_figures(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    places = _drop_places(evidence)
    figures = [
        (_("Client's score"), one(evidence["score"])),
        (_("Client's usual level"), one(evidence["usual"])),
        (_("Fall"), f"{float(evidence['drop']):.{places}f}"),
        (_("Threshold"), f"{float(evidence['threshold']):.{places}f}"),
    ]
    if "earlier_ratings" in evidence:
        figures[1] = (
            figures[1][0],
            _("%(usual)s (the mean of %(count)s earlier ratings)")
            % {"usual": one(evidence["usual"]), "count": int(evidence["earlier_ratings"])},
        )
    if "reliable_change" in evidence and "own_sd" in evidence:
        figures.append((_("Threshold from"), _threshold_from(evidence)))
    return figures


def _threshold_from(evidence: dict[str, Any]) -> str:
    """Which two numbers the reliable drop's threshold is the larger of, with the multiplier
    of the client's own spread it was judged by (stored only when not the default, 2)."""
    multiplier = float(evidence.get("own_sd_multiplier", 2))
    numbers = {
        "change": f"{float(evidence['reliable_change']):.2f}",
        "spread": f"{multiplier * float(evidence['own_sd']):.2f}",
        "times": f"{multiplier:g}",
    }
    if multiplier == 2:
        return (
            _(
                "the larger of the reliable change (%(change)s) and twice the spread of "
                "this client's earlier scores (%(spread)s)"
            )
            % numbers
        )
    return (
        _(
            "the larger of the reliable change (%(change)s) and %(times)s times the spread of "
            "this client's earlier scores (%(spread)s)"
        )
        % numbers
    )


def _dimension_drop_figures(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    figures = [
        (
            dimension_name(dimension["name"], first=True),
            f"{int(dimension['from'])} → {int(dimension['to'])}",
        )
        for dimension in evidence["dimensions"]
    ]
    figures.append(
        (_("Compared with"), _("session %(number)s") % {"number": int(evidence["since_session"])})
    )
    return figures


def _declining_trend_figures(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    scores = evidence["scores"]
    figures = [
        (_("Scores"), " → ".join(one(score) for score in scores)),
        (_("Sessions"), session_list(evidence["sessions"])),
        (_("Total fall"), one(float(scores[0]) - float(scores[-1]))),
    ]
    if "usual" in evidence:
        figures.append((_("Client's usual level before the slide"), one(evidence["usual"])))
    return figures


def _rupture_figures(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    figures = []
    reports = rupture_report(evidence)
    for who, label in (("client", _("Client")), ("therapist", _("Therapist"))):
        report = reports.get(who)
        if report is None:
            continue
        if report.get("rupture", "none") == "none":
            figures.append((label, _("no rupture reported")))
        else:
            figures.append(
                (label, _("rupture: %(size)s; talked through: %(talked)s") % _rupture_words(report))
            )
    return figures


def _rater_discrepancy_figures(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (_("Therapist's score"), one(evidence["therapist"])),
        (_("Client's score"), one(evidence["client"])),
        (_("Therapist higher by"), one(evidence["difference"])),
    ]


def _disengagement_figures(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    figures = [(_("Sessions"), session_list(evidence["sessions"]))]
    if evidence["kind"] == "missed":
        figures.append(
            (
                _("Attendance"),
                ", ".join(word(ATTENDANCE_WORDS, value) for value in evidence["attendance"]),
            )
        )
    elif evidence["kind"] == "unrated":
        figures.append((_("Client rating"), _("none, though each session was attended")))
    else:
        raise ValueError(f"unknown kind {evidence['kind']!r}")
    return figures


def _not_on_track_figures(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    figures = [
        (_("Outcome score"), score(evidence["score"])),
        (_("First outcome score"), score(evidence["first"])),
        (_("Reliable change"), score(evidence["margin"])),
    ]
    if evidence["expected"] is not None:
        figures.append(
            (
                _("Expected by now"),
                _("%(expected)s (median of %(clients)s clients of this clinic)")
                % {"expected": score(evidence["expected"]), "clients": evidence["clients"]},
            )
        )
    direction = _("higher is better") if evidence["higher_is_better"] else _("lower is better")
    figures.append((_("Scale"), direction))
    return figures


# --- Words shared with the concern's story -------------------------------------------


def score(value: Any) -> str:
    """An outcome score: as many decimals as it has, up to two (sums are whole)."""
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def one(value: Any) -> str:
    """A score to one decimal, as the therapist sees it elsewhere."""
    return f"{float(value):.1f}"


def count_words(number: int) -> str:
    return str(NUMBER_WORDS[number]) if 0 <= number < len(NUMBER_WORDS) else str(number)


def word(words: dict[str, Any], value: object) -> str:
    return str(words.get(str(value), str(value).replace("_", " ")))


def session_list(numbers: Sequence[int]) -> str:
    """ "session 5", "sessions 6 and 7", a run as a range ("sessions 4–6"), else a list."""
    numbers = [int(number) for number in numbers]
    if not numbers:
        raise ValueError("no sessions")
    if len(numbers) == 1:
        return _("session %(number)s") % {"number": numbers[0]}
    if len(numbers) == 2:
        return _("sessions %(first)s and %(second)s") % {
            "first": numbers[0],
            "second": numbers[1],
        }
    if all(later == earlier + 1 for earlier, later in pairwise(numbers)):
        return _("sessions %(first)s–%(last)s") % {"first": numbers[0], "last": numbers[-1]}
    return _("sessions %(list)s") % {"list": ", ".join(str(number) for number in numbers)}


DESCRIBERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "below_cutoff": _below_cutoff,
    "reliable_drop": _reliable_drop,
    "dimension_drop": _dimension_drop,
    "declining_trend": _declining_trend,
    "rupture_unresolved": _rupture_unresolved,
    "rater_discrepancy": _rater_discrepancy,
    "disengagement": _disengagement,
    "not_on_track": _not_on_track,
}
FIGURES: dict[str, Callable[[dict[str, Any]], list[tuple[str, str]]]] = {
    "below_cutoff": _below_cutoff_figures,
    "reliable_drop": _reliable_drop_figures,
    "dimension_drop": _dimension_drop_figures,
    "declining_trend": _declining_trend_figures,
    "rupture_unresolved": _rupture_figures,
    "rater_discrepancy": _rater_discrepancy_figures,
    "disengagement": _disengagement_figures,
    "not_on_track": _not_on_track_figures,
}
