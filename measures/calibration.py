"""Calibrating a clinic's thresholds on its own ratings.

The reliable-change index needs the scale's spread (SD) and reliability (r); the
settings borrow 1.0 and 0.70 from other scales until a clinic has data of its own.
From the clinic's client ratings this estimates:

- the spread of scores between clients: the SD of every client rating (one
  observation of a client is one draw from the clinic's population of scores);
- the session-to-session reliability of stable clients: the correlation between a
  client's successive scores, over clients with no reported rupture and no concern other
  than ones dismissed as needing no repair (by a review, `Concern.dismissed_without_review`)
  or withdrawn by Alliance (test-retest reliability, Jacobson & Truax 1991);
- the reliable change, 1.96 × SD × √(2 × (1 − r)), that these give;
- the size of a fall in one dimension, and of a therapist-over-client difference,
  that stable clients reach by chance in fewer than 1 in 100 sessions.

Then it replays detection (rules and concern grouping, `simulate_concerns`) over
the last 12 weeks with the current and the proposed thresholds, and for the main
thresholds over a range of values, counting concerns per therapist per week.
Pure functions on plain values at the core; `clinic_histories` reads the clinic's
histories and `calibration_result` works out all a calibration shows. A calibration asked
for, worked out by a worker and kept for the clinic admin to look at and apply is
`measures.calibration_runs`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q

from alliance.progress import OnProgress, OnStage
from clients.models import Client, Clinic
from measures.grouping import simulate_concerns
from measures.history import Finding, Point, Thresholds
from measures.models import Concern, Rating
from measures.rules import RULES, RUPTURES, Rule
from measures.thresholds import current_values

WINDOW_WEEKS = 12
# Enough to estimate an SD and a correlation: at least 20 stable clients, 100 successive pairs.
MIN_STABLE_CLIENTS = 20
MIN_PAIRS = 100
# A fall or a difference stable clients reach by chance in under 1 in 100 sessions.
CHANCE = 0.01
DIMENSION_DROP_RANGE = (3, 6)
DISCREPANCY_RANGE = (1.0, 3.0)
NOTE_NAMES = {
    "dimension_drop": "fall in one dimension",
    "discrepancy": "margin of the therapist over the client",
}


@dataclass(frozen=True)
class ClientHistory:
    client_id: int
    therapist_id: int
    stable: bool
    history: list[Point]  # sessions holding a link still open past their window marked so
    # The history unmarked, for a client holding such a link at the replay's moment:
    # detection raises only what the rules find both ways (`detection.histories`).
    as_it_stands: list[Point] | None = None

    def found(self, rule: Rule, t: Thresholds, now: dt.datetime) -> list[Finding]:
        """What `rule` raises for this client under `t`, as detection would at `now`."""
        found = list(rule.find(self.history, t, now))
        if self.as_it_stands is None or not found:
            return found
        stands = {(f.session_id, f.rule) for f in rule.find(self.as_it_stands, t, now)}
        return [f for f in found if (f.session_id, f.rule) in stands]


@dataclass
class Estimates:
    clients: int = 0
    stable_clients: int = 0
    ratings: int = 0
    pairs: int = 0
    sd: float | None = None
    reliability: float | None = None
    reliable_change: float | None = None
    dimension_drop: int | None = None
    discrepancy: float | None = None
    enough_data: bool = False
    notes: list[str] = field(default_factory=list)


def estimate(clients: Sequence[ClientHistory]) -> Estimates:
    """The scale's spread and reliability, and chance-level falls, from these histories."""
    scores = [p.client_score for c in clients for p in c.history if p.client_score is not None]
    stable = [c for c in clients if c.stable]
    pairs = [pair for c in stable for pair in _successive(c.history)]
    found = Estimates(
        clients=len(clients),
        stable_clients=len(stable),
        ratings=len(scores),
        pairs=len(pairs),
    )
    if len(stable) < MIN_STABLE_CLIENTS or len(pairs) < MIN_PAIRS:
        found.notes.append(
            f"Too few ratings to calibrate: {len(stable)} stable clients and {len(pairs)} pairs "
            f"of successive ratings; at least {MIN_STABLE_CLIENTS} and {MIN_PAIRS} are needed."
        )
        return found
    found.sd = round(statistics.stdev(scores), 2)
    correlation = _correlation(
        [a.client_score for a, _ in pairs], [b.client_score for _, b in pairs]
    )
    if found.sd <= 0 or correlation is None:
        found.notes.append("Every score is the same, so no spread or reliability can be estimated.")
        return found
    found.reliability = round(min(max(correlation, 0.0), 0.95), 2)
    found.reliable_change = round(1.96 * found.sd * math.sqrt(2 * (1 - found.reliability)), 2)
    found.dimension_drop = _chance_dimension_drop(pairs)
    found.discrepancy = _chance_discrepancy([p for c in stable for p in c.history])
    found.enough_data = True
    return found


