"""Benchmark the API's lists on the scale demo, on PostgreSQL: the first page, one halfway
through and the last, for each resource and each of the scale's log-ins.

    .venv/bin/python bench/api.py [--database postgres://…/alliance_bench_huge]
                                  [--scale large|huge] [--requests 5]

Uses the database `make bench` keeps for the scale (`alliance_bench` for large,
`alliance_bench_huge` for huge), seeding it first if it does not hold the scale's clinic.
Server time in process (Django's test client, a server's settings as bench/run.py has
them), the median of `--requests`; the statements one request sends. Pages are reached as
a tool pulling everything would reach them: `?after=` the last id of the page before. A
token is made for each log-in and revoked after; the audit entries the run wrote are deleted
after it (`make bench` keeps the huge scale's database, whose audit CSV they would slow).
"""

from __future__ import annotations

import os
import sys

# bench/signal.py would shadow the standard library's signal module (see bench/sweep.py).
BENCH = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [path for path in sys.path if os.path.realpath(path or os.curdir) != BENCH]
sys.path.insert(0, os.path.dirname(BENCH))

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.common import StatementCounter, as_served, open_scale, scale_arguments


def resources() -> dict[str, Callable[[Any], Any]]:
    """Each list, and the records it holds for a user (as api/views.py scopes them)."""
    from clients.models import Client
    from measures.models import Concern, OutcomeAnswer, Rating
    from sessions.models import Session

    return {
        "clients": lambda user: Client.objects.visible_to(user),
        "sessions": lambda user: Session.objects.visible_to(user),
        "ratings": lambda user: Rating.objects.visible_to(user).of_current_sessions(),
        "outcome-answers": lambda user: OutcomeAnswer.objects.visible_to(
            user
        ).of_current_sessions(),
        "concerns": lambda user: Concern.objects.visible_to(user),
    }


def timed(browser: Any, path: str, requests: int) -> tuple[float, int]:
    """Median milliseconds of `requests` requests, and the statements of the last."""
    from django.db import connection

    times = []
    for _ in range(requests):
        counter = StatementCounter()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            response = browser.get(path)
            times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{path}: {response.status_code} {response.content[:200]!r}")
    return statistics.median(times), counter.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scale_arguments(parser)
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    open_scale(args.scale, args.database)
    as_served()

    from django.conf import settings
    from django.test import Client as Browser
    from django.utils import timezone

    from accounts.tokens import token_create, token_revoke
    from clients.models import User
    from demo.scale import SCALES, scale_logins

    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"user": "1000000/hour"}
    started = timezone.now()
    print(f"API lists at the {args.scale} scale: median of {args.requests} requests in process")
    print(f"{'':50} {'records':>10} {'first':>8} {'halfway':>8} {'last':>8}  statements")
    ids_of_logins = []
    for login in scale_logins(SCALES[args.scale]):
        user = User.objects.get(username=login.username)
        ids_of_logins.append(user.pk)
        token, raw = token_create(user=user, name="bench/api.py")
        browser = Browser(HTTP_AUTHORIZATION=f"Bearer {raw}")
        for name, records in resources().items():
            ids = list(records(user).order_by("pk").values_list("pk", flat=True))
            row, counts = [], set()
            # The page a pull reaches there: after the id just before it.
            for position in (0, len(ids) // 2, max(0, len(ids) - 50)):
                after = f"?after={ids[position - 1]}" if position else ""
                median, statements = timed(browser, f"/api/v1/{name}/{after}", args.requests)
                row.append(f"{median:6.0f}ms")
                counts.add(statements)
            label = f"{login.roles:34} {name:15}"
            print(f"{label} {len(ids):>10,} {row[0]:>8} {row[1]:>8} {row[2]:>8}  {sorted(counts)}")
        token_revoke(user=user, token=token)
    forget_trail(ids_of_logins, started)


def forget_trail(ids: list[int], since: Any) -> None:
    """The entries these users' lists and tokens wrote since then (some 30,000 a run at the
    huge scale), deleted."""
    from django.db import connection, transaction

    from bench.run import forget_audit_entries

    with transaction.atomic(), connection.cursor() as cursor:
        forget_audit_entries(cursor, "actor_id = ANY(%s) AND at >= %s", [ids, since])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE clients_auditentry")


if __name__ == "__main__":
    main()
