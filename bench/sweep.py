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

import os
import sys

# bench/signal.py would shadow the standard library's signal module (subprocess and Celery
# import it) if this folder stayed first on sys.path, where Python puts a script's folder:
# before any other import, look from the project instead.
BENCH = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [path for path in sys.path if os.path.realpath(path or os.curdir) != BENCH]
sys.path.insert(0, os.path.dirname(BENCH))

import argparse
import json
import random
import statistics
import subprocess
import time

from bench.common import (
    DEFAULT_URL,
    DIMENSIONS,
    StatementCounter,
    create_database,
    peak_rss_mb,
    seed,
    setup_django,
)

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

    from measures.sweeps import sweep_run

    with connection.cursor() as cursor:  # a clean slate, without loading rows to delete them
        cursor.execute(
            "TRUNCATE measures_concernevent, measures_flag, measures_concern, measures_sweep"
        )
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
        "concerns": sweep.concerns_opened,
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
        f"{result['flags']} signals raised, {result['concerns']} concerns opened"
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


if __name__ == "__main__":
    main()
