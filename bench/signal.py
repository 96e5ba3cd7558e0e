"""Signal-quality benchmark for the flag rules: how many alerts, how many of them matter.

    .venv/bin/python bench/signal.py [--clients N] [--seed S] [--set name=value]...
                                     [--curve name=start:stop:step] [--json] [--per-signal]

No database and no timing targets: it simulates caseloads with planted events (ruptures, slow
drifts, drop-outs) on top of realistic ceiling-heavy client ratings, runs the detection on every
client's history in memory, and reports how much a clinician would have to review and how much of
it was real. The same seed always gives the same stdout (the run time goes to stderr).

The simulation (every number is a constant below)
--------------------------------------------------
N clients (--clients, default 2000, at least 100) with 12–20 weekly sessions each: 80 % stable, 8 %
rupture, 7 % drift, 5 % drop-out (counts exact by proportion, then shuffled).

* Client ratings. Each client has their own mean level (between-client spread) and a latent
  level that wanders around it session by session as an AR(1) process (phi = PHI). Each of the
  six dimensions (measures.scoring.DIMENSIONS) is the latent level plus small item noise, rounded
  and clipped to 0–10; the alliance score is their mean to one decimal (history.mean_score). The
  parameters are tuned so that stable clients score about 9.2 on average, about a quarter of
  their ratings are a perfect 10 and their within-client SD is about 0.45 (see the calibration
  line of the output). The latent phi of 0.5 shows as a lag-1 autocorrelation of about 0.2
  between a client's successive ratings: item noise, rounding, the ceiling and the bias of
  short series around their own mean all damp it.
* Background, for every client: about 8 % of sessions missed (cancelled or no-show, drawn
  independently, so two in a row happen by chance); 85 % of attended sessions rated by the
  client, 50 % by the therapist (independently). About 3 % of client ratings outside planted
  events report a small rupture ("a_little"), talked through fully (60 %), partly (30 %) or not
  at all (10 %), with no change in score.
  The therapist rates the client's latent level minus 0.4 on average (therapists rate lower;
  Tryon et al. 2007), SD 0.5 per rating, six whole-number dimensions.
* Planted rupture (8 %): at a session k from the 5th to the third-from-last, always attended and
  client-rated, the client's score falls 1–4 points (uniform) below their level. Half of the
  ruptures (each a coin flip) put half of the fall on two dimensions (each falls 1.5 × the size,
  the other four 0.75 ×), the other half spread it evenly. Half (a coin flip) are
  reported by the client ("a_little" under 2.5 points, else "a_lot"; talked through partly or
  not at all), half are not ("none"). 40 % carry into the next session with half the fall; after
  that the client is back at their level. A therapist who rates session k sees the rupture with
  probability 0.3 (answer "a_little", talked through "partly") and then rates the fall too;
  otherwise they rate the client's usual level.
* Planted drift (7 %): the client's score slides linearly over the last 4–6 sessions by 1–3.5
  points in all; no rupture is reported and the therapist does not notice.
* Planted drop-out (5 %): the record ends with 0–2 attended sessions whose forms go unanswered,
  then 2–3 missed sessions in a row. The event session is the first missed one.

Detection
---------
Each client is evaluated with `now` long after their last session. The unit a clinician reviews is
a *concern*: `measures.grouping.simulate_concerns(history, thresholds, now)` when that module
imports, else (and with --per-signal) every Finding of `measures.rules.evaluate` is its own concern,
as the app works today. Thresholds are `measures.history.Thresholds()` — the app's defaults —
changed only by --set.

What the figures mean
---------------------
* Caseload: a therapist sees 25 clients a week, so therapist-weeks = sessions / 25.
* New concerns per therapist-week: concerns opened (by that rule) ÷ therapist-weeks.
* Precision: the share of those concerns that contain a planted event, i.e. that have a signal in
  an event's window — rupture: sessions k and k+1; drift: every drift session and the one after
  (if any); drop-out: its unanswered and its missed sessions.
* Signals per 100 stable ratings: every Finding of that rule on stable clients (whether or not it
  opened a concern) per 100 client ratings of stable clients. The old system: about 46 in all.
* Recall: the share of planted events detected, i.e. with a signal of some concern at the event's
  session or the next one (rupture: k or k+1; drift: any drift session or the one after;
  drop-out: the first missed session or the next), by event type and size of fall.
* Chance: one random window per stable client (a random session from the 5th to the
  second-from-last, and the next); the share of these windows with a signal. Recall well above
  chance means the rules see the events, not just noise.
* Targets: ≤ 2 new concerns per therapist-week, ≥ 50 % precision, ≥ 85 % of ruptures of 2 points
  or more, ≥ 70 % of drifts and ≥ 95 % of drop-outs detected.

--curve name=start:stop:step re-runs the detection on the same simulated data for each value of
one threshold (stop included) and prints the trade-off: concerns per therapist-week, precision and
recall. --json prints every number as one JSON object instead of the tables.
"""

