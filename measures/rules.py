"""The flag rules: pure functions of one client's ordered history.

Each rule walks the history once (O(n) per client, running sums rather than
recomputed means) and yields a Finding wherever it fires. Every number comes
from `Thresholds`; nothing here reads settings or touches the ORM.
"""

from __future__ import annotations

import math
import operator
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from measures.history import DEFAULT_OWN_SD_MULTIPLIER, Finding, Point, Thresholds
from measures.scoring import DIMENSIONS

# The Flag.Rule and Flag.Severity values (measures.models), kept ORM-free here.
BELOW_CUTOFF = "below_cutoff"
RELIABLE_DROP = "reliable_drop"
DIMENSION_DROP = "dimension_drop"
DECLINING_TREND = "declining_trend"
RUPTURE_UNRESOLVED = "rupture_unresolved"
RATER_DISCREPANCY = "rater_discrepancy"
DISENGAGEMENT = "disengagement"
# Not a rule of this module: measures.tracking fires it when the client's outcome goes off
# track. Named here with the others so grouping can place it.
NOT_ON_TRACK = "not_on_track"
LOW, MEDIUM, HIGH = "low", "medium", "high"

RUPTURES = frozenset({"a_little", "a_lot"})
# Float noise (9.2 − 7.2 = 1.9999999…) must never decide a clinical flag.
TOLERANCE = 1e-9


def below_cutoff(history: Sequence[Point], t: Thresholds) -> Iterator[Finding]:
    """Every client rating under the cut-off.

    The brief-scale convention: below 36 of 40 on the Session Rating Scale (Duncan et al. 2003).
    """
    cutoff, operator_ = round(t.cutoff, 2), t.cutoff_operator
    for point in history:
        score = point.client_score
        if score is not None and t.is_below_cutoff(score):
            yield Finding(
                point.session_id,
                BELOW_CUTOFF,
                LOW,
                {"score": round(score, 1), "cutoff": cutoff, "operator": operator_},
            )


def reliable_drop(history: Sequence[Point], t: Thresholds) -> Iterator[Finding]:
    """A fall below the client's own usual level by more than chance allows.

    A rupture is a drop below the client's own level (Stiles et al. 2004); a sudden loss is one
    beyond the reliable-change index (Jacobson & Truax 1991). The stricter of the two applies.
    """
    # Scores have one decimal, so sums are kept in whole tenths: exact, with no float drift.
    count = total = squares = 0
    needed = max(1, t.min_earlier_ratings)
    reliable_change = t.reliable_change
    for point in history:
        score = point.client_score
        if score is None:
            continue
        tenths = round(score * 10)
        if count >= needed:
            drop = (total - count * tenths) / (count * 10)
            # The threshold is never below the reliable change, so most points stop here.
            if drop > reliable_change + TOLERANCE:
                own_sd = _sample_sd_tenths(count, total, squares) / 10
                threshold = max(reliable_change, t.own_sd_multiplier * own_sd)
                if drop > threshold + TOLERANCE:
                    evidence = {
                        "score": round(score, 1),
                        "usual": round(total / count / 10, 2),
                        "drop": round(drop, 2),
                        "threshold": round(threshold, 2),
                        "reliable_change": round(reliable_change, 2),
                        "own_sd": round(own_sd, 2),
                        "earlier_ratings": count,
                    }
                    # Only a multiplier other than the default is kept: the signals stored
                    # under the default keep their evidence as it was.
                    if t.own_sd_multiplier != DEFAULT_OWN_SD_MULTIPLIER:
                        evidence["own_sd_multiplier"] = round(t.own_sd_multiplier, 2)
                    yield Finding(point.session_id, RELIABLE_DROP, HIGH, evidence)
        count += 1
        total += tenths
        squares += tenths * tenths


def _sample_sd_tenths(count: int, total: int, squares: int) -> float:
    """Sample SD (n − 1) from a running sum and sum of squares; 0 for fewer than two values."""
    if count < 2:
        return 0.0
    return math.sqrt(max(0, count * squares - total * total) / (count * (count - 1)))


def dimension_drop(history: Sequence[Point], t: Thresholds) -> Iterator[Finding]:
    """One dimension fell sharply since the client's previous rating.

    A rupture is a strain in one part of the alliance — bond, tasks or goals (Safran & Muran 2000) —
    which a mean of six dimensions can hide.
    """
    before: tuple[int, ...] | None = None
    since = 0
    for point in history:
        after = point.client
        if after is None:
            continue
        # One C-level pass finds the largest fall; the evidence is built only when it fires.
        if before is not None and max(map(operator.sub, before, after)) >= t.dimension_drop:
            yield Finding(
                point.session_id,
                DIMENSION_DROP,
                MEDIUM,
                {"dimensions": _fallen(before, after, t.dimension_drop), "since_session": since},
            )
        before, since = after, point.number


