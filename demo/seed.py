"""Writing the demo clinic: staff, caseloads, and weeks of practice replayed in order.

Every row goes through the services, so the demo obeys the same rules as real
use. The weeks are replayed as they would have happened: sessions logged and
ratings arriving in time order across the whole clinic, each followed by the
client's evaluation as of that moment, each night's refresh of the clinic's
expected outcome course, and therapists working through their review queue a few
days after each concern opens. So every concern in the demo opened when its
rating arrived, joined what followed, and was closed (or not) the way a practice
that mostly keeps up would close it — and the same slide never reopens a concern
once it has been dealt with.

Each client rating comes with the client's outcome check, stored as their link
stores it (`demo.outcomes` draws the courses), and most therapist ratings with a
guess of the client's score (`demo.histories.therapist_guesses`). Both are drawn
after every alliance history, so adding them left the alliance histories as they were.

The services stamp rows with "now"; afterwards only those stamps are moved back
to when things happened, or every chart and "last seen" would look wrong.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from clients import audit
from clients.models import Client, Clinic, User
from clients.services import (
    client_create,
    client_discharge,
    clinic_create,
    staff_create,
    supervision_create,
)
from demo.histories import CLOSE, GENEROUS, SessionPlan, client_history, therapist_guesses
from demo.outcomes import DETERIORATING, FLAT, IMPROVING, RECOVERING, outcome_answers
from measures.courses import courses_refresh
from measures.detection import evaluate_clients
from measures.models import (
    Concern,
    ExpectedCourse,
    Instrument,
    OutcomeAnswer,
    Rating,
    instrument_for,
)
from measures.outcomes import outcome_answer_save
from measures.review import concern_acknowledge, concern_dismiss, concern_resolve
from measures.services import rating_submit
from measures.tracking import MILD, MODERATE, SEVERE
from sessions.models import Session
from sessions.services import session_log

DEMO_CLINIC_NAME = "Riverside Counselling (demo)"
DEMO_CLINIC_SLUG = "demo"
DEMO_PASSWORD = "alliance-demo"
SESSION_MINUTES = 50
SPANISH_SPEAKERS_PER_THERAPIST = 3
# Mostly calm caseloads, as real alliance data is; one of each warning sign per therapist.
CASELOAD_PLAN = ("stable",) * 6 + ("repaired",) * 2 + ("drifting", "disengaging")
# The outcome told with each alliance story, in the order a caseload's clients of that story
# come: (course, starting band). A slipping alliance comes with a client getting worse, a
# rupture with a hard week and a recovery; calm clients mostly improve, one from far inside
# the clinical range, and one who started outside it stays level. Most start inside it near
# the cut-off, as most outpatients do; so that band's expected course rests on enough of
# the clinic's own clients (ALLIANCE_OUTCOME_MIN_CLIENTS) to judge the first answers by,
# and the other two bands, with three clients each, are judged by reliable change alone.
OUTCOME_STORIES = {
    "stable": (
        (IMPROVING, MODERATE),
        (IMPROVING, MODERATE),
        (IMPROVING, SEVERE),
        (FLAT, MILD),
        (IMPROVING, MODERATE),
        (IMPROVING, MODERATE),
    ),
    "repaired": ((RECOVERING, MODERATE), (IMPROVING, MODERATE)),
    "drifting": ((DETERIORATING, MODERATE),),
    "disengaging": ((FLAT, MODERATE),),
}
# The last calm client's switches (clients.Client), per therapist: two therapists left the
# outcome check off for a client, one shows a client their own chart.
LAST_CALM_CLIENT: dict[str, dict[str, bool]] = {
    "therapist1": {"shows_own_chart": True},
    "therapist2": {"asks_outcome": False},
    "therapist3": {"asks_outcome": False},
}
# How each therapist guesses their clients' scores: Daniel guesses high and misses falls.
READERS = {"therapist1": CLOSE, "therapist2": GENEROUS, "therapist3": CLOSE}
# Pseudonyms and initials only: demo data must never look like a real person's record.
LABELS = (
    "Maple", "Willow", "Cedar", "Juniper", "Rowan", "Hazel", "Aspen", "Birch", "Linden",
    "Alder", "Sage", "Fern", "Heron", "Wren", "Lark", "Finch", "A.K.", "J.M.", "R.T.",
    "L.B.", "S.O.", "M.C.", "D.V.", "E.P.", "N.G.", "T.H.", "C.R.", "F.D.",
)  # fmt: skip
# How the demo's therapists work their queue: seen after two days, closed after ten (so the
# last fortnight's concerns are still being looked at), except every fifth concern, left to
# slide (so the dashboard has something to escalate).
ACKNOWLEDGE_AFTER = dt.timedelta(days=2)
CLOSE_AFTER = dt.timedelta(days=10)
LET_SLIDE_EVERY = 5
REPAIR_NOTES = (
    "We talked about the tension over homework; agreed a slower pace.",
    "Named the misunderstanding from last week; they felt heard and we reset the goals.",
)
DISMISS_REASON = "Reviewed in session: a hard week outside therapy, not strain between us."
# Signals that, in the demo's stories, were worked through in the room.
REPAIRED_BY_TALKING = frozenset({"rupture_unresolved", "reliable_drop", "dimension_drop"})


@dataclass(frozen=True)
class DemoLogin:
    username: str
    first_name: str
    last_name: str
    roles: tuple[str, ...]


STAFF = (
    DemoLogin("supervisor", "Sam", "Okafor", ("supervisor",)),
    DemoLogin("therapist1", "Maya", "Lindqvist", ("therapist",)),
    DemoLogin("therapist2", "Daniel", "Reyes", ("therapist",)),
    DemoLogin("therapist3", "Priya", "Nair", ("therapist",)),
    DemoLogin("clinicadmin", "Jordan", "Blake", ("clinic admin",)),
)


@dataclass
class _Story:
    """One client's planned treatment: the alliance history, then what goes with it."""

    client: Client
    profile: str
    history: list[SessionPlan]
    last_starts_at: dt.datetime
    course: tuple[str, str] | None  # the outcome's course and starting band; None: not asked
    outcomes: list[list[int] | None] = field(default_factory=list)  # answers, per session