from __future__ import annotations

import os
import sys

# This file is called signal.py: run as a script, its folder comes first on sys.path and would
# shadow the standard library's `signal` (which subprocess, asyncio and Django import). Drop that
# folder before importing anything else, and put the project root there instead (as common.py).
BENCH = os.path.dirname(os.path.realpath(__file__))
PROJECT = os.path.dirname(BENCH)
sys.path[:] = [path for path in sys.path if os.path.realpath(path or os.curdir) != BENCH]
sys.path.insert(0, PROJECT)

import argparse
import dataclasses
import datetime as dt
import itertools
import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from measures import rules
from measures.history import Point, Thresholds
from measures.scoring import DIMENSIONS, SCORE_MAX, SCORE_MIN

try:
    from measures.grouping import simulate_concerns  # being written by another engineer
except ImportError as error:
    simulate_concerns = None
    GROUPING_MISSING = str(error)
else:
    GROUPING_MISSING = ""

# --- The simulation's parameters ---------------------------------------------------------------

DEFAULT_SEED = 2026
DEFAULT_CLIENTS = 2000
MIN_CLIENTS = 100
MIN_SESSIONS, MAX_SESSIONS = 12, 20  # weekly sessions per client, uniform
START = dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.UTC)  # the first session of every client
WEEK = dt.timedelta(weeks=1)
# Evaluated long after every last session, so that time-based rules (unanswered forms) can fire.
NOW = START + (MAX_SESSIONS + 8) * WEEK
CASELOAD = 25  # clients a therapist sees each week: therapist-weeks = sessions / CASELOAD

STABLE, RUPTURE, DRIFT, DROPOUT = "stable", "rupture", "drift", "drop-out"
KINDS = (STABLE, RUPTURE, DRIFT, DROPOUT)
EVENT_KINDS = (RUPTURE, DRIFT, DROPOUT)
# Share of clients of each planted kind; the rest are stable (80 %).
KIND_SHARES = {RUPTURE: 0.08, DRIFT: 0.07, DROPOUT: 0.05}

# Client scores. Each client's own mean level ~ N(CLIENT_MEAN, CLIENT_MEAN_SD), clipped to
# [CLIENT_MEAN_LOW, CLIENT_MEAN_HIGH]; the latent level is AR(1) around it with lag-1
# correlation PHI and stationary SD LATENT_SD; each dimension adds N(0, ITEM_SD), then is rounded
# and clipped to 0–10. The level may lie above 10: that is what makes ratings ceiling-heavy.
# Tuned so that stable clients show mean ≈ 9.2, ≈ 25 % perfect 10s, within-client SD ≈ 0.45.
CLIENT_MEAN = 9.35
CLIENT_MEAN_SD = 0.7
CLIENT_MEAN_LOW, CLIENT_MEAN_HIGH = 6.0, 10.8
PHI = 0.5
LATENT_SD = 0.6
ITEM_SD = 0.4

# Background realism, every client.
MISSED_SHARE = 0.08  # sessions cancelled or no-show, drawn independently
MISSED_KINDS = ("cancelled", "no_show")
CLIENT_RATED_SHARE = 0.85  # attended sessions the client rates
THERAPIST_RATED_SHARE = 0.50  # attended sessions the therapist rates
SMALL_RUPTURE_SHARE = 0.03  # ordinary client ratings that report a small rupture ("a_little")
SMALL_RUPTURE_RESOLVED = {"fully": 0.6, "partly": 0.3, "not_at_all": 0.1}
THERAPIST_OFFSET = -0.4  # therapists rate lower than clients (Tryon et al. 2007)
THERAPIST_SD = 0.5  # per rating, on top of the client's latent level

# Planted ruptures.
RUPTURE_FIRST_SESSION = 5  # k runs from here to the third-from-last session
RUPTURE_FALL = (1.0, 4.0)  # points, uniform
RUPTURE_CONCENTRATED_SHARE = 0.5  # half of the fall on two dimensions, the rest on four
RUPTURE_REPORTED_SHARE = 0.5
RUPTURE_A_LOT_FROM = 2.5  # a reported fall this large is "a_lot", a smaller one "a_little"
RUPTURE_REPORTED_RESOLVED = ("partly", "not_at_all")
RUPTURE_CARRY_SHARE = 0.4  # carries into the next session with half the fall
THERAPIST_SEES_RUPTURE = 0.3  # when the therapist rates session k

# Planted drifts.
DRIFT_FALL = (1.0, 3.5)  # points in all, uniform
DRIFT_SESSIONS = (4, 6)  # the last 4–6 sessions, uniform

