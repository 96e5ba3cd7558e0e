"""Benchmark the supervisor's dashboard against its floor, on PostgreSQL.

    .venv/bin/python bench/dashboard.py [--therapists 50] [--clients 30] [--sessions 40]

Seeds therapists × clients × weekly sessions into the throw-away database
(see bench/common.py), raises the signals and concerns, then requests the dashboard 20 times
as a supervisor of every therapist and prints the server time (median, p95)
and query count, next to its floor: the dashboard's numbers — the therapists and the
counts grouped by therapist that every column and total comes from — run alone as raw SQL.
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
import random
import statistics
import time

from bench.common import (
    DEFAULT_URL,
    StatementCounter,
    as_served,
    create_database,
    seed,
    setup_django,
)

REQUESTS = 20


def add_supervisor() -> object:
    from clients.models import Clinic, Supervision, User

    clinic = Clinic.objects.get(slug="bench")
    supervisor = User.objects.create(username="bench-supervisor", clinic=clinic, is_supervisor=True)
    Supervision.objects.bulk_create(
        Supervision(supervisor=supervisor, therapist=therapist)
        for therapist in User.objects.filter(clinic=clinic, is_therapist=True)
    )
    return supervisor


def time_dashboard(supervisor: object) -> tuple[list[float], int]:
    """Milliseconds for each of REQUESTS requests, and the queries one request makes."""
    from django.db import connection
    from django.test import Client

    as_served()
    browser = Client()
    browser.force_login(supervisor)
    browser.get("/dashboard/")  # warm: templates compiled, connection open
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = browser.get("/dashboard/")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        browser.get("/dashboard/")
    return times, counter.count


def floor_ms(supervisor: object) -> float:
    """The dashboard's numbers — the therapists and each table's counts grouped by
    therapist (`team_numbers`), every column of every row and the totals — their
    statements captured and run alone as raw SQL."""
    from django.db import connection, transaction

    from reports.dashboard import period_of_days, team_numbers

    statements: list[tuple[str, object]] = []

    def keep(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        team_numbers(supervisor, period_of_days(30))
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        # In a transaction, as team_numbers reads them (its snapshot's SET TRANSACTION first).
        with transaction.atomic(), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                if cursor.description is not None:
                    cursor.fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--therapists", type=int, default=50)
    parser.add_argument("--clients", type=int, default=30, help="clients per therapist")
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    if not args.database.startswith("postgres"):
        sys.exit("The benchmark targets PostgreSQL: pass --database postgres://…")
    create_database(args.database)
    setup_django(args.database)
    from measures.sweeps import sweep_run

    started = time.perf_counter()
    seed(args.therapists * args.clients, args.sessions, random.Random(2026), args.therapists)
    sweep = sweep_run()
    print(
        f"Seeded {args.therapists} therapists × {args.clients} clients × {args.sessions} sessions "
        f"and raised {sweep.flags_created} signals in {sweep.concerns_opened} concerns in "
        f"{time.perf_counter() - started:.1f} s"
    )
    supervisor = add_supervisor()
    times, queries = time_dashboard(supervisor)
    floor = floor_ms(supervisor)
    median = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(
        f"Dashboard (server time): median {median:.0f} ms, p95 {p95:.0f} ms "
        f"over {REQUESTS} requests; {queries} queries"
    )
    print(f"Floor (the numbers' statements as raw SQL): {floor:.0f} ms median")
    print(f"Dashboard / floor: {median / floor:.1f}×")


if __name__ == "__main__":
    main()
