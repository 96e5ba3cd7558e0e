"""A clinic the size of a health system, for benchmarks: `manage.py seed_demo --scale large`.

The demo clinic (`demo.seed`) replays every row through the services, which is right for
three caseloads and far too slow for thousands: here the same believable histories
(`demo.histories`, `demo.outcomes`) are written with bulk inserts — PostgreSQL's COPY,
or `bulk_create` elsewhere — a batch of clients at a time, so memory stays the same at any
size. What the services would add around the rows (audit entries, rating links, the
replayed review of concerns) is left out: the detection sweep afterwards raises the
signals and concerns a clinic of this size would have waiting.

Deterministic: one seeded random generator draws everything in a fixed order, and every
date is counted back from the start of the day of the `now` given, so seeds the same day
are the same clinic.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, models
from django.utils import timezone

from clients.models import Client, Clinic, Supervision, User
from clients.services import clinic_create
from demo.histories import (
    CLOSE,
    GENEROUS,
    MIN_SESSIONS,
    SessionPlan,
    client_history,
    therapist_guesses,
)
from demo.outcomes import DETERIORATING, FLAT, IMPROVING, RECOVERING, outcome_answers
from measures.models import Instrument, OutcomeAnswer, Rating, instrument_for
from measures.scoring import DIMENSIONS, alliance_score
from measures.tracking import MILD, MODERATE, SEVERE
from sessions.models import Session

SCALE_CLINIC_NAME = "Harbour Health (scale demo)"
SCALE_CLINIC_SLUG = "scale"
SESSION_MINUTES = 50
CLIENTS_A_BATCH = 100
# Most clients rate near the ceiling and stay there; a few each of the warning signs.
PROFILE_WEIGHTS = {"stable": 0.70, "repaired": 0.12, "drifting": 0.10, "disengaging": 0.08}
# The outcome told with each alliance story (demo.seed.OUTCOME_STORIES, as chances).
COURSES = {
    "stable": {IMPROVING: 0.8, FLAT: 0.2},
    "repaired": {RECOVERING: 1.0},
    "drifting": {DETERIORATING: 1.0},
    "disengaging": {FLAT: 1.0},
}
BANDS = {MODERATE: 0.7, SEVERE: 0.15, MILD: 0.15}
READER_WEIGHTS = {CLOSE: 0.7, GENEROUS: 0.3}
SPANISH_CHANCE = 0.15
ASKS_OUTCOME_CHANCE = 0.92
# A clinic that asks both raters after every session: therapists rate nearly all of theirs,
# which gives the brief's 100,000 ratings for 60,000 sessions.
THERAPIST_RATES_CHANCE = 0.96
DISCHARGED_CHANCE = 0.15  # of the calm clients: finished treatment weeks or months ago
THERAPISTS_A_SUPERVISOR = 10
FIRST_NAMES = (
    "Alex", "Bea", "Carmen", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jonas",
    "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Petra", "Quinn", "Rosa", "Sami", "Tove",
)  # fmt: skip
LAST_NAMES = (
    "Abara", "Berg", "Costa", "Dahl", "Eze", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Novak", "Okoro", "Park", "Quist", "Rossi", "Silva",
)  # fmt: skip
LABELS = (
    "Maple", "Willow", "Cedar", "Juniper", "Rowan", "Hazel", "Aspen", "Birch", "Linden",
    "Alder", "Sage", "Fern", "Heron", "Wren", "Lark", "Finch",
)  # fmt: skip


@dataclass(frozen=True)
class Scale:
    """How big: therapists, clients shared among them, and weekly sessions in all."""

    therapists: int
    clients: int
    sessions: int

    def __post_init__(self) -> None:
        if self.therapists < 1 or self.clients < self.therapists:
            raise ValueError("A scale needs a therapist, and a client for every therapist.")
        if self.sessions < self.clients * MIN_SESSIONS:
            raise ValueError(f"A scale needs {MIN_SESSIONS} sessions a client at least.")


SCALES = {
    "large": Scale(therapists=50, clients=1_500, sessions=60_000),
    "huge": Scale(therapists=500, clients=25_000, sessions=600_000),
}


@dataclass(frozen=True)
class ScaleLogin:
    username: str
    roles: str


def scale_logins(scale: Scale) -> list[ScaleLogin]:
    """The log-ins worth printing: the supervisor of every therapist, the clinic admin, the
    first group's supervisor and the first therapist."""
    return [
        ScaleLogin("scale-supervisor", f"supervisor of all {scale.therapists} therapists"),
        ScaleLogin("scale-admin", "clinic admin"),
        ScaleLogin("scale-supervisor01", f"supervisor of {_group(scale, 0)} therapists"),
        ScaleLogin(_therapist_name(0), "therapist"),
    ]