# Planted drop-outs.
DROPOUT_UNRATED = (0, 2)  # attended sessions whose forms go unanswered, uniform
DROPOUT_MISSED = (2, 3)  # then missed sessions in a row, uniform

# Chance windows: one per stable client, from this session to the second-from-last, plus the next.
CHANCE_FIRST_SESSION = 5

# Size bands for recall, in points of planted fall: (label, low, high), low included.
SIZE_BANDS = {
    RUPTURE: (("1–2", 1.0, 2.0), ("2–3", 2.0, 3.0), ("3–4", 3.0, 4.0 + 1e-9)),
    DRIFT: (("1–2", 1.0, 2.0), ("2–3", 2.0, 3.0), ("3–3.5", 3.0, 3.5 + 1e-9)),
    DROPOUT: (),  # one row
}
BIG_RUPTURE = 2.0  # the target is on ruptures of at least this many points

# Targets.
MAX_CONCERNS_PER_THERAPIST_WEEK = 2.0
MIN_PRECISION = 0.50
MIN_RECALL = {"ruptures ≥ 2": 0.85, "drifts": 0.70, "drop-outs": 0.95}

RULE_ORDER = (
    rules.BELOW_CUTOFF,
    rules.RELIABLE_DROP,
    rules.DIMENSION_DROP,
    rules.DECLINING_TREND,
    rules.RUPTURE_UNRESOLVED,
    rules.RATER_DISCREPANCY,
    rules.DISENGAGEMENT,
)
ALL = "all"

# Point gains the therapist's rupture answers soon; pass them only once it has them.
POINT_FIELDS = set(Point._fields)
THERAPIST_RUPTURE_FIELDS = {"therapist_rupture", "therapist_rupture_resolved"} <= POINT_FIELDS


# --- The simulated data --------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A planted event and the sessions that count for it."""

    kind: str
    size: float  # planted fall in points (0 for drop-outs)
    detect: frozenset[int]  # a signal at one of these sessions detects it (recall)
    window: frozenset[int]  # a concern with a signal at one of these contains it (precision)


@dataclass(frozen=True)
class SimClient:
    kind: str
    history: tuple[Point, ...]
    event: Event | None
    chance_window: frozenset[int]  # stable clients only; empty otherwise


@dataclass(frozen=True)
class Simulation:
    seed: int
    clients: tuple[SimClient, ...]

    @property
    def sessions(self) -> int:
        return sum(len(client.history) for client in self.clients)

    @property
    def therapist_weeks(self) -> float:
        return self.sessions / CASELOAD

    def client_ratings(self, kind: str | None = None) -> int:
        return sum(
            1
            for client in self.clients
            if kind is None or client.kind == kind
            for point in client.history
            if point.client is not None
        )


@dataclass
class Plan:
    """What happens at one session before it is turned into a Point."""

    attendance: str = "attended"
    client_rated: bool = False
    therapist_rated: bool = False
    client_fall: tuple[float, ...] = (0.0,) * len(DIMENSIONS)
    therapist_fall: tuple[float, ...] = (0.0,) * len(DIMENSIONS)
    rupture: str | None = None  # None: the background draw decides
    rupture_resolved: str = ""
    therapist_rupture: str = "none"
    therapist_rupture_resolved: str = ""


def kinds_for(clients: int, rng: random.Random) -> list[str]:
    """Exactly the planted shares (rounded), the rest stable, in random order."""
    counts = {kind: round(clients * share) for kind, share in KIND_SHARES.items()}
    kinds = [STABLE] * (clients - sum(counts.values()))
    for kind, count in counts.items():
        kinds += [kind] * count
    rng.shuffle(kinds)
    return kinds


def latent_levels(rng: random.Random, mean: float, sessions: int) -> list[float]:
    """An AR(1) level around the client's mean: stationary SD LATENT_SD, lag-1 correlation PHI."""
    innovation = LATENT_SD * math.sqrt(1 - PHI * PHI)
    deviation = rng.gauss(0, LATENT_SD)
    levels = []
    for _ in range(sessions):
        levels.append(mean + deviation)
        deviation = PHI * deviation + rng.gauss(0, innovation)
    return levels


def items(rng: random.Random, level: float, fall: Sequence[float]) -> tuple[int, ...]:
    """Six whole-number dimension scores around a level, each minus its planted fall."""
    return tuple(
        min(SCORE_MAX, max(SCORE_MIN, round(level - down + rng.gauss(0, ITEM_SD)))) for down in fall
    )


def background(rng: random.Random, sessions: int) -> list[Plan]:
    plans = []
    for _ in range(sessions):
        if rng.random() < MISSED_SHARE:
            plans.append(Plan(attendance=rng.choice(MISSED_KINDS)))
        else:
            plans.append(
                Plan(
                    client_rated=rng.random() < CLIENT_RATED_SHARE,
                    therapist_rated=rng.random() < THERAPIST_RATED_SHARE,
                )
            )
    return plans


