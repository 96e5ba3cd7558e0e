"""Believable alliance histories for the demo clinic, as plain data.

Pure: given a seeded random generator and a profile name, `client_history()`
returns one client's sessions as dicts, so each profile's shape can be tested
without a database. The `seed_demo` command turns them into rows through the
services.

The profiles follow what real alliance data looks like: most clients rate near
the ceiling and stay there; some have a rupture that is talked through and
recover; a few drift down over several sessions while the therapist, rating
from the chair, does not notice; a few stop turning up.

`therapist_guesses()` adds the therapist's guess of the client's score to their
ratings, the way a close or a generous reader of clients guesses.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from measures.scoring import DIMENSIONS, SCORE_MAX, SCORE_MIN, alliance_score

PROFILES: tuple[str, ...] = ("stable", "repaired", "drifting", "disengaging")
MIN_SESSIONS = 6
MAX_SESSIONS = 20

# A stable client's alliance never dips below this, so the demo's calm
# caseload stays clear of the 9.0 cut-off most of the time and far from 8.
STABLE_FLOOR = Decimal("8.5")
# Stable clients differ from one another more than from one week to the next: each has a
# usual level of their own (STABLE_LEVELS) and a usual answer to each question (a lean,
# sd STABLE_LEAN_SD), which varies a little from session to session (STABLE_WEEK_SD on the
# level, STABLE_ANSWER_SD on each answer). That gives successive scores the correlation
# real ones have (0.64 for the Session Rating Scale, Duncan et al. 2003; 0.68 here over
# 900 simulated clients), so a clinic calibrating on the demo estimates a reliability
# near the settings' 0.70, not the 0.0–0.15 of answers drawn afresh each week.
STABLE_LEVELS = (9.0, 10.0)
STABLE_LEAN_SD = 0.3
STABLE_WEEK_SD = 0.1
STABLE_ANSWER_SD = 0.35
MISSED_SESSION_CHANCE = 0.10
UNRATED_CHANCE = 0.14
THERAPIST_RATES_CHANCE = 0.5
THANKS_CHANCE = 0.08
MISSED_DRIFT_GAP = Decimal(2)
MODALITY_WEIGHTS = {"in_person": 0.75, "video": 0.18, "phone": 0.07}
# How a therapist guesses the client's score (measures.guesses). Therapists judge their
# clients' view of the alliance only modestly well and rarely see a client getting worse
# (Tryon, Blackwell & Hammel 2007; Hannan et al. 2005): a close reader is usually within
# half a point; a generous one guesses a point or more high and holds the guess when the
# client's score falls.
CLOSE = "close"
GENEROUS = "generous"
READERS: tuple[str, ...] = (CLOSE, GENEROUS)
GUESS_CHANCE = 0.85  # the guess is optional on the therapist's form
CLOSE_GUESS_SD = 0.3
GENEROUS_MARGIN = (0.8, 1.6)

COMMENTS = {
    "rupture": {
        "en": "The homework felt like too much this week and I didn't want to say so.",
        "es": "La tarea de esta semana me pareció demasiado y no quise decirlo.",
    },
    "repair": {
        "en": "Glad we talked about last week.",
        "es": "Me alegra que habláramos de la semana pasada.",
    },
    "thanks": {"en": "Thank you, this helped.", "es": "Gracias, me ayudó."},
}
THERAPIST_RUPTURE_NOTE = "Client went quiet when we set homework; named it briefly."

Answers = dict[str, Any]


class SessionPlan(TypedDict):
    attendance: str
    modality: str
    client: Answers | None
    therapist: Answers | None
    # How long after the session starts each rating arrives.
    client_lag_hours: float
    therapist_lag_hours: float


@dataclass
class _Beat:
    """What one session is meant to show, before the dice decide the details."""

    level: float
    low: int = 8
    high: int = SCORE_MAX
    floor: Decimal = Decimal(0)
    # The sessions that carry a profile's point are always attended and rated.
    must_rate: bool = False
    attendance: str | None = None
    rupture: str = "none"
    resolved: str = ""
    comment: str = ""
    declining: bool = False
    # Set when the therapist sees the session differently from the client.
    therapist_level: float | None = None
    # How this client answers each question against their level, and how much an answer
    # varies from one session to the next (`_dimensions`).
    lean: tuple[float, ...] = (0.0,) * len(DIMENSIONS)
    spread: float = 0.6


def client_history(
    rng: random.Random,
    profile: str,
    language: str = "en",
    *,
    sessions: int | None = None,
    therapist_rates: float = THERAPIST_RATES_CHANCE,
) -> list[SessionPlan]:
    """One client's weekly sessions, oldest first, shaped by `profile`: `sessions` of them
    (at least MIN_SESSIONS), or a demo-sized number drawn; the therapist rates a session
    they were not meant to miss with the chance `therapist_rates`."""
    if profile not in PROFILES:
        raise ValueError(f"Unknown profile {profile!r}; choose one of {', '.join(PROFILES)}.")
    if sessions is not None and sessions < MIN_SESSIONS:
        raise ValueError(f"A history needs at least {MIN_SESSIONS} sessions, not {sessions}.")
    count = sessions if sessions is not None else rng.randint(MIN_SESSIONS, MAX_SESSIONS)
    beats = _BUILDERS[profile](rng, count)
    usual_modality = _weighted(rng, MODALITY_WEIGHTS)
    plans: list[SessionPlan] = []
    previous_score: Decimal | None = None
    for index, beat in enumerate(beats):
        attendance = beat.attendance or _attendance(rng, index, beat, plans)
        client = None
        if attendance == "attended" and _client_rates(rng, beat, plans):
            client = _client_answers(rng, beat, language, previous_score)
            previous_score = _score(client)
        therapist = None
        rates = beat.therapist_level is not None or _chance(rng, therapist_rates)
        if attendance == "attended" and rates:
            therapist = _therapist_answers(rng, beat, client)
        plans.append(
            SessionPlan(
                attendance=attendance,
                modality=usual_modality if _chance(rng, 0.85) else _weighted(rng, MODALITY_WEIGHTS),
                client=client,
                therapist=therapist,
                client_lag_hours=rng.uniform(2, 30),
                therapist_lag_hours=rng.uniform(1, 8),
            )
        )
    return plans


def _stable_beats(rng: random.Random, count: int) -> list[_Beat]:
    base = rng.uniform(*STABLE_LEVELS)
    # Drawn from a generator of its own, seeded by the level, so that every later draw of
    # `rng` (and with it the rest of the demo's stories) stays where it was.
    leaning = random.Random(base)
    lean = tuple(leaning.gauss(0, STABLE_LEAN_SD) for _ in DIMENSIONS)
    return [
        _Beat(
            level=base + rng.gauss(0, STABLE_WEEK_SD),
            floor=STABLE_FLOOR,
            lean=lean,
            spread=STABLE_ANSWER_SD,
        )
        for _ in range(count)
    ]


def _repaired_beats(rng: random.Random, count: int) -> list[_Beat]:
    """A rupture mid-treatment, talked through, then a stronger alliance than before."""
    beats = _stable_beats(rng, count)
    # Ruptures come once there is an alliance to strain: from the fifth session when the
    # treatment is long enough (and with four ratings before it, a fall can be judged).
    at = rng.randint(min(4, count - 3), count - 3)
    beats[at] = _Beat(
        level=rng.uniform(6.2, 7.0),
        low=5,
        high=8,
        must_rate=True,
        rupture=rng.choice(["a_little", "a_lot"]),
        resolved=rng.choice(["partly", "not_at_all"]),
        comment="rupture",
    )
    for later in range(at + 1, count):
        beats[later] = _Beat(level=rng.uniform(9.5, 9.9), low=9, floor=Decimal(9))
    # The session after the rupture is where it gets talked through.
    beats[at + 1].must_rate = True
    if _chance(rng, 0.5):
        beats[at + 1].rupture, beats[at + 1].resolved = "a_little", "fully"
        beats[at + 1].comment = "repair"
    return beats


def _drifting_beats(rng: random.Random, count: int) -> list[_Beat]:
    """Near the ceiling, then a steady slide over the last 4-6 sessions."""
    beats = _stable_beats(rng, count)
    tail = rng.randint(4, min(6, count - 2))
    start, end = rng.uniform(9.4, 9.7), rng.uniform(6.3, 6.9)
    for step in range(tail):
        level = start - (start - end) * (step + 1) / tail
        beats[count - tail + step] = _Beat(level=level, low=4, must_rate=True, declining=True)
    # Therapists rate higher than clients and miss quiet withdrawal (rater discrepancy).
    for beat in beats[-2:]:
        beat.therapist_level = rng.uniform(9.0, 9.5)
    return beats


def _disengaging_beats(rng: random.Random, count: int) -> list[_Beat]:
    """A slightly lukewarm alliance, then two no-shows in a row at the end."""
    base = rng.uniform(8.8, 9.3)
    beats = [_Beat(level=base + rng.gauss(0, 0.2)) for _ in range(count)]
    for beat in beats[-2:]:
        beat.attendance = "no_show"
    return beats


_BUILDERS = {
    "stable": _stable_beats,
    "repaired": _repaired_beats,
    "drifting": _drifting_beats,
    "disengaging": _disengaging_beats,
}


def therapist_guesses(
    rng: random.Random, history: list[SessionPlan], reader: str
) -> list[int | None]:
    """The therapist's guess of the client's score with each of their ratings, oldest first
    (None where they did not rate the session or left the guess blank)."""
    if reader not in READERS:
        raise ValueError(f"Unknown reader {reader!r}; choose one of {', '.join(READERS)}.")
    guesses: list[int | None] = []
    previous: tuple[Decimal, int | None] | None = None  # the last rated session's score, guess
    for plan in history:
        score = _score(plan["client"]) if plan["client"] is not None else None
        guess = None
        if plan["therapist"] is not None and _chance(rng, GUESS_CHANCE):
            # Unrated by the client, the guess is of the session as the therapist saw it.
            seen = float(score if score is not None else _score(plan["therapist"]))
            if reader == CLOSE:
                guess = round(seen + rng.gauss(0, CLOSE_GUESS_SD))
            else:
                guess = round(seen + rng.uniform(*GENEROUS_MARGIN))
                if score is not None and previous is not None and score < previous[0]:
                    # The fall goes unseen: the guess stays where it was.
                    before = previous[1] if previous[1] is not None else previous[0]
                    guess = max(guess, math.ceil(before))
            guess = min(SCORE_MAX, max(SCORE_MIN, guess))
        guesses.append(guess)
        if score is not None:
            previous = (score, guess)
    return guesses


def _attendance(rng: random.Random, index: int, beat: _Beat, plans: list[SessionPlan]) -> str:
    # The first session is the intake, and a miss is followed by a session, so
    # only the profiles that promise disengagement show two misses in a row.
    after_miss = bool(plans) and plans[-1]["attendance"] != "attended"
    if index == 0 or beat.must_rate or after_miss or not _chance(rng, MISSED_SESSION_CHANCE):
        return "attended"
    return rng.choice(["cancelled", "no_show"])


def _client_rates(rng: random.Random, beat: _Beat, plans: list[SessionPlan]) -> bool:
    if beat.must_rate:
        return True
    attended = [plan for plan in plans if plan["attendance"] == "attended"]
    # Never two unanswered forms in a row: that pattern belongs to disengagement.
    if attended and attended[-1]["client"] is None:
        return True
    return not _chance(rng, UNRATED_CHANCE)


def _client_answers(
    rng: random.Random, beat: _Beat, language: str, previous: Decimal | None
) -> Answers:
    scores = _dimensions(rng, beat.level, beat.low, beat.high, beat.lean, beat.spread)
    while alliance_score(scores) < beat.floor:
        scores[scores.index(min(scores))] += 1
    if beat.declining and previous is not None:
        # A drift reads as a drift only if each score is lower than the last.
        while alliance_score(scores) >= previous:
            scores[scores.index(max(scores))] -= 1
    comment_key = beat.comment or ("thanks" if _chance(rng, THANKS_CHANCE) else "")
    comment = COMMENTS[comment_key][language] if comment_key else ""
    return _answers(scores, beat.rupture, beat.resolved, comment)


def _therapist_answers(rng: random.Random, beat: _Beat, client: Answers | None) -> Answers:
    # Usually within a point of the client, unless the beat says the therapist missed something.
    if beat.therapist_level is not None:
        level = beat.therapist_level
    else:
        level = float(_score(client)) if client else beat.level
        level += rng.gauss(0, 0.3)
    scores = _dimensions(rng, level, low=max(SCORE_MIN, round(level) - 2), high=SCORE_MAX)
    if beat.therapist_level is not None and client is not None:
        # A drift the therapist misses should be wide enough to show as a rater discrepancy.
        target = min(_score(client) + MISSED_DRIFT_GAP, Decimal(SCORE_MAX))
        while alliance_score(scores) < target:
            scores[scores.index(min(scores))] += 1
    if beat.rupture == "none":
        return _answers(scores, "none", "", "")
    return _answers(scores, "a_little", "partly", THERAPIST_RUPTURE_NOTE)


def _dimensions(
    rng: random.Random,
    level: float,
    low: int,
    high: int,
    lean: tuple[float, ...] = (0.0,) * len(DIMENSIONS),
    spread: float = 0.6,
) -> list[int]:
    return [min(high, max(low, round(rng.gauss(level + bias, spread)))) for bias in lean]


def _answers(scores: list[int], rupture: str, resolved: str, comment: str) -> Answers:
    answers: Answers = dict(zip(DIMENSIONS, scores, strict=True))
    answers.update(rupture=rupture, rupture_resolved=resolved, comment=comment)
    return answers


def _score(answers: Answers) -> Decimal:
    return alliance_score(answers[name] for name in DIMENSIONS)


def _chance(rng: random.Random, probability: float) -> bool:
    return rng.random() < probability


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
