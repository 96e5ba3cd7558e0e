"""Benchmark the detection sweep against its floor, on PostgreSQL.

    .venv/bin/python bench/sweep.py [--clients 2000] [--sessions 40]

Seeds N clients × M weekly sessions into a throw-away database (default
postgres://postgres@127.0.0.1:5432/alliance_bench, created if missing), then
prints for the full sweep: its time, ratings evaluated per second, peak memory
(the sweep runs in its own process), the number of SQL statements; the time of
its floor (one window-function query computing every client rating's drop
below that client's earlier mean); and the time to evaluate one client after
one new rating.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/alliance_bench"
sys.path.insert(0, str(PROJECT))


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks in-process: nothing to enqueue
    import django

    django.setup()


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


def seed(clients: int, sessions: int, rng: random.Random) -> int:
    """Realistic histories, written with bulk inserts; returns the number of client ratings."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from clients.models import Client, Clinic, User
    from measures.models import Rating
    from sessions.models import Session

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE measures_flagevent, measures_flag, measures_rating, measures_sweep, "
            "therapy_sessions_ratinginvitation, therapy_sessions_session, clients_client, "
            "clients_supervision, clients_user, clients_clinic RESTART IDENTITY CASCADE"
        )
    clinic = Clinic.objects.create(name="Bench", slug="bench")
    therapists = User.objects.bulk_create(
        User(username=f"t{n}", clinic=clinic, is_therapist=True)
        for n in range(max(1, clients // 40))
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


FLOOR_SQL = """
SELECT count(*), avg(drop) FROM (
  SELECT avg(score) OVER (
           PARTITION BY client_id ORDER BY starts_at, number
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
         ) - score AS drop
  FROM (
    SELECT s.client_id, s.starts_at, s.number,
           (r.trust + r.empathy + r.collaboration + r.boundaries + r.growth + r.respect) / 6.0
             AS score
    FROM measures_rating r JOIN therapy_sessions_session s ON s.id = r.session_id
    WHERE r.rater = 'client'
  ) AS rated
) AS drops
"""
FLOOR_FETCH_SQL = FLOOR_SQL.replace("SELECT count(*), avg(drop) FROM (", "SELECT drop FROM (", 1)


def floor_seconds(sql: str, runs: int = 3) -> float:
    from django.db import connection

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql)
            cursor.fetchall()
        times.append(time.perf_counter() - started)
    return min(times)


def run_sweep() -> dict[str, float]:
    """In its own process: one full sweep, timed, with statements counted and peak memory."""
    from django.db import connection

    from measures.detection import sweep_run

    with connection.cursor() as cursor:  # a clean slate, without loading rows to delete them
        cursor.execute("TRUNCATE measures_flagevent, measures_flag, measures_sweep")
    counter = StatementCounter()
    baseline_mb = peak_rss_mb()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        sweep = sweep_run()
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "statements": counter.count,
        "clients": sweep.clients_evaluated,
        "flags": sweep.flags_created,
        "peak_mb": peak_rss_mb(),
        "baseline_mb": baseline_mb,
    }


def one_client_after_one_rating(rng: random.Random) -> float:
    """Median milliseconds to evaluate one client after a new rating, over 20 runs."""
    from django.db.models import Max
    from django.utils import timezone

    from clients.models import Client
    from measures.detection import evaluate_clients
    from measures.models import Rating
    from sessions.models import Session

    times = []
    for person in Client.objects.order_by("?")[:20]:
        number = person.sessions.aggregate(last=Max("number"))["last"] + 1
        session = Session.objects.create(
            client=person, therapist_id=person.therapist_id, number=number, starts_at=timezone.now()
        )
        Rating.objects.create(
            session=session, rater="client", **{d: rng.randint(5, 10) for d in DIMENSIONS}
        )
        started = time.perf_counter()
        evaluate_clients([person.pk])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--sweep-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.database.startswith("postgres"):
        sys.exit("The benchmark targets PostgreSQL: pass --database postgres://…")
    if args.sweep_only:
        setup_django(args.database)
        print(json.dumps(run_sweep()))
        return
    create_database(args.database)
    setup_django(args.database)
    rng = random.Random(2026)
    started = time.perf_counter()
    client_ratings = seed(args.clients, args.sessions, rng)
    print(
        f"Seeded {args.clients} clients × {args.sessions} sessions "
        f"({client_ratings} client ratings) in {time.perf_counter() - started:.1f} s"
    )
    result = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--sweep-only", "--database", args.database],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
    )  # fmt: skip
    floor = floor_seconds(FLOOR_SQL)
    floor_fetched = floor_seconds(FLOOR_FETCH_SQL)
    one = one_client_after_one_rating(rng)
    print(
        f"Full sweep:            {result['seconds']:.2f} s for {result['clients']} clients, "
        f"{result['flags']} flags raised"
    )
    print(f"Ratings per second:    {client_ratings / result['seconds']:,.0f}")
    print(
        f"Peak memory:           {result['peak_mb']:.0f} MB (process; "
        f"{result['baseline_mb']:.0f} MB before the sweep)"
    )
    print(f"SQL statements:        {result['statements']}")
    print(
        f"Floor (window query):  {floor:.3f} s in the database; "
        f"{floor_fetched:.3f} s with every row fetched"
    )
    print(
        f"Sweep / floor:         {result['seconds'] / floor:.1f}× "
        f"({result['seconds'] / floor_fetched:.1f}× the fetched floor)"
    )
    print(f"One client, one new rating: {one:.1f} ms (median of 20)")


from measures.scoring import DIMENSIONS  # noqa: E402  (needs sys.path above)

if __name__ == "__main__":
    main()