def _successive(history: Sequence[Point]) -> list[tuple[Point, Point]]:
    rated = [p for p in history if p.client is not None]
    return list(itertools.pairwise(rated))


def _correlation(first: list[float], second: list[float]) -> float | None:
    try:
        return statistics.correlation(first, second)
    except statistics.StatisticsError:
        return None


def _chance_dimension_drop(pairs: Sequence[tuple[Point, Point]]) -> int:
    """The smallest fall in one dimension that stable clients reach in under 1 % of pairs."""
    falls = Counter(
        max(before - after for before, after in zip(a.client, b.client, strict=True))
        for a, b in pairs
    )
    low, high = DIMENSION_DROP_RANGE
    for size in range(low, high + 1):
        reached = sum(count for fall, count in falls.items() if fall >= size)
        if reached / len(pairs) < CHANCE:
            return size
    return high


def _chance_discrepancy(points: Sequence[Point]) -> float | None:
    """The therapist-over-client difference stable clients pass in under 1 % of sessions,
    rounded up to half a point; None when too few sessions were rated by both."""
    differences = sorted(
        p.therapist_score - p.client_score
        for p in points
        if p.therapist_score is not None and p.client_score is not None
    )
    low, high = DISCREPANCY_RANGE
    if len(differences) < MIN_PAIRS:
        return None
    quantile = differences[min(len(differences) - 1, math.ceil((1 - CHANCE) * len(differences)))]
    return max(low, min(high, math.ceil(quantile * 2 + 1e-9) / 2))


def proposal(current: Thresholds, found: Estimates) -> Thresholds:
    """The thresholds the estimates call for (the current ones when there is too little data)."""
    if not found.enough_data:
        return current
    return dataclasses.replace(
        current,
        sd=found.sd,
        reliability=found.reliability,
        dimension_drop=found.dimension_drop or current.dimension_drop,
        discrepancy=found.discrepancy or current.discrepancy,
    )


# --- What the thresholds would have raised -----------------------------------------------


def concern_rates(
    clients: Sequence[ClientHistory], t: Thresholds, since: dt.datetime, now: dt.datetime
) -> dict[str, float]:
    """Concerns per therapist per week opened since `since`, by opening rule and in all."""
    return Replay(clients, since, now).rates(t)


NO_EVIDENCE: dict[str, Any] = {}
# The two stages of the work, as a progress bar names them, and the share of a running
# calibration's progress each stands for (on a 25,000-client clinic, 11 and 17 s).
READING = "Reading the histories"
REPLAYING = "Replaying the last 12 weeks"
SHARE = {READING: 40, REPLAYING: 60}


