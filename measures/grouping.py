"""Concerns: which signals a clinician reviews together. Pure decisions on plain values.

A rule firing is a signal. A clinician reviews a *concern*: one episode for one
client. While a client has an open concern, every new signal joins it (and may
raise its severity); otherwise the first alerting signal opens one. Context
signals (`Thresholds.alerts` says which) never open a concern by themselves.

After a concern is closed, a signal opens a new one only for something new. Alerts
that repeat every session while a low stretch goes on (below the client's usual
level, the therapist rating higher than the client, a slow slide) are *level*
signals: they open a new concern only when the client's score has fallen reliably
— by more than the reliable-change threshold — below the highest level seen since
the closing (the level at closing, or a recovery since). Ruptures and missed or
unanswered sessions are *events*: each firing is new by construction (a rupture
at a session, a new run of misses), so it always opens one.

Alert fatigue comes from frequent and repetitive alerts (Ancker et al. 2017); the
reliable-change rule keeps "the same stretch again" apart from "worse again"
(Jacobson & Truax 1991).

`group()` serves the database (`measures.concerns`) and `simulate_concerns()` the
signal benchmark and the clinic's calibration, so all three judge alike.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from measures.history import Finding, Point, Thresholds
from measures.rules import (
    BELOW_CUTOFF,
    DECLINING_TREND,
    DIMENSION_DROP,
    DISENGAGEMENT,
    HIGH,
    LOW,
    MEDIUM,
    NOT_ON_TRACK,
    RATER_DISCREPANCY,
    RELIABLE_DROP,
    RUPTURE_UNRESOLVED,
    TOLERANCE,
    evaluate,
)

# Signals that are new each time they fire; every other rule is judged by the level.
# Going off track is an event too: each time is a new fall away from the expected course.
EVENT_RULES = frozenset({RUPTURE_UNRESOLVED, DISENGAGEMENT, NOT_ON_TRACK})
SEVERITY_ORDER = {LOW: 0, MEDIUM: 1, HIGH: 2}
# Within a session, the most specific account of what happened opens the concern.
RULE_ORDER = {
    rule: index
    for index, rule in enumerate(
        (
            RUPTURE_UNRESOLVED,
            RELIABLE_DROP,
            DIMENSION_DROP,
            RATER_DISCREPANCY,
            DECLINING_TREND,
            DISENGAGEMENT,
            # After the alliance's own signals: at a session where both fire, the alliance
            # concern opens and the outcome raises it (outcome_raise).
            NOT_ON_TRACK,
            BELOW_CUTOFF,
        )
    )
}


def more_severe(first: str | None, second: str | None) -> str | None:
    """The more severe of two severities (None counts as nothing)."""
    if first is None:
        return second
    if second is None:
        return first
    return first if SEVERITY_ORDER[first] >= SEVERITY_ORDER[second] else second


def one_level_up(severity: str) -> str:
    """The next severity up; high stays high."""
    return {LOW: MEDIUM, MEDIUM: HIGH}.get(severity, HIGH)


def about_the_alliance(rules: Iterable[str], *, raised: bool) -> bool:
    """Whether a concern holding signals of these rules (context included) is about the
    alliance, which the outcome raises, rather than about the outcome alone. One raised
    already stays so."""
    return raised or any(rule != NOT_ON_TRACK for rule in rules)


def outcome_raise(
    severity: str, *, alliance: bool, not_on_track: bool, already_raised: bool
) -> tuple[str, str]:
    """(severity, raised from) of a concern: an alliance concern of a client who is not on
    track on their outcome is raised one level, since feedback matters most for clients who
    are not improving as expected (Lambert et al. 2018). Once raised it stays raised: the
    therapist reviews it as it was raised. A concern about the outcome alone is not raised,
    and a high one has no higher level to go to.
    """
    if alliance and (not_on_track or already_raised) and severity != HIGH:
        return one_level_up(severity), severity
    return severity, ""  # nothing to raise: not an alliance concern, on track, or already high


@dataclass(frozen=True)
class Signal:
    """A rule's firing as grouping sees it. `key` identifies it to the caller (a flag id)."""

    key: Hashable
    number: int  # the session's number in the client's history
    rule: str
    severity: str


@dataclass(frozen=True)
class Closed:
    """The client's last closed concern: the stretch the therapist has already reviewed."""

    through: int  # the client's latest session number when it was closed
    level: float | None  # the client's latest alliance score then


@dataclass
class Grouping:
    """What to do with a batch of new signals for one client."""

    joined: list[Signal] = field(default_factory=list)  # into the open concern
    outside: list[Signal] = field(default_factory=list)  # context, or the same stretch again
    opens: bool = False  # the open concern is new: `joined[0]` opened it
    severity: str | None = None  # the open concern's severity after this batch


@dataclass(frozen=True)
class Standing:
    """An open concern as the signals still holding in it make it, after a withdrawal."""

    severity: str
    raised_from: str
    opening_rule: str  # the rule whose signal would have opened it
    joined: tuple[Signal, ...]  # what it holds, from the opening signal on
    outside: tuple[Signal, ...]  # before that: context, or the stretch already reviewed