def _group(scale: Scale, index: int) -> int:
    return len(range(index * THERAPISTS_A_SUPERVISOR, scale.therapists)[:THERAPISTS_A_SUPERVISOR])


def _therapist_name(index: int) -> str:
    return f"scale-therapist{index + 1:03d}"


def seed_scale_clinic(
    rng: random.Random,
    scale: Scale,
    *,
    now: dt.datetime,
    password: str,
    on_sessions: Callable[[int], None] | None = None,
) -> Clinic:
    """Create the clinic, its staff and every client's history; `on_sessions` is told how
    many sessions have been written so far. The caller holds the transaction.

    The clinic is as it stood when the day of `now` began (`as_of`), not at `now` itself,
    which would make two seeds seconds apart differ."""
    as_of = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    anchor = as_of.replace(hour=9)
    clinic = clinic_create(name=SCALE_CLINIC_NAME, slug=SCALE_CLINIC_SLUG)
    therapists = _staff_create(rng, clinic, scale, password)
    instrument = instrument_for(clinic.pk)
    lengths = _history_lengths(rng, scale)
    writer = _Writer()
    written = 0
    for first in range(0, scale.clients, CLIENTS_A_BATCH):
        batch = range(first, min(first + CLIENTS_A_BATCH, scale.clients))
        plans = [
            _plan(rng, lengths[number], therapists[number % len(therapists)][1], anchor, instrument)
            for number in batch
        ]
        clients = Client.objects.bulk_create(
            _client(clinic, therapists, number, plan)
            for number, plan in zip(batch, plans, strict=True)
        )
        written += writer.histories(clients, plans, as_of, instrument)
        if on_sessions is not None:
            on_sessions(written)
    return clinic


def _staff_create(
    rng: random.Random, clinic: Clinic, scale: Scale, password: str
) -> list[tuple[User, str]]:
    """Therapists (each a close or a generous reader of clients), a supervisor for each
    group of ten, one for everyone, and a clinic admin; all with `password`, hashed once —
    hashing it for each of 500 therapists would take minutes."""
    hashed = make_password(password)

    def staff(username: str, number: int, **roles: bool) -> User:
        first = FIRST_NAMES[number % len(FIRST_NAMES)]
        last = LAST_NAMES[number % len(LAST_NAMES)]
        return User(
            clinic=clinic, username=username, password=hashed, first_name=first,
            last_name=last, is_staff=True, **roles,
        )  # fmt: skip

    therapists = User.objects.bulk_create(
        staff(_therapist_name(index), index, is_therapist=True) for index in range(scale.therapists)
    )
    groups = range(0, scale.therapists, THERAPISTS_A_SUPERVISOR)
    supervisors = User.objects.bulk_create(
        [
            staff(f"scale-supervisor{number + 1:02d}", number + 7, is_supervisor=True)
            for number in range(len(groups))
        ]
        + [staff("scale-supervisor", 3, is_supervisor=True)]
    )
    User.objects.bulk_create([staff("scale-admin", 5, is_clinic_admin=True)])
    Supervision.objects.bulk_create(
        Supervision(supervisor=supervisor, therapist=therapist)
        for supervisor, first in zip(supervisors[:-1], groups, strict=True)
        for therapist in therapists[first : first + THERAPISTS_A_SUPERVISOR]
    )
    Supervision.objects.bulk_create(
        Supervision(supervisor=supervisors[-1], therapist=therapist) for therapist in therapists
    )
    return [(therapist, _weighted(rng, READER_WEIGHTS)) for therapist in therapists]


