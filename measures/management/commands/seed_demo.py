"""`manage.py seed_demo`: a demo clinic whose caseloads look like real practice.

Every row goes through the services, so the demo obeys the same rules as real
use. Afterwards only the timestamps the services stamp with "now" are moved
back to when the session happened: weeks of therapy logged in one second would
make every chart and "last seen" column look wrong.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from clients.models import Client, Clinic, User
from clients.services import (
    client_create,
    client_discharge,
    clinic_create,
    staff_create,
    supervision_create,
)
from measures.demo import SessionPlan, client_history
from measures.detection import evaluate_clients
from measures.flags import flag_acknowledge, flag_dismiss, flag_resolve
from measures.models import Flag, Rating
from measures.services import rating_submit
from sessions.models import Session
from sessions.services import session_log

DEMO_CLINIC_NAME = "Riverside Counselling (demo)"
DEMO_CLINIC_SLUG = "demo"
DEMO_PASSWORD = "alliance-demo"
SEED = 2026
SESSION_MINUTES = 50
SPANISH_SPEAKERS_PER_THERAPIST = 3
# Mostly calm caseloads, as real alliance data is; one of each warning sign per therapist.
CASELOAD_PLAN = ("stable",) * 6 + ("repaired",) * 2 + ("drifting", "disengaging")
# Pseudonyms and initials only: demo data must never look like a real person's record.
LABELS = (
    "Maple", "Willow", "Cedar", "Juniper", "Rowan", "Hazel", "Aspen", "Birch", "Linden",
    "Alder", "Sage", "Fern", "Heron", "Wren", "Lark", "Finch", "A.K.", "J.M.", "R.T.",
    "L.B.", "S.O.", "M.C.", "D.V.", "E.P.", "N.G.", "T.H.", "C.R.", "F.D.",
)  # fmt: skip


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


class Command(BaseCommand):
    help = "Create a demo clinic with staff log-ins and realistic alliance histories."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any clinic exists, so a real database never gets demo data.",
        )

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        started = time.monotonic()
        with transaction.atomic():
            if Clinic.objects.filter(slug=DEMO_CLINIC_SLUG).exists():
                self.stdout.write("The demo clinic exists already; nothing changed.")
            elif if_empty and Clinic.objects.exists():
                self.stdout.write("This database has clinics already; no demo data added.")
                return
            else:
                now = timezone.now()
                clinic = seed_demo_clinic(random.Random(SEED), now=now)
                evaluate_clients(clinic.clients.values_list("pk", flat=True), now=now)
                date_flags_when_raised(clinic)
                review_some_flags(clinic, now)
                self._write_counts(clinic, time.monotonic() - started)
        self._write_logins()

    def _write_counts(self, clinic: Clinic, seconds: float) -> None:
        sessions = Session.objects.filter(client__clinic=clinic)
        ratings = Rating.objects.filter(session__client__clinic=clinic)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {clinic.name}: {clinic.staff.count()} staff, "
                f"{clinic.clients.count()} clients, {sessions.count()} sessions, "
                f"{ratings.count()} ratings, {Flag.objects.filter(client__clinic=clinic).count()} "
                f"flags ({seconds:.1f}s)."
            )
        )

    def _write_logins(self) -> None:
        self.stdout.write("")
        self.stdout.write("Demo log-ins:")
        self.stdout.write(f"  {'username':<13} {'password':<15} roles")
        for login in STAFF:
            roles = ", ".join(login.roles)
            self.stdout.write(f"  {login.username:<13} {DEMO_PASSWORD:<15} {roles}")
        self.stdout.write("")
        self.stdout.write(
            "Sign in at http://127.0.0.1:8000/ (Django admin: http://127.0.0.1:8000/admin/)."
        )


def seed_demo_clinic(rng: random.Random, *, now: dt.datetime) -> Clinic:
    """Create the demo clinic, its staff and three caseloads; the caller holds the transaction."""
    # Anchored to today, so the demo always looks current however old the checkout.
    anchor = timezone.localtime(now).replace(hour=9, minute=0, second=0, microsecond=0)
    clinic = clinic_create(name=DEMO_CLINIC_NAME, slug=DEMO_CLINIC_SLUG)
    staff = {login.username: _staff_create(clinic, login) for login in STAFF}
    therapists = [staff[f"therapist{number}"] for number in (1, 2, 3)]
    external_ids = (f"DEMO-{number:03d}" for number in itertools.count(1))
    for index, therapist in enumerate(therapists):
        supervision_create(supervisor=staff["supervisor"], therapist=therapist)
        caseload = _seed_caseload(rng, therapist, external_ids, anchor=anchor, now=now)
        # Finished, calm treatments are the plausible discharges; one or two each.
        finished = [client for client, profile in caseload if profile == "stable"]
        for client in finished[: 1 + index % 2]:
            client_discharge(actor=therapist, client=client)
    return clinic


def date_flags_when_raised(clinic: Clinic) -> None:
    """Detection ran once, just now, over weeks of history; in real use each flag is
    raised when its rating arrives. Date them so, for a queue whose ages look real."""
    flags = list(Flag.objects.filter(client__clinic=clinic).select_related("session"))
    rated_at = dict(
        Rating.objects.filter(
            session__client__clinic=clinic, rater=Rating.Rater.CLIENT
        ).values_list("session_id", "submitted_at")
    )
    for flag in flags:
        raised = rated_at.get(flag.session_id, flag.session.starts_at + dt.timedelta(days=1))
        flag.created_at = min(raised, flag.created_at)
    Flag.objects.bulk_update(flags, ["created_at"])


REPAIR_NOTES = (
    "We talked about the tension over homework; agreed a slower pace.",
    "Named the misunderstanding from last week; they felt heard and we reset the goals.",
)


DISMISS_REASON = "Reviewed in session: a hard week outside therapy, not strain between us."


def review_some_flags(clinic: Clinic, now: dt.datetime) -> None:
    """Show the queue as a practice that keeps up with it: flags from more than three
    weeks ago have been worked through (ruptures the story says were repaired resolved
    with a repair note, the rest dismissed with a reason), the last fortnight's are
    acknowledged or still open — and a few older ones were let slide, for the dashboard."""
    flags = (
        Flag.objects.filter(client__clinic=clinic)
        .select_related("client__therapist", "session")
        .order_by("created_at", "pk")
    )
    for index, flag in enumerate(flags):
        therapist = flag.client.therapist
        age = now - flag.created_at
        if age > dt.timedelta(days=21) and index % 7 != 0:
            if flag.rule in (Flag.Rule.RUPTURE_UNRESOLVED, Flag.Rule.RELIABLE_DROP):
                flag_resolve(flag=flag, actor=therapist, note=REPAIR_NOTES[index % 2])
            else:
                flag_dismiss(flag=flag, actor=therapist, reason=DISMISS_REASON)
        elif dt.timedelta(days=3) < age <= dt.timedelta(days=21) and index % 3 != 0:
            flag_acknowledge(flag=flag, actor=therapist)


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


def _seed_caseload(
    rng: random.Random,
    therapist: User,
    external_ids: Iterator[str],
    *,
    anchor: dt.datetime,
    now: dt.datetime,
) -> list[tuple[Client, str]]:
    profiles = list(CASELOAD_PLAN)
    rng.shuffle(profiles)
    labels = rng.sample(LABELS, len(profiles))
    languages = ["es"] * SPANISH_SPEAKERS_PER_THERAPIST
    languages += ["en"] * (len(profiles) - len(languages))
    rng.shuffle(languages)
    caseload = []
    for profile, label, language in zip(profiles, labels, languages, strict=True):
        external_id = next(external_ids)
        client = client_create(
            actor=therapist,
            therapist=therapist,
            label=label,
            external_id=external_id,
            # Some clients take links by e-mail (the console backend prints them in demo).
            email=f"{external_id.lower()}@example.org" if int(external_id[-3:]) % 3 == 0 else "",
            language=language,
        )
        history = client_history(rng, profile, language)
        last_starts_at = _last_session_start(rng, anchor)
        _log_history(client, therapist, history, last_starts_at=last_starts_at, now=now)
        caseload.append((client, profile))
    return caseload


def _last_session_start(rng: random.Random, anchor: dt.datetime) -> dt.datetime:
    """Between 1 and 10 days ago, on the hour, within a working day."""
    days_ago = rng.randint(1, 10)
    hours_after_nine = rng.randint(0, 8)
    return anchor - dt.timedelta(days=days_ago) + dt.timedelta(hours=hours_after_nine)


def _log_history(
    client: Client,
    therapist: User,
    history: list[SessionPlan],
    *,
    last_starts_at: dt.datetime,
    now: dt.datetime,
) -> None:
    first_starts_at = last_starts_at - dt.timedelta(weeks=len(history) - 1)
    # A client is registered shortly before their first session, not today.
    Client.objects.filter(pk=client.pk).update(created_at=first_starts_at - dt.timedelta(days=3))
    for week, plan in enumerate(history):
        starts_at = first_starts_at + dt.timedelta(weeks=week)
        session = session_log(
            client=client,
            therapist=therapist,
            starts_at=starts_at,
            duration_minutes=SESSION_MINUTES,
            attendance=plan["attendance"],
            modality=plan["modality"],
        )
        logged_at = starts_at + dt.timedelta(minutes=SESSION_MINUTES)
        Session.objects.filter(pk=session.pk).update(created_at=logged_at, updated_at=logged_at)
        if plan["client"] is not None:
            when = min(now, starts_at + dt.timedelta(hours=plan["client_lag_hours"]))
            _rate(session, Rating.Rater.CLIENT, plan["client"], None, when)
        if plan["therapist"] is not None:
            when = min(now, starts_at + dt.timedelta(hours=plan["therapist_lag_hours"]))
            _rate(session, Rating.Rater.THERAPIST, plan["therapist"], therapist, when)


def _rate(
    session: Session,
    rater: str,
    answers: dict[str, Any],
    submitted_by: User | None,
    when: dt.datetime,
) -> None:
    rating = rating_submit(session=session, rater=rater, answers=answers, submitted_by=submitted_by)
    Rating.objects.filter(pk=rating.pk).update(submitted_at=when, updated_at=when)
