"""Shared set-up for the benchmarks: a throw-away PostgreSQL database and realistic data."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/alliance_bench"
sys.path.insert(0, str(PROJECT))

from measures.scoring import DIMENSIONS  # needs sys.path above


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks in-process: nothing to enqueue
    import django

    django.setup()


def as_served() -> None:
    """Settings as a production server has them, for pages timed through Django's test
    client in this process: DEBUG off (no query log, no debug pages), the test client's
    host allowed. Not `setup_test_environment()`: that also instruments every template
    render so a test can inspect its context (a signal and a copy of the context for each
    template and include), which is the test's work, not the server's."""
    from django.conf import settings

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


def scale_arguments(parser: argparse.ArgumentParser) -> None:
    """`--scale` and `--database`, for a benchmark on make bench's scale demo."""
    parser.add_argument("--scale", choices=["large", "huge"], default="huge")
    parser.add_argument("--database", help="default: make bench's database for the scale")


def open_scale(scale: str, database: str | None = None) -> None:
    """Django set up on make bench's database for `scale` (`alliance_bench` for large,
    `alliance_bench_huge` for huge) or on `database`: migrated if it holds the scale's
    clinic, seeded first if not (the huge scale takes a few minutes)."""
    url = database or (DEFAULT_URL if scale == "large" else f"{DEFAULT_URL}_huge")
    if "bench" not in url.rsplit("/", 1)[-1]:
        sys.exit("The benchmark's database may be seeded afresh: its name must hold 'bench'.")
    create_database(url)
    setup_django(url)
    from django.core.management import call_command

    from bench.run import holds_scale, seed_scale  # bench.run imports this module

    if holds_scale(scale):
        call_command("migrate", verbosity=0)
    else:
        seed_scale(scale)


def create_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def peak_rss_mb() -> float:
    """This process's peak resident memory. (ru_maxrss would carry the parent's
    peak across fork and exec; the kernel's VmHWM starts afresh with the program.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StatementCounter:
    """Counts every statement sent to the database (execute_wrapper)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        return execute(sql, params, many, context)


def seed(clients: int, sessions: int, rng: random.Random, therapists: int | None = None) -> int:
    """Realistic histories, written with bulk inserts; returns the number of client ratings."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from clients.models import Client, Clinic, User
    from measures.models import Rating, copy_ratings_to_sessions
    from sessions.models import Session

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE measures_concernevent, measures_flag, measures_concern, measures_rating, "
            "measures_sweep, "
            "therapy_sessions_ratinginvitation, therapy_sessions_session, clients_client, "
            "clients_supervision, clients_auditentry, clients_user, clients_clinic "
            "RESTART IDENTITY CASCADE"
        )
    clinic = Clinic.objects.create(name="Bench", slug="bench")
    therapists = User.objects.bulk_create(
        User(username=f"t{n}", clinic=clinic, is_therapist=True)
        for n in range(therapists or max(1, clients // 40))
    )
    people = Client.objects.bulk_create(
        Client(clinic=clinic, therapist=therapists[n % len(therapists)], label=f"C{n}")
        for n in range(clients)
    )
    start = timezone.now() - dt.timedelta(weeks=sessions + 1)
    rows, ratings = [], []
    for person in people:
        for number, (attendance, client, therapist) in enumerate(history(rng, sessions), start=1):
            rows.append(
                Session(
                    client=person,
                    therapist_id=person.therapist_id,
                    number=number,
                    starts_at=start + dt.timedelta(weeks=number),
                    attendance=attendance,
                )
            )
            ratings.append((client, therapist))
    Session.objects.bulk_create(rows, batch_size=5000)
    made = []
    for session, (client, therapist) in zip(rows, ratings, strict=True):
        for rater, answers in (("client", client), ("therapist", therapist)):
            if answers is not None:
                made.append(Rating(session=session, rater=rater, **answers))
    Rating.objects.bulk_create(made, batch_size=5000)
    copy_ratings_to_sessions(Session.objects.all())  # the database holds these alone
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would soon give a live database
    return sum(1 for rating in made if rating.rater == "client")


def history(rng: random.Random, sessions: int):  # type: ignore[no-untyped-def]
    """Near the ceiling, as client ratings are (about a quarter of ratings fall below
    the 9.0 cut-off, as in brief-scale samples); a tenth of clients drift down; a
    few ruptures, misses and unanswered forms."""
    baseline = max(6.0, 10 - abs(rng.gauss(0, 0.9)))
    drifting = rng.random() < 0.1
    for number in range(sessions):
        if rng.random() < 0.08:
            yield rng.choice(["cancelled", "no_show"]), None, None
            continue
        level = baseline - (max(0, number - sessions * 0.6) * 0.25 if drifting else 0)
        scores = {d: max(0, min(10, round(rng.gauss(level, 0.5)))) for d in DIMENSIONS}
        rupture = rng.choices(["none", "a_little", "a_lot"], [0.95, 0.04, 0.01])[0]
        resolved = "" if rupture == "none" else rng.choice(["not_at_all", "partly", "fully"])
        client = (
            None
            if rng.random() < 0.1
            else {**scores, "rupture": rupture, "rupture_resolved": resolved}
        )
        therapist = None
        if rng.random() < 0.5:
            therapist = {d: max(0, min(10, round(rng.gauss(level, 0.5)))) for d in DIMENSIONS}
        yield "attended", client, therapist