def plant_rupture(rng: random.Random, plans: list[Plan]) -> tuple[float, list[int]]:
    """A rupture at a random session k; returns its fall and the indexes of k and k + 1."""
    k = rng.randint(RUPTURE_FIRST_SESSION, len(plans) - 2) - 1  # index of session number k
    size = rng.uniform(*RUPTURE_FALL)
    if rng.random() < RUPTURE_CONCENTRATED_SHARE:
        # Half of the total (6 × size) on two dimensions, the other half on the other four.
        hit = set(rng.sample(range(len(DIMENSIONS)), 2))
        fall = tuple(size * (1.5 if d in hit else 0.75) for d in range(len(DIMENSIONS)))
    else:
        fall = (size,) * len(DIMENSIONS)
    at = plans[k]
    if at.attendance != "attended":  # a background miss: the therapist's form is drawn afresh
        at.therapist_rated = rng.random() < THERAPIST_RATED_SHARE
    at.attendance, at.client_rated, at.client_fall = "attended", True, fall
    if rng.random() < RUPTURE_REPORTED_SHARE:
        at.rupture = "a_little" if size < RUPTURE_A_LOT_FROM else "a_lot"
        at.rupture_resolved = rng.choice(RUPTURE_REPORTED_RESOLVED)
    else:
        at.rupture = "none"
    if at.therapist_rated and rng.random() < THERAPIST_SEES_RUPTURE:
        at.therapist_rupture, at.therapist_rupture_resolved = "a_little", "partly"
        at.therapist_fall = fall
    after = plans[k + 1]
    after.rupture = "none"  # no background small rupture inside the event
    if rng.random() < RUPTURE_CARRY_SHARE:
        after.client_fall = tuple(down / 2 for down in fall)
    return size, [k, k + 1]


def plant_drift(rng: random.Random, plans: list[Plan]) -> tuple[float, list[int]]:
    """A linear slide over the last few sessions; the therapist does not see it."""
    length = rng.randint(*DRIFT_SESSIONS)
    size = rng.uniform(*DRIFT_FALL)
    first = len(plans) - length
    for step, plan in enumerate(plans[first:], start=1):
        plan.client_fall = (size * step / length,) * len(DIMENSIONS)
        plan.rupture = "none"
    # The session after the drift's last would count too, but the drift ends the record.
    return size, list(range(first, len(plans)))


def plant_dropout(rng: random.Random, plans: list[Plan]) -> tuple[list[int], list[int]]:
    """Unanswered forms, then missed sessions, at the end; returns (detect, window) indexes."""
    unrated = rng.randint(*DROPOUT_UNRATED)
    missed = rng.randint(*DROPOUT_MISSED)
    first_missed = len(plans) - missed
    for plan in plans[first_missed - unrated : first_missed]:
        if plan.attendance != "attended":  # a background miss: the therapist's form drawn afresh
            plan.therapist_rated = rng.random() < THERAPIST_RATED_SHARE
        plan.attendance, plan.client_rated = "attended", False
    for index in range(first_missed, len(plans)):
        plans[index] = Plan(attendance=rng.choice(MISSED_KINDS))
    return [first_missed, first_missed + 1], list(range(first_missed - unrated, len(plans)))


def point_for(rng: random.Random, session_id: int, number: int, level: float, plan: Plan) -> Point:
    client = therapist = None
    rupture = resolved = ""
    therapist_rupture = therapist_resolved = ""
    if plan.attendance == "attended":
        if plan.client_rated:
            client = items(rng, level, plan.client_fall)
            if plan.rupture is not None:
                rupture, resolved = plan.rupture, plan.rupture_resolved
            elif rng.random() < SMALL_RUPTURE_SHARE:
                rupture = "a_little"
                resolved = rng.choices(
                    list(SMALL_RUPTURE_RESOLVED), list(SMALL_RUPTURE_RESOLVED.values())
                )[0]
            else:
                rupture = "none"
        if plan.therapist_rated:
            rated = level + THERAPIST_OFFSET + rng.gauss(0, THERAPIST_SD)
            therapist = items(rng, rated, plan.therapist_fall)
            therapist_rupture = plan.therapist_rupture
            therapist_resolved = plan.therapist_rupture_resolved
    extra: dict[str, str] = {}
    if THERAPIST_RUPTURE_FIELDS:
        extra = {
            "therapist_rupture": therapist_rupture,
            "therapist_rupture_resolved": therapist_resolved,
        }
    return Point(
        session_id=session_id,
        number=number,
        starts_at=START + (number - 1) * WEEK,
        attendance=plan.attendance,
        client=client,
        rupture=rupture,
        rupture_resolved=resolved,
        therapist=therapist,
        **extra,
    )