@dataclass(order=True)
class _Event:
    """Something that happened in the demo's past: a session logged, or a rating arriving."""

    at: dt.datetime
    order: int  # the session before its ratings, when they share a moment
    kind: str = field(compare=False)
    client: Client = field(compare=False)
    plan: SessionPlan = field(compare=False)
    starts_at: dt.datetime = field(compare=False)
    outcome: list[int] | None = field(compare=False, default=None)  # with a client rating


@dataclass
class _Replay:
    """What the replay carries from one event to the next."""

    instrument: Instrument
    sessions: dict[tuple[int, dt.datetime], Session] = field(default_factory=dict)
    seen_concerns: dict[int, int] = field(default_factory=dict)  # concern id → order opened
    answered: set[int] = field(default_factory=set)  # clients with an outcome answer


def seed_demo_clinic(rng: random.Random, *, now: dt.datetime) -> Clinic:
    """Create the demo clinic, its staff and three caseloads; the caller holds the transaction."""
    # Anchored to today, so the demo always looks current however old the checkout.
    anchor = timezone.localtime(now).replace(hour=9, minute=0, second=0, microsecond=0)
    clinic = clinic_create(name=DEMO_CLINIC_NAME, slug=DEMO_CLINIC_SLUG)
    staff = {login.username: _staff_create(clinic, login) for login in STAFF}
    therapists = [staff[f"therapist{number}"] for number in (1, 2, 3)]
    external_ids = (f"DEMO-{number:03d}" for number in itertools.count(1))
    caseloads: list[tuple[User, list[_Story]]] = []
    for therapist in therapists:
        supervision_create(supervisor=staff["supervisor"], therapist=therapist)
        caseloads.append((therapist, _plan_caseload(rng, therapist, external_ids, anchor)))
    instrument = instrument_for(clinic.pk)
    events: list[_Event] = []
    for therapist, stories in caseloads:
        for story in stories:
            _tell_the_rest(rng, story, instrument, READERS[therapist.username])
            events.extend(_events(story, now))
    _replay(sorted(events), now, instrument)
    # The nightly sweep after the last event: the clinic's expected course from every answer,
    # and rating windows that have closed since.
    courses_refresh(now)
    evaluate_clients(clinic.clients.values_list("pk", flat=True), now=now)
    # Finished, calm treatments are the plausible discharges.
    finished = [
        (therapist, [story.client for story in stories if story.profile == "stable"])
        for therapist, stories in caseloads
    ]
    for index, (therapist, calm) in enumerate(finished):
        for client in calm[: 1 + index % 2]:
            client_discharge(actor=therapist, client=client)
    return clinic


def _staff_create(clinic: Clinic, login: DemoLogin) -> User:
    return staff_create(
        clinic=clinic,
        username=login.username,
        password=DEMO_PASSWORD,
        first_name=login.first_name,
        last_name=login.last_name,
        is_therapist="therapist" in login.roles,
        is_supervisor="supervisor" in login.roles,
        is_clinic_admin="clinic admin" in login.roles,
        # So the demo log-ins also open the Django admin.
        is_staff=True,
    )