def _history_lengths(rng: random.Random, scale: Scale) -> list[int]:
    """Each client's number of sessions: between half and one and a half times the mean,
    adding up to the scale's sessions exactly."""
    mean = scale.sessions / scale.clients
    low = max(MIN_SESSIONS, round(mean / 2))
    lengths = [max(low, round(rng.uniform(mean / 2, mean * 1.5))) for _ in range(scale.clients)]
    difference = scale.sessions - sum(lengths)
    while difference:
        number = rng.randrange(scale.clients)
        step = 1 if difference > 0 else -1
        if lengths[number] + step >= low:
            lengths[number] += step
            difference -= step
    return lengths


@dataclass
class _Plan:
    """One client's planned treatment, drawn before anything is written."""

    profile: str
    language: str
    asks_outcome: bool
    history: list[SessionPlan]
    outcomes: list[list[int] | None] | None
    last_starts_at: dt.datetime
    discharged: bool

    @property
    def first_starts_at(self) -> dt.datetime:
        return self.last_starts_at - dt.timedelta(weeks=len(self.history) - 1)


def _plan(
    rng: random.Random, sessions: int, reader: str, anchor: dt.datetime, instrument: Instrument
) -> _Plan:
    profile = _weighted(rng, PROFILE_WEIGHTS)
    language = "es" if rng.random() < SPANISH_CHANCE else "en"
    asks_outcome = rng.random() < ASKS_OUTCOME_CHANCE
    history = client_history(
        rng, profile, language, sessions=sessions, therapist_rates=THERAPIST_RATES_CHANCE
    )
    outcomes = None
    if asks_outcome:
        outcomes = outcome_answers(
            rng,
            history,
            course=_weighted(rng, COURSES[profile]),
            band=_weighted(rng, BANDS),
            scale=instrument.scale(),
            items=instrument.item_count,
            scoring=instrument.scoring,
        )
    guesses = therapist_guesses(rng, history, reader)
    for session, guess in zip(history, guesses, strict=True):
        if session["therapist"] is not None and guess is not None:
            session["therapist"] = {**session["therapist"], "guessed_client_score": guess}
    discharged = profile == "stable" and rng.random() < DISCHARGED_CHANCE
    # Active clients were last seen in the last ten days; discharged ones weeks to months ago.
    days_ago = rng.randint(14, 180) if discharged else rng.randint(1, 10)
    last = anchor - dt.timedelta(days=days_ago) + dt.timedelta(hours=rng.randint(0, 8))
    return _Plan(profile, language, asks_outcome, history, outcomes, last, discharged)


def _client(
    clinic: Clinic, therapists: Sequence[tuple[User, str]], number: int, plan: _Plan
) -> Client:
    therapist, _reader = therapists[number % len(therapists)]
    discharged_at = plan.last_starts_at + dt.timedelta(days=7) if plan.discharged else None
    return Client(
        clinic=clinic,
        therapist=therapist,
        label=f"{LABELS[number % len(LABELS)]} {number + 1}",
        external_id=f"SCALE-{number + 1:06d}",
        language=plan.language,
        asks_outcome=plan.asks_outcome,
        status=Client.Status.DISCHARGED if plan.discharged else Client.Status.ACTIVE,
        discharged_at=discharged_at,
        # Registered shortly before their first session.
        created_at=plan.first_starts_at - dt.timedelta(days=3),
    )