def simulate_client(
    rng: random.Random, chance_rng: random.Random, kind: str, first_id: int
) -> SimClient:
    sessions = rng.randint(MIN_SESSIONS, MAX_SESSIONS)
    mean = min(CLIENT_MEAN_HIGH, max(CLIENT_MEAN_LOW, rng.gauss(CLIENT_MEAN, CLIENT_MEAN_SD)))
    levels = latent_levels(rng, mean, sessions)
    plans = background(rng, sessions)
    size = 0.0
    detect: list[int] = []
    window: list[int] = []
    if kind == RUPTURE:
        size, detect = plant_rupture(rng, plans)
        window = detect
    elif kind == DRIFT:
        size, detect = plant_drift(rng, plans)
        window = detect
    elif kind == DROPOUT:
        detect, window = plant_dropout(rng, plans)
    history = tuple(
        point_for(rng, first_id + index, index + 1, levels[index], plan)
        for index, plan in enumerate(plans)
    )
    event = None
    if kind != STABLE:
        event = Event(
            kind,
            size,
            frozenset(first_id + index for index in detect if index < sessions),
            frozenset(first_id + index for index in window if index < sessions),
        )
    chance: frozenset[int] = frozenset()
    if kind == STABLE:
        start = chance_rng.randint(CHANCE_FIRST_SESSION, sessions - 1) - 1
        chance = frozenset({first_id + start, first_id + start + 1})
    return SimClient(kind, history, event, chance)


def simulate(seed: int, clients: int) -> Simulation:
    rng = random.Random(seed)
    # Chance windows come from their own stream, so they never shift the simulated data.
    chance_rng = random.Random(seed * 1_000_003 + 1)
    made = []
    next_id = 1
    for kind in kinds_for(clients, rng):
        client = simulate_client(rng, chance_rng, kind, next_id)
        next_id += len(client.history)
        made.append(client)
    return Simulation(seed, tuple(made))


# --- Calibration ---------------------------------------------------------------------------------


def calibration(simulation: Simulation) -> dict[str, float]:
    """Stable clients' client ratings: mean score, perfect 10s, within-client SD, lag-1 r."""
    scores: list[float] = []
    perfect = 0
    sds: list[float] = []
    lag_products = lag_squares = 0.0
    therapist_gaps: list[float] = []
    for client in simulation.clients:
        if client.kind != STABLE:
            continue
        own = [p.client_score for p in client.history if p.client_score is not None]
        perfect += sum(1 for p in client.history if p.client and min(p.client) == SCORE_MAX)
        therapist_gaps += [
            p.therapist_score - p.client_score
            for p in client.history
            if p.therapist_score is not None and p.client_score is not None
        ]
        scores += own
        if len(own) < 2:
            continue
        mean = sum(own) / len(own)
        deviations = [score - mean for score in own]
        sds.append(math.sqrt(sum(d * d for d in deviations) / (len(own) - 1)))
        lag_products += sum(a * b for a, b in itertools.pairwise(deviations))
        lag_squares += sum(d * d for d in deviations)
    return {
        "mean_score": sum(scores) / len(scores),
        "perfect_share": perfect / len(scores),
        "within_client_sd": sum(sds) / len(sds),
        "lag1_autocorrelation": lag_products / lag_squares if lag_squares else 0.0,
        "therapist_minus_client": sum(therapist_gaps) / max(1, len(therapist_gaps)),
    }


# --- Detection -----------------------------------------------------------------------------------


class ConcernLike(Protocol):
    opening_rule: str
    opened_session_id: int
    signals: list[tuple[int, str]]


@dataclass(frozen=True)
class Concern:
    """What a clinician reviews: opened by one rule, holding every signal that belongs to it."""

    opening_rule: str
    opened_session_id: int
    signals: list[tuple[int, str]] = field(default_factory=list)


def per_signal_concerns(
    history: Sequence[Point], thresholds: Thresholds, now: dt.datetime
) -> list[Concern]:
    """Today's app: every Finding is reviewed on its own, so each is its own concern."""
    return [
        Concern(finding.rule, finding.session_id, [(finding.session_id, finding.rule)])
        for finding in rules.evaluate(history, thresholds, now)
    ]


@dataclass
class Detection:
    """One detection run over the whole simulation."""

    concerns: list[ConcernLike]  # every client's concerns
    stable_findings: Counter[str]  # every Finding on stable clients, by rule


def detect(simulation: Simulation, thresholds: Thresholds, per_signal: bool) -> Detection:
    concerns: list[ConcernLike] = []
    stable_findings: Counter[str] = Counter()
    for client in simulation.clients:
        if per_signal or simulate_concerns is None:
            found = per_signal_concerns(client.history, thresholds, NOW)
            if client.kind == STABLE:
                stable_findings.update(concern.opening_rule for concern in found)
        else:
            found = simulate_concerns(client.history, thresholds, NOW)
            if client.kind == STABLE:
                findings = rules.evaluate(client.history, thresholds, NOW)
                stable_findings.update(finding.rule for finding in findings)
        concerns.extend(found)
    return Detection(concerns, stable_findings)