def _plan_caseload(
    rng: random.Random, therapist: User, external_ids: Iterator[str], anchor: dt.datetime
) -> list[_Story]:
    """Create the therapist's clients and draw their alliance histories."""
    profiles = list(CASELOAD_PLAN)
    rng.shuffle(profiles)
    labels = rng.sample(LABELS, len(profiles))
    languages = ["es"] * SPANISH_SPEAKERS_PER_THERAPIST
    languages += ["en"] * (len(profiles) - len(languages))
    rng.shuffle(languages)
    courses = {profile: iter(stories) for profile, stories in OUTCOME_STORIES.items()}
    calm_to_come = CASELOAD_PLAN.count("stable")
    caseload = []
    for profile, label, language in zip(profiles, labels, languages, strict=True):
        external_id = next(external_ids)
        course = next(courses[profile])
        calm_to_come -= profile == "stable"
        last_calm = profile == "stable" and not calm_to_come
        switches = LAST_CALM_CLIENT[therapist.username] if last_calm else {}
        client = client_create(
            actor=therapist,
            therapist=therapist,
            label=label,
            external_id=external_id,
            # Some clients take links by e-mail (the console backend prints them in demo).
            email=f"{external_id.lower()}@example.org" if int(external_id[-3:]) % 3 == 0 else "",
            language=language,
            **switches,
        )
        history = client_history(rng, profile, language)
        last_starts_at = _last_session_start(rng, anchor)
        asked = course if client.asks_outcome else None
        caseload.append(_Story(client, profile, history, last_starts_at, asked))
    return caseload


def _tell_the_rest(rng: random.Random, story: _Story, instrument: Instrument, reader: str) -> None:
    """The client's outcome check with each of their ratings, and the therapist's guesses."""
    if story.course is not None:
        course, band = story.course
        story.outcomes = outcome_answers(
            rng,
            story.history,
            course=course,
            band=band,
            scale=instrument.scale(),
            items=instrument.item_count,
            scoring=instrument.scoring,
        )
    guesses = therapist_guesses(rng, story.history, reader)
    for plan, guess in zip(story.history, guesses, strict=True):
        if plan["therapist"] is not None and guess is not None:
            plan["therapist"] = {**plan["therapist"], "guessed_client_score": guess}


def _last_session_start(rng: random.Random, anchor: dt.datetime) -> dt.datetime:
    """Between 1 and 10 days ago, on the hour, within a working day."""
    days_ago = rng.randint(1, 10)
    hours_after_nine = rng.randint(0, 8)
    return anchor - dt.timedelta(days=days_ago) + dt.timedelta(hours=hours_after_nine)


def _events(story: _Story, now: dt.datetime) -> Iterator[_Event]:
    client, history = story.client, story.history
    first_starts_at = story.last_starts_at - dt.timedelta(weeks=len(history) - 1)
    # A client is registered shortly before their first session, not today.
    Client.objects.filter(pk=client.pk).update(created_at=first_starts_at - dt.timedelta(days=3))
    for week, plan in enumerate(history):
        starts_at = first_starts_at + dt.timedelta(weeks=week)
        logged_at = starts_at + dt.timedelta(minutes=SESSION_MINUTES)
        yield _Event(logged_at, 0, "session", client, plan, starts_at)
        outcome = story.outcomes[week] if story.outcomes else None
        for rater, lag in (("client", "client_lag_hours"), ("therapist", "therapist_lag_hours")):
            if plan[rater] is not None:
                when = max(min(now, starts_at + dt.timedelta(hours=plan[lag])), logged_at)
                answers = outcome if rater == "client" else None
                yield _Event(when, 1, rater, client, plan, starts_at, answers)


def _replay(events: list[_Event], now: dt.datetime, instrument: Instrument) -> None:
    """Each day of the demo's past in turn: the night's refresh of the expected course, the
    morning's review, then the day's sessions and ratings, then one evaluation of the
    clients they touched (set-based, as the sweep is)."""
    state = _Replay(instrument)
    for _day, todays in itertools.groupby(events, key=lambda event: event.at.date()):
        todays = list(todays)
        clinic_id = todays[0].client.clinic_id
        _courses_refresh(clinic_id, todays[0].at, state)
        _review_due(clinic_id, todays[0].at, state)
        touched: set[int] = set()
        for event in todays:
            if event.kind == "session":
                session = state.sessions[(event.client.pk, event.starts_at)] = _log(event)
                if session.was_attended:
                    continue  # nothing to judge until its ratings arrive (or the sweep runs)
            else:
                _rate(event, state.sessions[(event.client.pk, event.starts_at)], state)
            touched.add(event.client.pk)
        if touched:
            evaluate_clients(touched, now=todays[-1].at)
    if events:
        _review_due(events[0].client.clinic_id, now, state)


