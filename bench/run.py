"""`make bench`: every page, the CSV exports and the sweep at the large scale, each against
its floor, in one table; then the client form under load (bench/submissions.py).

    .venv/bin/python bench/run.py [--database postgres://…/alliance_bench] [--no-seed]
                                  [--no-submissions]

A page's floor is its own SQL: the statements one request sends, captured and sent again
alone through a cursor (in a transaction rolled back, so its writes leave nothing). The
sweep's floor is the same rows streamed into Python through a server-side cursor, with
no rules. Server times are in-process (Django's test client), so they leave out HTTP.
"""

from __future__ import annotations

import os
import sys

# bench/signal.py would shadow the standard library's signal module (see bench/sweep.py).
BENCH = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [path for path in sys.path if os.path.realpath(path or os.curdir) != BENCH]
sys.path.insert(0, os.path.dirname(BENCH))

import argparse
import json
import random
import statistics
import subprocess
import time
import warnings
from dataclasses import dataclass
from typing import Any

from bench.common import DEFAULT_URL, create_database, peak_rss_mb, seed, setup_django

REQUESTS = 20
# The large scale of issue 13: 50 therapists × 30 clients × 40 weekly sessions.
THERAPISTS, CLIENTS, SESSIONS = 50, 1500, 40
TARGET_RATIO, TARGET_MEDIAN_MS, TARGET_P95_MS = 3.0, 150.0, 300.0


def seed_large(url: str) -> None:
    """The large scale, with its audit trail, signals raised and concerns opened. The one
    place to switch to `manage.py seed_demo --scale large` when it lands: everything after
    reads whatever data is there (see `cast`)."""
    from django.db import connection

    from measures.detection import sweep_run

    seed(CLIENTS, SESSIONS, random.Random(2026), THERAPISTS)
    with connection.cursor() as cursor:
        # The audit trail a clinic this size holds: the entry each client's answer through
        # a link leaves (the bulk seed writes around the service that records it).
        cursor.execute(
            "INSERT INTO clients_auditentry (at, clinic_id, actor_name, action, model, "
            "object_id, client_id, fields, place) "
            "SELECT s.starts_at + interval '2 hours', c.clinic_id, 'client link', 'created', "
            "'measures.rating', r.id::text, c.id, '[]'::jsonb, 'measures:client-rating' "
            "FROM measures_rating r JOIN therapy_sessions_session s ON s.id = r.session_id "
            "JOIN clients_client c ON c.id = s.client_id WHERE r.rater = 'client'"
        )
        cursor.execute("ANALYZE clients_auditentry")
    sweep_run()


def machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load}, PostgreSQL {version}"


def cast() -> dict[str, Any]:
    """Who asks for each page, from whatever data was seeded: the therapist with the most
    open concerns, one of their clients with a concern, a supervisor of every therapist and
    a clinic admin (both made here if the seed has none)."""
    from django.db.models import Count, Q

    from clients.models import Client, Supervision, User
    from measures.models import Concern

    therapist = (
        User.objects.filter(is_therapist=True)
        .annotate(open=Count("caseload__concerns", filter=Q(caseload__concerns__status="open")))
        .order_by("-open", "pk")
        .first()
    )
    concern = Concern.objects.filter(client__therapist=therapist).order_by("-pk").first()
    client = concern.client if concern else Client.objects.filter(therapist=therapist).first()
    clinic = therapist.clinic
    supervisor, _ = User.objects.get_or_create(
        username="bench-supervisor", defaults={"clinic": clinic, "is_supervisor": True}
    )
    Supervision.objects.bulk_create(
        [
            Supervision(supervisor=supervisor, therapist=person)
            for person in User.objects.filter(clinic=clinic, is_therapist=True).exclude(
                supervised_by__supervisor=supervisor
            )
        ]
    )
    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"clinic": clinic, "is_clinic_admin": True}
    )
    return {
        "therapist": therapist,
        "client": client,
        "concern": concern,
        "supervisor": supervisor,
        "admin": admin,
    }