# --- Scoring -------------------------------------------------------------------------------------


def ordered_rules(names: set[str]) -> list[str]:
    return [rule for rule in RULE_ORDER if rule in names] + sorted(names - set(RULE_ORDER))


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def recall_key(event: Event) -> list[str]:
    """The recall rows an event counts in: its size band, and the ≥ 2-point row for ruptures."""
    keys = [label for label, low, high in SIZE_BANDS[event.kind] if low <= event.size < high]
    if event.kind == RUPTURE and event.size >= BIG_RUPTURE:
        keys.append(f"≥ {BIG_RUPTURE:g}")
    return keys


def score(simulation: Simulation, detection: Detection) -> dict[str, Any]:
    """Every figure of the report, as plain numbers."""
    event_windows: set[int] = set()
    for client in simulation.clients:
        if client.event:
            event_windows |= client.event.window
    rules_at: dict[int, set[str]] = defaultdict(set)
    for concern in detection.concerns:
        for session_id, rule in concern.signals:
            rules_at[session_id].add(rule)
    seen_rules = {rule for rules_ in rules_at.values() for rule in rules_}
    opened: Counter[str] = Counter()
    relevant: Counter[str] = Counter()
    for concern in detection.concerns:
        hit = any(session_id in event_windows for session_id, _ in concern.signals)
        for key in (concern.opening_rule, ALL):
            opened[key] += 1
            relevant[key] += hit
    stable_ratings = simulation.client_ratings(STABLE)
    weeks = simulation.therapist_weeks
    table_rules = ordered_rules(set(opened) - {ALL} | set(detection.stable_findings) | seen_rules)
    per_rule = {}
    for rule in [*table_rules, ALL]:
        signals = (
            sum(detection.stable_findings.values())
            if rule == ALL
            else detection.stable_findings[rule]
        )
        per_rule[rule] = {
            "concerns": opened[rule],
            "concerns_per_therapist_week": opened[rule] / weeks,
            "precision": share(relevant[rule], opened[rule]),
            "stable_signals": signals,
            "signals_per_100_stable_ratings": 100 * signals / stable_ratings,
        }

    def caught(window: frozenset[int], rule: str) -> bool:
        """Whether a signal of `rule` (any rule for ALL) lies in the window."""
        if rule == ALL:
            return any(session_id in rules_at for session_id in window)
        return any(rule in rules_at.get(session_id, ()) for session_id in window)

    recall: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in EVENT_KINDS}
    by_rule: dict[str, dict[str, Any]] = {rule: {} for rule in [*table_rules, ALL]}
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for client in simulation.clients:
        if client.event:
            groups[(client.event.kind, "all")].append(client.event)
            for key in recall_key(client.event):
                groups[(client.event.kind, key)].append(client.event)
    for kind in EVENT_KINDS:
        keys = [label for label, _, _ in SIZE_BANDS[kind]]
        if kind == RUPTURE:
            keys += [f"≥ {BIG_RUPTURE:g}"]
        keys += ["all"]
        for key in keys:
            events = groups[(kind, key)]
            found = sum(caught(event.detect, ALL) for event in events)
            recall[kind][key] = {
                "events": len(events),
                "detected": found,
                "share": share(found, len(events)),
            }
    chance_windows = [c.chance_window for c in simulation.clients if c.kind == STABLE]
    columns = {
        "ruptures": groups[(RUPTURE, "all")],
        "ruptures ≥ 2": groups[(RUPTURE, f"≥ {BIG_RUPTURE:g}")],
        "drifts": groups[(DRIFT, "all")],
        "drop-outs": groups[(DROPOUT, "all")],
    }
    chance: dict[str, float | None] = {}
    for rule in [*table_rules, ALL]:
        for column, events in columns.items():
            found = sum(caught(event.detect, rule) for event in events)
            by_rule[rule][column] = share(found, len(events))
        chance[rule] = share(sum(caught(w, rule) for w in chance_windows), len(chance_windows))
        by_rule[rule]["chance"] = chance[rule]
    headline = {
        "concerns_per_therapist_week": per_rule[ALL]["concerns_per_therapist_week"],
        "precision": per_rule[ALL]["precision"],
        "ruptures ≥ 2": by_rule[ALL]["ruptures ≥ 2"],
        "drifts": by_rule[ALL]["drifts"],
        "drop-outs": by_rule[ALL]["drop-outs"],
    }
    return {
        "rules": per_rule,
        "recall": recall,
        "recall_by_rule": by_rule,
        "chance": chance,
        "chance_windows": len(chance_windows),
        "headline": headline,
        "targets": targets(headline),
    }