class Replay:
    """A clinic's histories replayed through detection under one set of thresholds after
    another, counting the concerns each would have opened since `since`.

    Each rule's findings are kept by the thresholds that rule reads (`rules.RULES`): a
    curve moves one threshold, so each of its points evaluates one rule again and groups
    every client's findings again, instead of evaluating all seven (a calibration replays
    some thirty sets of thresholds)."""

    def __init__(
        self,
        clients: Sequence[ClientHistory],
        since: dt.datetime,
        now: dt.datetime,
        on_progress: OnProgress | None = None,
    ) -> None:
        self.clients = clients
        self.since = since
        self.now = now
        self.replayed = 0
        self._on_progress = on_progress
        # Each rule's findings for every client (in `clients`' order), by the values of
        # the thresholds it reads.
        self._found: dict[tuple[Rule, tuple[Any, ...]], list[list[Finding]]] = {}
        therapists = {
            c.therapist_id for c in clients if any(p.starts_at >= since for p in c.history)
        }
        weeks = max((now - since).days / 7, 1)
        self._therapist_weeks = max(len(therapists), 1) * weeks

    def rates(self, t: Thresholds) -> dict[str, float]:
        """Concerns per therapist per week opened since `since`, by opening rule and in all."""
        by_rule = [self._findings(rule, t) for rule in RULES]
        opened: Counter[str] = Counter()
        for index, client in enumerate(self.clients):
            self._replayed_one()
            findings = [finding for found in by_rule for finding in found[index]]
            if not findings:
                continue  # nothing to group (most clients under most thresholds)
            concerns = simulate_concerns(client.history, t, self.now, findings=findings)
            if concerns:
                starts = {p.session_id: p.starts_at for p in client.history}
                for concern in concerns:
                    if starts[concern.opened_session_id] >= self.since:
                        opened[concern.opening_rule] += 1
        if self._on_progress is not None:
            self._on_progress(self.replayed)
        rates = {rule: round(count / self._therapist_weeks, 3) for rule, count in opened.items()}
        rates["all"] = round(sum(opened.values()) / self._therapist_weeks, 3)
        return rates

    def keep_only(self, t: Thresholds) -> None:
        """Forget every rule's findings but those under `t` (a curve's points are not
        needed once it is drawn: a huge clinic's would take 150 MB)."""
        kept = {_key(rule, t) for rule in RULES}
        self._found = {key: found for key, found in self._found.items() if key in kept}

    def _findings(self, rule: Rule, t: Thresholds) -> list[list[Finding]]:
        key = _key(rule, t)
        if key not in self._found:
            # Grouping reads a finding's session, rule and severity; the evidence, a dict a
            # finding, would be most of what is kept.
            self._found[key] = [
                [
                    Finding(found.session_id, found.rule, found.severity, NO_EVIDENCE)
                    for found in client.found(rule, t, self.now)
                ]
                for client in self.clients
            ]
        return self._found[key]

    def _replayed_one(self) -> None:
        self.replayed += 1
        if self._on_progress is not None and self.replayed % 100 == 0:
            self._on_progress(self.replayed)


def _key(rule: Rule, t: Thresholds) -> tuple[Rule, tuple[Any, ...]]:
    return rule, tuple(getattr(t, name) for name in rule.reads)


@dataclass(frozen=True)
class Curve:
    """One main threshold: its name, how to set it, and the values to try."""

    name: str
    label: str
    values: tuple[float, ...]
    value_of: Callable[[Thresholds], float]
    set_to: Callable[[Thresholds, float], Thresholds]


def _with_reliable_change(t: Thresholds, change: float) -> Thresholds:
    # The reliable change moves with the SD at the proposed reliability.
    return dataclasses.replace(t, sd=change / (1.96 * math.sqrt(2 * (1 - t.reliability))))


CURVES = (
    Curve(
        "reliable_change",
        "Reliable change (points)",
        (0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4),
        lambda t: round(t.reliable_change, 2),
        _with_reliable_change,
    ),
    Curve(
        "dimension_drop",
        "Fall in one dimension (points)",
        (2, 3, 4, 5, 6, 7),
        lambda t: t.dimension_drop,
        lambda t, v: dataclasses.replace(t, dimension_drop=int(v)),
    ),
    Curve(
        "trend_min_fall",
        "Total fall of a slide (points)",
        (1.0, 1.5, 2.0, 2.5, 3.0),
        lambda t: t.trend_min_fall,
        lambda t, v: dataclasses.replace(t, trend_min_fall=v),
    ),
    Curve(
        "discrepancy",
        "Therapist above client by (points)",
        (1.0, 1.5, 2.0, 2.5, 3.0),
        lambda t: t.discrepancy,
        lambda t, v: dataclasses.replace(t, discrepancy=v),
    ),
)


def _curve_values(curve: Curve, current: Thresholds, proposed: Thresholds) -> list[float]:
    return sorted({*curve.values, curve.value_of(current), curve.value_of(proposed)})


def curves(replay: Replay, current: Thresholds, proposed: Thresholds) -> list[dict[str, Any]]:
    """For each main threshold: concerns per therapist-week at each value (the others as
    proposed), and where the current and proposed values fall."""
    drawn = []
    for curve in CURVES:
        points = [
            {"value": value, "rate": replay.rates(curve.set_to(proposed, value))["all"]}
            for value in _curve_values(curve, current, proposed)
        ]
        replay.keep_only(proposed)
        drawn.append(
            {
                "name": curve.name,
                "label": curve.label,
                "points": points,
                "current": curve.value_of(current),
                "proposed": curve.value_of(proposed),
            }
        )
    return drawn


# --- Reading the clinic and storing the result ------------------------------------------