def _log(event: _Event) -> Session:
    session = session_log(
        client=event.client,
        therapist=event.client.therapist,
        starts_at=event.starts_at,
        duration_minutes=SESSION_MINUTES,
        attendance=event.plan["attendance"],
        modality=event.plan["modality"],
    )
    Session.objects.filter(pk=session.pk).update(created_at=event.at, updated_at=event.at)
    return session


def _courses_refresh(clinic_id: int, day: dt.datetime, state: _Replay) -> None:
    """The night before `day`, as the sweep does it: the clinic's expected course from the
    answers so far and, where it moved, every answer judged against it again.

    Only a move in the points that rest on enough clients can change a judgement (or its
    evidence), so only then are the answers judged again: what the sweep would write, at
    a fraction of the demo's seeding time."""
    night = min(day, timezone.localtime(day).replace(hour=settings.ALLIANCE_SWEEP_HOUR, minute=0))
    before = _usable_course(clinic_id)
    if clinic_id in courses_refresh(night) and _usable_course(clinic_id) != before:
        evaluate_clients(state.answered, now=night)


def _usable_course(clinic_id: int) -> list[tuple[Any, ...]]:
    return list(
        ExpectedCourse.objects.filter(
            clinic_id=clinic_id, clients__gte=settings.ALLIANCE_OUTCOME_MIN_CLIENTS
        ).values_list("instrument_id", "band", "index", "improvement", "clients")
    )


def _rate(event: _Event, session: Session, state: _Replay) -> None:
    rater = Rating.Rater.CLIENT if event.kind == "client" else Rating.Rater.THERAPIST
    rating = rating_submit(
        session=session,
        rater=rater,
        answers=event.plan[event.kind],  # type: ignore[literal-required]
        submitted_by=event.client.therapist if rater == Rating.Rater.THERAPIST else None,
        evaluate=False,  # the replay evaluates as of the rating's own moment
    )
    Rating.objects.filter(pk=rating.pk).update(submitted_at=event.at, updated_at=event.at)
    if event.outcome is not None:
        # With the rating, as the client's link stores it (measures.services).
        answer = outcome_answer_save(
            session=session,
            instrument=state.instrument,
            answers=event.outcome,
            actor=audit.CLIENT_LINK,
        )
        OutcomeAnswer.objects.filter(pk=answer.pk).update(submitted_at=event.at)
        state.answered.add(event.client.pk)


def _review_due(clinic_id: int, at: dt.datetime, state: _Replay) -> None:
    """The therapists' review, as of `at`: acknowledge after two days, close after eight."""
    waiting = (
        Concern.objects.needing_review()
        .filter(client__clinic_id=clinic_id, opened_at__lte=at - ACKNOWLEDGE_AFTER)
        .select_related("client__therapist")
        .order_by("opened_at", "pk")
    )
    for concern in waiting:
        order = state.seen_concerns.setdefault(concern.pk, len(state.seen_concerns))
        if order % LET_SLIDE_EVERY == LET_SLIDE_EVERY - 1:
            continue
        therapist = concern.client.therapist
        if concern.status == Concern.Status.OPEN:
            concern = concern_acknowledge(
                concern=concern, actor=therapist, now=concern.opened_at + ACKNOWLEDGE_AFTER
            )
        if at - concern.opened_at >= CLOSE_AFTER:
            _close(concern, therapist, order)


def _close(concern: Concern, therapist: User, order: int) -> None:
    when = concern.opened_at + CLOSE_AFTER
    rules = set(concern.signals.values_list("rule", flat=True))
    if rules & REPAIRED_BY_TALKING:
        note = REPAIR_NOTES[order % len(REPAIR_NOTES)]
        concern_resolve(concern=concern, actor=therapist, note=note, now=when)
    else:
        concern_dismiss(concern=concern, actor=therapist, reason=DISMISS_REASON, now=when)


def demo_counts(clinic: Clinic) -> dict[str, Any]:
    """What the command reports once the demo is in place."""
    return {
        "staff": clinic.staff.count(),
        "clients": clinic.clients.count(),
        "sessions": Session.objects.filter(client__clinic=clinic).count(),
        "ratings": Rating.objects.filter(session__client__clinic=clinic).count(),
        "outcome answers": OutcomeAnswer.objects.filter(session__client__clinic=clinic).count(),
        "concerns": Concern.objects.filter(client__clinic=clinic).count(),
        "open": Concern.objects.filter(client__clinic=clinic).needing_review().count(),
    }