def targets(headline: dict[str, float | None]) -> list[dict[str, Any]]:
    def row(name: str, value: float | None, goal: float, at_most: bool) -> dict[str, Any]:
        met = value is not None and (value <= goal if at_most else value >= goal)
        return {"target": name, "value": value, "goal": goal, "at_most": at_most, "met": met}

    made = [
        row(
            "new concerns per therapist-week",
            headline["concerns_per_therapist_week"],
            MAX_CONCERNS_PER_THERAPIST_WEEK,
            True,
        ),
        row("precision", headline["precision"], MIN_PRECISION, False),
    ]
    made += [
        row(f"{name} detected", headline[name], goal, False) for name, goal in MIN_RECALL.items()
    ]
    return made


# --- Thresholds from the command line ------------------------------------------------------------


def threshold_value(name: str, text: str) -> Any:
    """A command-line value converted to the field's type (as its default has it)."""
    names = {f.name for f in dataclasses.fields(Thresholds)}
    if name not in names:
        raise ValueError(f"unknown threshold {name!r}; known: {', '.join(sorted(names))}")
    default = getattr(Thresholds(), name)
    try:
        return _converted(text, default)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _converted(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"takes true or false, not {text!r}")
        return text.lower() in ("true", "1")
    if isinstance(default, int):
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"takes a whole number, not {text!r}")
        return int(number)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, dt.timedelta):
        return dt.timedelta(days=float(text))  # given in days
    if isinstance(default, frozenset):
        return frozenset(item.strip() for item in text.split(",") if item.strip())
    return type(default)(text)


def with_settings(thresholds: Thresholds, settings: Sequence[str]) -> Thresholds:
    changes = {}
    for setting in settings:
        name, equals, text = setting.partition("=")
        if not equals:
            raise ValueError(f"--set takes name=value, not {setting!r}")
        changes[name.strip()] = threshold_value(name.strip(), text.strip())
    return dataclasses.replace(thresholds, **changes)