def browser_for(user: Any) -> Any:
    """A test client signed in as `user`, past the second-factor step when they owe one
    (as conftest's `force_login` does: an authenticator is made for them)."""
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import two_factor

    browser = Client()
    browser.force_login(user)
    if two_factor.is_required(user):
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name=two_factor.AUTHENTICATOR, defaults={"confirmed": True}
        )
        session = browser.session
        session[two_factor.VERIFIED] = device.persistent_id
        session.save()
    return browser


def fetch(browser: Any, url: str) -> int:
    """One request, the whole body read (a streamed CSV is built as it is read)."""
    response = browser.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if response.streaming:
        return len(b"".join(response.streaming_content))
    return len(response.content)


class Recorder:
    """Keeps every statement a request sends, with its parameters (execute_wrapper)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any, bool]] = []

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.statements.append((sql, params, many))
        return execute(sql, params, many, context)


def replay_ms(statements: list[tuple[str, Any, bool]]) -> float:
    """Milliseconds to send these statements alone, every row fetched; their writes
    are rolled back."""
    from django.db import connection, transaction

    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for sql, params, many in statements:
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)
                    if cursor.description is not None:
                        cursor.fetchall()
        elapsed = (time.perf_counter() - started) * 1000
        transaction.set_rollback(True)
    return elapsed


@dataclass
class Row:
    name: str
    median: float
    p95: float
    queries: int | str
    floor: float

    @property
    def ratio(self) -> float:
        return self.median / self.floor if self.floor else float("inf")

    def misses(self) -> list[str]:
        missed = []
        if self.ratio > TARGET_RATIO:
            missed.append(f"{self.ratio:.1f}× floor")
        if self.median >= TARGET_MEDIAN_MS:
            missed.append(f"median {self.median:.0f} ms")
        if self.p95 >= TARGET_P95_MS:
            missed.append(f"p95 {self.p95:.0f} ms")
        return missed


def time_page(name: str, user: Any, url: str) -> Row:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    browser = browser_for(user)
    fetch(browser, url)  # warm: templates compiled, connection open
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        fetch(browser, url)
        times.append((time.perf_counter() - started) * 1000)
    recorder = Recorder()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(recorder):
        fetch(browser, url)
    floors = [replay_ms(recorder.statements) for _ in range(REQUESTS)]
    return Row(
        name,
        statistics.median(times),
        statistics.quantiles(times, n=20)[-1],
        len(captured.captured_queries),
        statistics.median(floors),
    )


def pages(people: dict[str, Any]) -> list[Row]:
    from django.urls import reverse

    client, concern = people["client"], people["concern"]
    wanted = [
        ("Caseload (therapist)", "therapist", reverse("reports:caseload")),
        ("Client page", "therapist", reverse("reports:client-detail", args=[client.pk])),
        ("Review queue", "therapist", reverse("measures:review-queue")),
        ("Concern page", "therapist", reverse("measures:concern-detail", args=[concern.pk])),
        ("Supervisor dashboard", "supervisor", reverse("reports:dashboard")),
        ("Dashboard CSV", "supervisor", reverse("reports:dashboard-csv")),
        (
            "Client ratings CSV",
            "therapist",
            reverse("reports:client-ratings-csv", args=[client.pk]),
        ),
        ("Audit CSV (clinic admin)", "admin", reverse("reports:audit-csv")),
    ]
    return [time_page(name, people[role], url) for name, role, url in wanted]


def sweep_in_process() -> dict[str, float]:
    """Run in its own process (peak memory is the process's): the full sweep, then its
    floor — the same rows (the sweep's history query) streamed through a server-side
    cursor, no rules."""
    from django.db import connection

    from clients.models import Client
    from measures.detection import _history_rows, sweep_run

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE measures_concernevent, measures_flag, measures_concern, measures_sweep"
        )
    baseline = peak_rss_mb()
    started = time.perf_counter()
    sweep_run()
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    floors = []
    for _ in range(3):
        started = time.perf_counter()
        rows = sum(1 for _ in _history_rows(Client.objects.values("pk")))
        floors.append(time.perf_counter() - started)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM measures_rating WHERE rater = 'client'")
        ratings = cursor.fetchone()[0]
    return {
        "seconds": seconds,
        "floor": min(floors),
        "rows": rows,
        "ratings": ratings,
        "peak_mb": peak,
        "baseline_mb": baseline,
    }


def explain_dashboard(supervisor: Any) -> str:
    from django.db import connection

    from reports.dashboard import dashboard_rows, period_of_days

    sql, params = dashboard_rows(supervisor, period_of_days(30)).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(line for (line,) in cursor.fetchall())


def table(rows: list[Row], sweep: dict[str, float], load: list[str]) -> str:
    lines = [
        f"{'':26} {'median':>8} {'p95':>8} {'queries':>8} {'floor':>8} {'ratio':>6}  target",
    ]
    for row in rows:
        verdict = "miss: " + ", ".join(row.misses()) if row.misses() else "ok"
        lines.append(
            f"{row.name:26} {row.median:6.0f}ms {row.p95:6.0f}ms {row.queries:>8} "
            f"{row.floor:6.1f}ms {row.ratio:5.1f}×  {verdict}"
        )
    rate = sweep["ratings"] / sweep["seconds"]
    floor_rate = sweep["ratings"] / sweep["floor"]
    ratio = sweep["seconds"] / sweep["floor"]
    lines += [
        "",
        f"Sweep: {sweep['ratings']:,} client ratings ({sweep['rows']:,} sessions) in "
        f"{sweep['seconds']:.2f} s = {rate:,.0f} ratings/s, peak {sweep['peak_mb']:.0f} MB "
        f"({sweep['baseline_mb']:.0f} MB before); floor (same rows streamed, no rules) "
        f"{sweep['floor']:.2f} s = {floor_rate:,.0f}/s; ratio {ratio:.1f}× "
        f"({'ok' if ratio <= 3 and sweep['peak_mb'] < 200 else 'miss: target ≤ 3×, < 200 MB'})",
        *load,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--no-seed", action="store_true", help="reuse the data already there")
    parser.add_argument("--no-submissions", action="store_true")
    parser.add_argument("--sweep-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.database.startswith("postgres"):
        sys.exit("The benchmark targets PostgreSQL: pass --database postgres://…")
    if args.sweep_only:
        setup_django(args.database)
        print(json.dumps(sweep_in_process()))
        return
    create_database(args.database)
    setup_django(args.database)
    from django.test.utils import setup_test_environment

    setup_test_environment(debug=False)  # as served: no DEBUG pages, no query log
    # WhiteNoise's note that nothing was collected: static files are not benchmarked here.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    if not args.no_seed:
        started = time.perf_counter()
        seed_large(args.database)
        print(f"Seeded the large scale in {time.perf_counter() - started:.0f} s", flush=True)
    before = machine()
    print(f"Machine: {before}", flush=True)
    people = cast()
    rows = pages(people)
    plan = explain_dashboard(people["supervisor"])  # on the data the pages were timed on
    during = machine().split("load average ")[1].split(",")[0]
    print(f"Pages timed; load average now {during}", flush=True)
    sweep = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--sweep-only", "--database", args.database],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
    )  # fmt: skip
    load: list[str] = []
    if not args.no_submissions:
        done = subprocess.run(
            [sys.executable, os.path.join(BENCH, "submissions.py"), "--database", args.database],
            check=True, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        load = ["", *json.loads(done.stdout.strip().splitlines()[-1])["lines"]]
    print()
    print(f"Dashboard's main aggregate, EXPLAIN (ANALYZE, BUFFERS):\n{plan}")
    print()
    after = machine().split("load average ")[1].split(",")[0]
    print(f"Alliance benchmark at the large scale — {before}")
    print(f"(load average {during} after the pages, {after} at the end)")
    print(f"Server time over {REQUESTS} requests (in-process); floor = the page's own SQL alone")
    print(table(rows, sweep, load))


if __name__ == "__main__":
    main()