def _fallen(before: tuple[int, ...], after: tuple[int, ...], by: int) -> list[dict[str, object]]:
    """The dimensions that fell by at least `by`, largest fall first (ties in form order)."""
    fallen = [
        {"name": name, "from": was, "to": became}
        for name, was, became in zip(DIMENSIONS, before, after, strict=True)
        if was - became >= by
    ]
    fallen.sort(key=lambda dimension: dimension["to"] - dimension["from"])
    return fallen


def declining_trend(history: Sequence[Point], t: Thresholds) -> Iterator[Finding]:
    """Several client ratings in a row, each lower than the one before, adding up to a real fall
    that ends below the client's own usual level.

    The alliance predicts outcome (r ≈ .28 over 295 studies; Flückiger et al. 2018), so a steady
    slide matters before it crosses any threshold. Near the ceiling, though, three small falls in
    a row are common chance (9.8 → 9.7 → 9.5), so the run must fall by `trend_min_fall` in all
    and end `trend_below_usual` under the mean of the client's ratings before it.
    """
    length = max(2, t.trend_length)
    recent: deque[Point] = deque(maxlen=length)
    run = 0
    last = math.inf
    # Earlier ratings (before the run's window), summed in tenths: exact, with no float drift.
    earlier_count = earlier_tenths = 0
    for point in history:
        score = point.client_score
        if score is None:
            continue
        run = run + 1 if score < last - TOLERANCE else 1
        last = score
        if len(recent) == length:
            earlier_count += 1
            earlier_tenths += round(recent[0].client_score * 10)
        recent.append(point)
        if run < length:
            continue
        fell = recent[0].client_score - score
        usual = earlier_tenths / earlier_count / 10 if earlier_count else None
        below_usual = t.trend_below_usual <= 0 or (
            usual is not None and usual - score >= t.trend_below_usual - TOLERANCE
        )
        if fell >= t.trend_min_fall - TOLERANCE and below_usual:
            evidence = {
                # Point.client_score is already rounded to one decimal.
                "scores": [p.client_score for p in recent],
                "sessions": [p.number for p in recent],
                "fall": round(fell, 1),
            }
            if usual is not None:
                evidence["usual"] = round(usual, 2)
            yield Finding(point.session_id, DECLINING_TREND, MEDIUM, evidence)


def rupture_unresolved(
    history: Sequence[Point], t: Thresholds, now: datetime | None = None
) -> Iterator[Finding]:
    """A rupture, reported by the client or noticed by the therapist, not fully talked through.

    Repaired ruptures go with better outcomes (Eubanks, Muran & Safran 2018), unrepaired ones with
    drop-out (Muran et al. 2009). Clients report fewer ruptures than observers see (Eubanks et al.
    2018), so a rupture the therapist noticed and the client did not report is worth a look too.
    A rupture the client says was fully talked through is a repair: kept and shown, never raised.
    The client has the last word, so a rupture only the therapist saw waits for the client's
    answer, or for their rating window to close unanswered (always closed when `now` is None).
    """
    for point in history:
        if point.rupture not in RUPTURES and point.therapist_rupture not in RUPTURES:
            continue  # no rupture to report (most sessions: a sweep reads 600,000)
        reports = rupture_reports(point)
        if point.client is None and now is not None and point.awaits_client(t, now):
            continue
        client = reports.get("client")
        if client is not None and client.get("talked_through") == "fully":
            continue  # the client's word on the repair is the one that counts
        unresolved = {
            who: report
            for who, report in reports.items()
            if report["rupture"] in RUPTURES and report["talked_through"] != "fully"
        }
        if not unresolved:
            continue
        yield Finding(
            point.session_id, RUPTURE_UNRESOLVED, _rupture_severity(unresolved, t), reports
        )


def rupture_reports(point: Point) -> dict[str, dict[str, str]]:
    """What each rater said of a rupture at this session, in the evidence's words.

    The client's answer is kept even when it is "none", so the evidence can say the
    therapist saw a rupture the client did not report. A therapist's rating without a
    rupture, or an unrated session, says nothing.
    """
    reports: dict[str, dict[str, str]] = {}
    if point.client is not None:
        reports["client"] = {
            "rupture": point.rupture or "none",
            "talked_through": point.rupture_resolved or "unanswered",
        }
        if reports["client"]["rupture"] == "none":
            reports["client"] = {"rupture": "none"}
    if point.therapist is not None and point.therapist_rupture in RUPTURES:
        reports["therapist"] = {
            "rupture": point.therapist_rupture,
            "talked_through": point.therapist_rupture_resolved or "unanswered",
        }
    return reports


def _rupture_severity(unresolved: dict[str, dict[str, str]], t: Thresholds) -> str:
    """High for a rupture of "a lot"; a rupture of "a little" is medium (high if not talked
    through at all) when the clinic lets small ruptures alert, else low: context, shown in a
    concern but never opening one."""
    if any(r["rupture"] == "a_lot" for r in unresolved.values()):
        return HIGH
    if not t.minor_rupture_alerts:
        return LOW
    # The client is always asked; an empty answer (old data) counts as not talked through.
    client_unanswered = unresolved.get("client", {}).get("talked_through") == "unanswered"
    if client_unanswered or any(r["talked_through"] == "not_at_all" for r in unresolved.values()):
        return HIGH
    return MEDIUM