def curve_values(spec: str) -> tuple[str, list[Any]]:
    """name=start:stop:step → (name, values), stop included."""
    name, equals, span = spec.partition("=")
    parts = span.split(":")
    if not equals or len(parts) != 3:
        raise ValueError(f"--curve takes name=start:stop:step, not {spec!r}")
    start, stop, step = (float(part) for part in parts)
    if step <= 0 or stop < start:
        raise ValueError(f"--curve needs start ≤ stop and a positive step, not {spec!r}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    name = name.strip()
    return name, [threshold_value(name, repr(round(start + i * step, 10))) for i in range(count)]


def plain(value: Any) -> Any:
    """A threshold as JSON can hold it: durations in days."""
    return value.total_seconds() / 86400 if isinstance(value, dt.timedelta) else value


def shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def thresholds_dict(thresholds: Thresholds) -> dict[str, Any]:
    return {f.name: plain(getattr(thresholds, f.name)) for f in dataclasses.fields(thresholds)}


# --- Output --------------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = [f"{cell:>{width}}" for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


def detector_name(per_signal: bool) -> str:
    if simulate_concerns is not None and not per_signal:
        return "concerns (measures.grouping.simulate_concerns)"
    if per_signal:
        return "per-signal (--per-signal: every Finding is its own concern)"
    return f"per-signal (every Finding is its own concern; {GROUPING_MISSING})"


def report(summary: dict[str, Any]) -> str:
    out: list[str] = []
    kinds = summary["clients"]
    out.append("Alliance signal-quality benchmark")
    out.append(
        f"seed {summary['seed']}; clients {sum(kinds.values())} ("
        + ", ".join(f"{kinds[kind]} {kind}" for kind in KINDS)
        + f"); sessions {summary['sessions']}; client ratings {summary['client_ratings']} "
        f"({summary['stable_client_ratings']} stable); "
        f"therapist-weeks {summary['therapist_weeks']:.1f} ({CASELOAD} clients a week)"
    )
    out.append(f"detector: {summary['detector']}")
    out.append(
        "thresholds: "
        + " ".join(f"{name}={shown(value)}" for name, value in summary["thresholds"].items())
        + " (durations in days)"
    )
    c = summary["calibration"]
    out.append("")
    out.append(
        f"calibration (stable clients' ratings): mean score {c['mean_score']:.2f}, "
        f"perfect 10s {percent(c['perfect_share'])}, "
        f"within-client SD {c['within_client_sd']:.2f}, "
        f"lag-1 autocorrelation {c['lag1_autocorrelation']:.2f}; "
        f"therapist − client {c['therapist_minus_client']:+.2f}"
    )
    out.append("")
    out.append("Concerns by opening rule (precision: share containing a planted event)")
    rows = [
        [
            rule,
            str(r["concerns"]),
            f"{r['concerns_per_therapist_week']:.2f}",
            percent(r["precision"]),
            f"{r['signals_per_100_stable_ratings']:.1f}",
        ]
        for rule, r in summary["rules"].items()
    ]
    out.append(
        table(
            ["rule", "concerns", "new / therapist-week", "precision", "signals / 100 stable"],
            rows,
        )
    )
    out.append("")
    out.append("Recall: planted events detected (a signal at the event's session or the next)")
    names = {RUPTURE: "ruptures", DRIFT: "drifts", DROPOUT: "drop-outs"}
    rows = []
    for kind, bands in summary["recall"].items():
        for band, r in bands.items():
            label = names[kind] if band == "all" else f"{names[kind]} {band} points"
            rows.append([label, str(r["events"]), str(r["detected"]), percent(r["share"])])
    out.append(table(["events", "planted", "detected", "recall"], rows))
    out.append("")
    out.append("Caught by each rule's signals (same windows), and by chance")
    columns = ["ruptures", "ruptures ≥ 2", "drifts", "drop-outs", "chance"]
    rows = [
        [rule, *(percent(r[column]) for column in columns)]
        for rule, r in summary["recall_by_rule"].items()
    ]
    out.append(table(["rule", *columns], rows))
    out.append("")
    out.append(
        f"Chance: one random two-session window per stable client "
        f"({summary['chance_windows']} windows) holds a signal: "
        f"{percent(summary['chance'][ALL])} overall; "
        + ", ".join(
            f"{rule} {percent(value)}" for rule, value in summary["chance"].items() if rule != ALL
        )
    )
    out.append("")
    marks = []
    for t in summary["targets"]:
        value = t["value"]
        figure = f"{value:.2f}" if t["at_most"] else percent(value)
        goal = f"≤ {t['goal']:g}" if t["at_most"] else f"≥ {100 * t['goal']:g} %"
        marks.append(f"{t['target']} {figure} ({goal}) {'PASS' if t['met'] else 'MISS'}")
    out.append("Targets: " + "; ".join(marks))
    if summary.get("curve"):
        out.append("")
        out.append(curve_table(summary["curve_name"], summary["curve"]))
    return "\n".join(out)


def curve_table(name: str, points: list[dict[str, Any]]) -> str:
    rows = [
        [
            shown(p["value"]),
            f"{p['concerns_per_therapist_week']:.2f}",
            percent(p["precision"]),
            percent(p["ruptures ≥ 2"]),
            percent(p["drifts"]),
            percent(p["drop-outs"]),
        ]
        for p in points
    ]
    return f"Trade-off curve for {name} (same simulated data)\n" + table(
        [name, "new / therapist-week", "precision", "ruptures ≥ 2", "drifts", "drop-outs"], rows
    )


# --- Main ----------------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Signal-quality benchmark of the flag rules on simulated caseloads."
    )
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one threshold (repeatable); durations in days",
    )
    parser.add_argument(
        "--curve", metavar="NAME=START:STOP:STEP", help="re-run for each value of one threshold"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--per-signal", action="store_true", help="every Finding is its own concern"
    )
    args = parser.parse_args(argv)
    if args.clients < MIN_CLIENTS:
        parser.error(f"--clients must be at least {MIN_CLIENTS}")
    try:
        args.thresholds = with_settings(Thresholds(), args.set)
        args.curve_spec = curve_values(args.curve) if args.curve else None
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    began = time.perf_counter()
    simulation = simulate(args.seed, args.clients)
    generated = time.perf_counter()
    detection = detect(simulation, args.thresholds, args.per_signal)
    detected = time.perf_counter()
    kinds = Counter(client.kind for client in simulation.clients)
    summary: dict[str, Any] = {
        "seed": args.seed,
        "clients": {kind: kinds[kind] for kind in KINDS},
        "sessions": simulation.sessions,
        "client_ratings": simulation.client_ratings(),
        "stable_client_ratings": simulation.client_ratings(STABLE),
        "therapist_weeks": simulation.therapist_weeks,
        "detector": detector_name(args.per_signal),
        "thresholds": thresholds_dict(args.thresholds),
        "calibration": calibration(simulation),
        **score(simulation, detection),
    }
    if args.curve_spec:
        name, values = args.curve_spec
        summary["curve_name"] = name
        summary["curve"] = []
        for value in values:
            changed = dataclasses.replace(args.thresholds, **{name: value})
            headline = score(simulation, detect(simulation, changed, args.per_signal))["headline"]
            summary["curve"].append({"value": plain(value), **headline})
    finished = time.perf_counter()
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(report(summary))
    print(
        f"time: generate {generated - began:.1f} s, detect and score "
        f"{detected - generated:.1f} s, total {finished - began:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