def clinic_histories(
    clinic: Clinic, stages: OnStage | None = None, now: dt.datetime | None = None
) -> list[ClientHistory]:
    """Every client's history in the clinic, marked stable or not, for calibration;
    `stages` hears how many have been read. With `now`, the replay's moment, sessions
    whose clients still hold an open link are marked, as detection marks them then."""
    from measures.detection import histories  # detection imports thresholds, as we do

    # An erased client of a clinic that keeps no numbers no longer counts (README "The
    # client's rights"): their rows stay, but not in the clinic's statistics.
    clients = Client.objects.filter(clinic=clinic).counted_in_statistics()
    # A concern open, being looked at, or resolved with a repair marks a client whose scores
    # moved for a reason, and so does one still waiting when the client was erased and then
    # dismissed without a reason (never reviewed); one dismissed as needing no repair does
    # not, nor one Alliance withdrew when its signals stopped holding.
    repaired = Concern.objects.filter(client=OuterRef("pk")).filter(
        Q(status__in=[*Concern.REVIEWABLE, Concern.Status.RESOLVED])
        | Concern.dismissed_without_review()
    )
    # A rupture reported by either rater.
    ruptured = Rating.objects.of_current_sessions().filter(
        session__client=OuterRef("pk"), rupture__in=list(RUPTURES)
    )
    facts = dict(
        (row[0], row[1:])
        for row in clients.annotate(unstable=Exists(repaired) | Exists(ruptured)).values_list(
            "pk", "therapist_id", "unstable"
        )
    )
    on_progress = stages(READING, len(facts)) if stages is not None else None
    read = []
    for client_id, _clinic_id, history, as_it_stands in histories(clients.values("pk"), now):
        if client_id not in facts:
            continue  # added since the facts were read (the histories may come from a replica)
        therapist_id, unstable = facts[client_id]
        read.append(ClientHistory(client_id, therapist_id, not unstable, history, as_it_stands))
        if on_progress is not None and len(read) % 100 == 0:
            on_progress(len(read))
    if on_progress is not None:
        on_progress(len(read))
    return read


def calibration_result(
    clients: Sequence[ClientHistory],
    current: Thresholds,
    now: dt.datetime,
    progress: Callable[[int], OnProgress] | None = None,
) -> dict[str, Any]:
    """Everything a calibration shows, as plain JSON-able values. `progress`, given how
    many client histories will be replayed in all, returns what to call with the count."""
    since = now - dt.timedelta(weeks=WINDOW_WEEKS)
    found = estimate(clients)
    proposed = proposal(current, found)
    settings = 1  # the current thresholds; then the proposed ones and each curve's points
    if found.enough_data:
        settings += 1 + sum(len(_curve_values(c, current, proposed)) for c in CURVES)
    replay = Replay(
        clients, since, now, progress(settings * len(clients)) if progress is not None else None
    )
    result: dict[str, Any] = {
        "window_weeks": WINDOW_WEEKS,
        "estimates": dataclasses.asdict(found),
        "enough_data": found.enough_data,
        "current": current_values(current) | {"reliable_change": round(current.reliable_change, 2)},
        "proposed": current_values(proposed) if found.enough_data else {},
        "rates": {"current": replay.rates(current)},
    }
    if found.discrepancy is None and found.enough_data:
        found.notes.append(
            "Too few sessions rated by both client and therapist to calibrate the "
            "difference between them; the current value is kept."
        )
        result["estimates"] = dataclasses.asdict(found)
    for name, top in (
        ("dimension_drop", DIMENSION_DROP_RANGE[1]),
        ("discrepancy", DISCREPANCY_RANGE[1]),
    ):
        if found.enough_data and getattr(found, name) == top:
            found.notes.append(
                f"The proposed {NOTE_NAMES[name]} is at the top of its range ({top}): the "
                "clinic's stable clients pass the usual values often. Look at who they are "
                "before applying it."
            )
            result["estimates"] = dataclasses.asdict(found)
    if found.enough_data:
        result["proposed_reliable_change"] = round(proposed.reliable_change, 2)
        result["rates"]["proposed"] = replay.rates(proposed)
        result["curves"] = curves(replay, current, proposed)
    return result


def rules_in(rates: Iterable[dict[str, float]]) -> list[str]:
    """The rules any of these rate tables mention, in a stable order, "all" last."""
    names = sorted({rule for table in rates for rule in table if rule != "all"})
    return [*names, "all"]