class _Writer:
    """Sessions, ratings and outcome answers of a batch of clients, in bulk."""

    SESSION_COLUMNS = (
        "id", "client_id", "therapist_id", "number", "starts_at", "duration_minutes",
        "attendance", "modality", "notes", "created_at", "updated_at", "void_reason",
        "client_score", "guessed_client_score",
    )  # fmt: skip
    RATING_COLUMNS = (
        "session_id", "rater", *DIMENSIONS, "rupture", "rupture_resolved", "comment",
        "guessed_client_score", "submitted_at", "submitted_by_id", "updated_at",
        "notice_version", "notice_language", "notice_shown_at",
    )  # fmt: skip
    ANSWER_COLUMNS = ("session_id", "instrument_id", "answers", "score", "submitted_at", "track")

    def __init__(self) -> None:
        self._postgresql = connection.vendor == "postgresql"
        self._next_id = 0  # elsewhere than PostgreSQL: the next session id to hand out

    def histories(
        self,
        clients: Sequence[Client],
        plans: Sequence[_Plan],
        as_of: dt.datetime,
        instrument: Instrument,
    ) -> int:
        """Write the clients' histories as they stood at `as_of`; returns how many sessions."""
        ids = iter(self._session_ids(sum(len(plan.history) for plan in plans)))
        sessions: list[tuple[Any, ...]] = []
        ratings: list[tuple[Any, ...]] = []
        answers: list[tuple[Any, ...]] = []
        for client, plan in zip(clients, plans, strict=True):
            outcomes = plan.outcomes or [None] * len(plan.history)
            for week, (session, outcome) in enumerate(zip(plan.history, outcomes, strict=True)):
                session_id = next(ids)
                starts_at = plan.first_starts_at + dt.timedelta(weeks=week)
                logged_at = starts_at + dt.timedelta(minutes=SESSION_MINUTES)
                given_by: dict[str, Any] = {}
                for rater in ("client", "therapist"):
                    given = session[rater]  # type: ignore[literal-required]
                    lag = dt.timedelta(hours=session[f"{rater}_lag_hours"])  # type: ignore[literal-required]
                    at = max(starts_at + lag, logged_at)
                    # A rating whose drawn delay runs past `as_of` is not in yet (its form
                    # still open), rather than stamped at a moment it was not given.
                    if given is None or at > as_of:
                        given_by[rater] = None
                        continue
                    given_by[rater] = given
                    ratings.append(_rating_row(session_id, client, rater, given, at))
                    if rater == "client" and outcome is not None:
                        score = Decimal(str(round(instrument.score(outcome), 2)))
                        answers.append((session_id, instrument.pk, outcome, score, at, ""))
                sessions.append(
                    (
                        session_id, client.pk, client.therapist_id, week + 1, starts_at,
                        SESSION_MINUTES, session["attendance"], session["modality"], "",
                        logged_at, logged_at, "", *_rating_copies(given_by),
                    )
                )  # fmt: skip
        self._write(Session, self.SESSION_COLUMNS, sessions)
        self._write(Rating, self.RATING_COLUMNS, ratings)
        self._write(OutcomeAnswer, self.ANSWER_COLUMNS, answers)
        return len(sessions)

    def _session_ids(self, count: int) -> list[int]:
        """Ids for `count` sessions, taken up front so their ratings can point at them."""
        if self._postgresql:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [Session._meta.db_table, count],
                )
                return [row[0] for row in cursor.fetchall()]
        if not self._next_id:
            last = Session.objects.aggregate(last=models.Max("pk"))["last"]
            self._next_id = (last or 0) + 1
        first, self._next_id = self._next_id, self._next_id + count
        return list(range(first, self._next_id))

    def _write(
        self, model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
    ) -> None:
        if not self._postgresql:
            model._default_manager.bulk_create(
                (model(**dict(zip(columns, row, strict=True))) for row in rows), batch_size=2000
            )
            return
        quote = connection.ops.quote_name
        names = ", ".join(quote(column) for column in columns)
        sql = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(
                    [json.dumps(value) if isinstance(value, list) else value for value in row]
                )


def _rating_copies(given_by: dict[str, Any]) -> tuple[Decimal | None, int | None]:
    """The numbers the session's ratings (those given, by rater) copy onto it
    (Session.client_score), as Rating.save would write them."""
    by_client, by_therapist = given_by["client"], given_by["therapist"]
    score = alliance_score(by_client[name] for name in DIMENSIONS) if by_client else None
    return score, by_therapist.get("guessed_client_score") if by_therapist else None


def _rating_row(
    session_id: int, client: Client, rater: str, given: dict[str, Any], at: dt.datetime
) -> tuple[Any, ...]:
    by_client = rater == "client"
    return (
        session_id,
        rater,
        *(given[name] for name in DIMENSIONS),
        given["rupture"],
        given["rupture_resolved"],
        given["comment"],
        given.get("guessed_client_score"),
        at,
        None if by_client else client.therapist_id,
        at,
        # A client's rating records the notice it was answered under (measures.services).
        1 if by_client else None,
        client.language if by_client else "",
        at if by_client else None,
    )


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