def repaired(point: Point) -> bool:
    """A rupture reported as fully talked through: a repair, marked on the chart."""
    reports = rupture_reports(point)
    client = reports.get("client")
    if client is not None and client["rupture"] in RUPTURES:
        return client["talked_through"] == "fully"
    therapist = reports.get("therapist")
    return therapist is not None and therapist["talked_through"] == "fully"


def rater_discrepancy(history: Sequence[Point], t: Thresholds) -> Iterator[Finding]:
    """The therapist rated the session well above the client.

    Clients rate the alliance higher than therapists on average (Tryon, Blackwell & Hammel 2007)
    and report fewer ruptures, so a client score below the therapist's is a warning.
    """
    for point in history:
        client, therapist = point.client_score, point.therapist_score
        if client is None or therapist is None:
            continue
        difference = round(therapist - client, 1)
        if difference >= t.discrepancy - TOLERANCE:
            yield Finding(
                point.session_id,
                RATER_DISCREPANCY,
                MEDIUM,
                {
                    "therapist": round(therapist, 1),
                    "client": round(client, 1),
                    "difference": difference,
                },
            )


def disengagement(history: Sequence[Point], t: Thresholds, now: datetime) -> Iterator[Finding]:
    """Missed sessions in a row, or attended sessions left unrated.

    Unresolved ruptures go with drop-out (Muran et al. 2009); withdrawal shows in the session log
    — no-shows, cancellations, unanswered forms — before, or instead of, in the scores.
    """
    yield from _missed_in_a_row(history, t)
    yield from _unrated_in_a_row(history, t, now)


def _missed_in_a_row(history: Sequence[Point], t: Thresholds) -> Iterator[Finding]:
    run: list[Point] = []
    for point in history:
        if point.missed:
            run.append(point)
            if len(run) == t.missed_in_a_row:
                yield Finding(
                    point.session_id,
                    DISENGAGEMENT,
                    MEDIUM,
                    {
                        "kind": "missed",
                        "sessions": [p.number for p in run],
                        "attendance": [p.attendance for p in run],
                    },
                )
        elif point.attended:
            run.clear()


def _unrated_in_a_row(history: Sequence[Point], t: Thresholds, now: datetime) -> Iterator[Finding]:
    # Missed sessions are skipped; an attended session the client may still rate is pending.
    run: list[Point] = []
    for point in history:
        if not point.attended:
            continue
        if point.client is not None:
            run.clear()
        elif not point.awaits_client(t, now):
            run.append(point)
            if len(run) == t.unrated_in_a_row:
                yield Finding(
                    point.session_id,
                    DISENGAGEMENT,
                    MEDIUM,
                    {"kind": "unrated", "sessions": [p.number for p in run]},
                )


SCORE_RULES = (
    below_cutoff,
    reliable_drop,
    dimension_drop,
    declining_trend,
    rater_discrepancy,
)


@dataclass(frozen=True)
class Rule:
    """A rule as `evaluate` runs it, with the thresholds it reads and no others: calibration,
    which replays a clinic's histories under some thirty sets of thresholds, evaluates a rule
    again only when one of these changes (a test holds every rule to its list)."""

    find: Callable[[Sequence[Point], Thresholds, datetime], Iterable[Finding]]
    reads: tuple[str, ...]


def _at_any_time(
    rule: Callable[[Sequence[Point], Thresholds], Iterator[Finding]],
) -> Callable[[Sequence[Point], Thresholds, datetime], Iterator[Finding]]:
    """A score rule, which needs no clock, called as the rules that do."""

    def find(history: Sequence[Point], t: Thresholds, now: datetime) -> Iterator[Finding]:
        return rule(history, t)

    find.__name__ = rule.__name__
    return find


# In the order `evaluate` runs them (so its findings keep their order).
RULES = (
    Rule(_at_any_time(below_cutoff), ("cutoff", "cutoff_operator")),
    Rule(
        _at_any_time(reliable_drop),
        ("sd", "reliability", "min_earlier_ratings", "own_sd_multiplier"),
    ),
    Rule(_at_any_time(dimension_drop), ("dimension_drop",)),
    Rule(_at_any_time(declining_trend), ("trend_length", "trend_min_fall", "trend_below_usual")),
    Rule(_at_any_time(rater_discrepancy), ("discrepancy",)),
    Rule(rupture_unresolved, ("rating_grace", "minor_rupture_alerts")),
    Rule(disengagement, ("missed_in_a_row", "unrated_in_a_row", "rating_grace")),
)


def evaluate(history: Sequence[Point], t: Thresholds, now: datetime) -> list[Finding]:
    """Every rule's findings for one client's ordered history (at most one per session and rule)."""
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule.find(history, t, now))
    return findings