def after_withdrawal(
    holding: Iterable[Signal],
    *,
    closed: Closed | None,
    scores: Mapping[int, float | None],
    t: Thresholds,
    not_on_track: bool,
    raised: bool,
) -> Standing | None:
    """An open concern once some of its signals were withdrawn: grouped again from those
    still holding (`holding`), as if they were all it had had, against the client's last
    closed concern. None when they would open none — context alone, or the stretch that
    concern already reviewed — which leaves nothing to review. Its severity then as
    grouping and the outcome set it (`outcome_raise`: a raised concern stays raised)."""
    regrouped = group(holding, open_severity=None, closed=closed, scores=scores, t=t)
    if not regrouped.opens or regrouped.severity is None:
        return None
    severity, raised_from = outcome_raise(
        regrouped.severity,
        alliance=about_the_alliance((s.rule for s in regrouped.joined), raised=raised),
        not_on_track=not_on_track,
        already_raised=raised,
    )
    return Standing(
        severity,
        raised_from,
        regrouped.joined[0].rule,
        tuple(regrouped.joined),
        tuple(regrouped.outside),
    )


def group(
    signals: Iterable[Signal],
    *,
    open_severity: str | None,
    closed: Closed | None,
    scores: Mapping[int, float | None],
    t: Thresholds,
) -> Grouping:
    """Place one client's new signals.

    `open_severity` is the severity of the client's open concern, or None if there is
    none; `scores` maps session numbers to the client's alliance score (None when unrated).
    Signals are taken in session order, alerting before context within a session, so a
    context signal at the session that opens a concern belongs to it.
    """
    result = Grouping(severity=open_severity)
    is_open = open_severity is not None
    ordered = sorted(signals, key=lambda s: _order(s, t))
    for signal in ordered:
        alerting = t.alerts(signal.rule, signal.severity)
        if not is_open and alerting and is_new(signal, closed, scores, t):
            is_open = result.opens = True
        if is_open:
            result.joined.append(signal)
            if alerting:
                result.severity = more_severe(result.severity, signal.severity)
        else:
            result.outside.append(signal)
    return result


def _order(signal: Signal, t: Thresholds) -> tuple[int, bool, int, int, str]:
    """Session order; within a session alerting first, most severe, most specific."""
    return (
        signal.number,
        not t.alerts(signal.rule, signal.severity),
        -SEVERITY_ORDER.get(signal.severity, 0),
        RULE_ORDER.get(signal.rule, len(RULE_ORDER)),
        str(signal.key),
    )


def is_new(
    signal: Signal, closed: Closed | None, scores: Mapping[int, float | None], t: Thresholds
) -> bool:
    """Whether an alerting signal is something new since the last closed concern."""
    if closed is None or signal.rule in EVENT_RULES:
        return True
    score = scores.get(signal.number)
    if score is None:
        return False
    since = [s for n, s in scores.items() if closed.through < n < signal.number and s is not None]
    levels = [level for level in (closed.level, *since) if level is not None]
    if not levels:
        return True  # nothing to compare with: the closed concern had no scores
    return max(levels) - score > t.reliable_change + TOLERANCE


# --- The same decisions over a whole history, for the benchmark and calibration ---------


@dataclass
class SimulatedConcern:
    """A concern as it would have been raised, had the therapist reviewed it as assumed."""

    opening_rule: str
    opened_session_id: int
    opened_number: int
    severity: str
    signals: list[tuple[int, str]] = field(default_factory=list)  # (session id, rule)


def simulate_concerns(
    history: Sequence[Point],
    t: Thresholds,
    now: dt.datetime,
    *,
    closed_after_sessions: int = 1,
    findings: Iterable[Finding] | None = None,
) -> list[SimulatedConcern]:
    """The concerns one client's history would have raised, session by session.

    The therapist is assumed to close each concern once `closed_after_sessions` more
    sessions have passed (talked over at the next session, then resolved or dismissed):
    what Alliance asks of them. Every rule is causal (a finding at a session uses only
    that session and earlier ones), so evaluating the whole history once and replaying
    its findings in session order gives what the live system would have done. `findings`
    are `evaluate(history, t, now)`'s when the caller has them (calibration keeps them).
    """
    numbers = {p.session_id: p.number for p in history}
    scores = {p.number: p.client_score for p in history}
    at_session: dict[int, list[Signal]] = defaultdict(list)
    for finding in evaluate(history, t, now) if findings is None else findings:
        number = numbers[finding.session_id]
        at_session[number].append(
            Signal((finding.session_id, finding.rule), number, finding.rule, finding.severity)
        )
    concerns: list[SimulatedConcern] = []
    current: SimulatedConcern | None = None
    closed: Closed | None = None
    for number in sorted(at_session):
        if current is not None and number > current.opened_number + closed_after_sessions:
            closed = _closing(current.opened_number + closed_after_sessions, scores)
            current = None
        grouping = group(
            at_session[number],
            open_severity=current.severity if current else None,
            closed=closed,
            scores=scores,
            t=t,
        )
        if grouping.opens:
            first = grouping.joined[0]
            current = SimulatedConcern(
                opening_rule=first.rule,
                opened_session_id=first.key[0],  # type: ignore[index]
                opened_number=number,
                severity=first.severity,
            )
            concerns.append(current)
        if current is not None:
            current.signals.extend(signal.key for signal in grouping.joined)  # type: ignore[misc]
            current.severity = grouping.severity or current.severity
    return concerns


def _closing(through: int, scores: Mapping[int, float | None]) -> Closed:
    """The reviewed stretch: through session `through`, at the latest score by then."""
    rated = [(n, s) for n, s in scores.items() if n <= through and s is not None]
    return Closed(through=through, level=max(rated)[1] if rated else None)
