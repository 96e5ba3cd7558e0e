"""`make bench`: every page, the CSV exports and the sweep at the large scale, each against
its floor, in one table; the client form under load (bench/submissions.py); then the same
pages and sweep at the huge scale, with their query counts beside the large scale's.

    .venv/bin/python bench/run.py [--database postgres://…/alliance_bench] [--no-seed]
                                  [--no-submissions] [--no-huge] [--reseed-huge]

The data is `manage.py seed_demo --scale large|huge` (demo/scale.py), with the audit trail
a clinic that size holds. The large scale is seeded afresh each run (13 s); the huge one
(4–5 minutes) into a database of its own (`…_huge`), kept and reused while it holds the
huge scale, unless --reseed-huge.

A page's floor is its own SQL: the statements one request sends, captured and sent again
alone through a cursor (in a transaction rolled back, so its writes leave nothing). The
sweep's floor is the same rows streamed into Python through a server-side cursor, with
no rules. Server times are in-process (Django's test client), so they leave out HTTP.
Each page is timed again with nothing drawn (`undrawn`), which splits its cost between
what it reads and writes through Django and what it draws, and as written out by hand
(`by hand`: its statements as SQL and its HTML as bytes, through the same request), what
any way of building it could reach here.
"""

from __future__ import annotations

import os
import sys

# bench/signal.py would shadow the standard library's signal module (see bench/sweep.py).
BENCH = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [path for path in sys.path if os.path.realpath(path or os.curdir) != BENCH]
sys.path.insert(0, os.path.dirname(BENCH))

import argparse
import contextlib
import dataclasses
import json
import statistics
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.common import DEFAULT_URL, as_served, create_database, peak_rss_mb, setup_django

REQUESTS = 20
HUGE_REQUESTS = 5  # the huge scale's pages: a few requests each, for their counts and size
TARGET_RATIO, TARGET_MEDIAN_MS, TARGET_P95_MS = 3.0, 150.0, 300.0


def seed_scale(scale: str) -> None:
    """`seed_demo --scale`, everything before deleted; then the audit trail a clinic this
    size holds: the entry each client's answer through a link leaves (the bulk seed writes
    around the service that records it), then vacuumed and analysed."""
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("seed_demo", scale=scale, flush=True, stdout=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO clients_auditentry (at, clinic_id, actor_name, action, model, "
            "object_id, client_id, fields, place) "
            "SELECT s.starts_at + interval '2 hours', c.clinic_id, 'client link', 'created', "
            "'measures.rating', r.id::text, c.id, '[]'::jsonb, 'measures:client-rating' "
            "FROM measures_rating r JOIN therapy_sessions_session s ON s.id = r.session_id "
            "JOIN clients_client c ON c.id = s.client_id WHERE r.rater = 'client'"
        )
        # Fresh statistics and visibility maps, as autovacuum gives a database in use (and
        # not its work on a million new rows competing with the pages being timed).
        cursor.execute("VACUUM ANALYZE")


def holds_scale(scale: str) -> bool:
    """Whether the database holds the scale's clinic, whole (its clients all written)."""
    from django.db import connection
    from django.db.utils import DatabaseError

    from demo.scale import SCALE_CLINIC_SLUG, SCALES

    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM clients_client c JOIN clients_clinic k "
                "ON k.id = c.clinic_id WHERE k.slug = %s",
                [SCALE_CLINIC_SLUG],
            )
            return cursor.fetchone()[0] == SCALES[scale].clients
    except DatabaseError:  # not migrated yet
        return False


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
    from django.db import connection
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
    with connection.cursor() as cursor:
        # Statistics that know of the supervisions just made, as autovacuum would soon give:
        # planned as if the new supervisor oversaw one therapist, a query over 500 took 95 s.
        cursor.execute("ANALYZE clients_supervision")
        cursor.execute("ANALYZE clients_user")
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


def fetch(browser: Any, url: str) -> bytes:
    """One request, the whole body read (a streamed CSV is built as it is read)."""
    response = browser.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


UNDRAWN_LEGEND = (
    "undrawn = the same page with every template drawn as an empty string (its reads, "
    "writes, session and middleware alone), and that against the floor\n"
    "by hand = the page written out by hand: signed in through the same middleware, its own "
    "statements sent as SQL, its HTML as bytes (no ORM, no template), against the floor"
)


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
    from django.db import transaction

    from bench.floor import send_statements

    with transaction.atomic():
        started = time.perf_counter()
        send_statements(statements)
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
    # The same page with nothing drawn (`undrawn`): its reads, writes and request alone.
    undrawn: float = 0.0
    # The same page written out by hand (bench.floor.bench_by_hand): its statements as SQL
    # and its body as bytes, through the same request; no ORM, no template.
    by_hand: float = 0.0
    # A reference, not a page: timed and shown, held to no target.
    reference: bool = False

    @property
    def ratio(self) -> float:
        return self.median / self.floor if self.floor else float("inf")

    @property
    def undrawn_ratio(self) -> float:
        return self.undrawn / self.floor if self.floor else float("inf")

    @property
    def by_hand_ratio(self) -> float:
        return self.by_hand / self.floor if self.floor else float("inf")

    def misses(self) -> list[str]:
        if self.reference:
            return []
        missed = []
        if self.ratio > TARGET_RATIO:
            missed.append(f"{self.ratio:.1f}× floor")
        if self.median >= TARGET_MEDIAN_MS:
            missed.append(f"median {self.median:.0f} ms")
        if self.p95 >= TARGET_P95_MS:
            missed.append(f"p95 {self.p95:.0f} ms")
        return missed


@contextlib.contextmanager
def undrawn() -> Iterator[None]:
    """Every template drawn as an empty string while inside: a page's sessions, queries,
    audit entries, middleware and response without its HTML (its rows are built by
    template tags, so they go too). What the page would cost if drawing were free."""
    from django.template.backends.django import Template

    drawn = Template.render
    Template.render = lambda self, context=None, request=None: ""  # type: ignore[method-assign]
    try:
        yield
    finally:
        Template.render = drawn  # type: ignore[method-assign]


def timed_ms(browser: Any, url: str, requests: int) -> tuple[float, float]:
    """The median and p95 of `requests` requests, in milliseconds."""
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        fetch(browser, url)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1]


def time_page(name: str, user: Any, url: str, requests: int = REQUESTS) -> Row:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from bench.floor import BY_HAND

    browser = browser_for(user)
    fetch(browser, url)  # warm: templates compiled, connection open
    median, p95 = timed_ms(browser, url, requests)
    with undrawn():
        without_drawing, _ = timed_ms(browser, url, requests)
    recorder = Recorder()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(recorder):
        body = fetch(browser, url)
    # Counted now: the next request empties the connection's log (`reset_queries`).
    queries = len(captured.captured_queries)
    floors = [replay_ms(recorder.statements) for _ in range(requests)]
    # The same page written out by hand: its statements but the session's and the user's
    # (which the middleware sends for that view too) and its body, through the same request.
    before_view = middleware_statements(browser)
    key = str(len(BY_HAND))
    BY_HAND[key] = ([sent for sent in recorder.statements if sent[0] not in before_view], body)
    by_hand_url = reverse("bench-by-hand", args=[key])
    fetch(browser, by_hand_url)
    by_hand, _ = timed_ms(browser, by_hand_url, requests)
    return Row(
        name,
        median,
        p95,
        queries,
        statistics.median(floors),
        without_drawing,
        by_hand,
    )


def middleware_statements(browser: Any) -> set[str]:
    """The statements every signed-in request sends before its view's own: the session's
    and the user's (what the layout alone sends)."""
    from django.db import connection
    from django.urls import reverse

    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        fetch(browser, reverse("bench-layout"))
    return {sql for sql, _, _ in recorder.statements}


def pages(people: dict[str, Any], requests: int = REQUESTS) -> list[Row]:
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
    timed = [time_page(name, people[role], url, requests) for name, role, url in wanted]
    # The layout alone (bench/floor.py): the session, the user, the middleware and the
    # navigation every page pays for before its own work, against its own floor.
    layout = time_page("Layout alone", people["therapist"], reverse("bench-layout"), requests)
    return [*timed, dataclasses.replace(layout, reference=True)]


# Each sweep and its floor are timed this many times, the best kept: a single run on a
# shared 2-core machine varied by a fifth, and the floor was already the best of three.
SWEEP_RUNS = 3
APPEND_ONLY_TRIGGER = "clients_auditentry_append_only"  # clients/migrations/0002_audit_trail


def _sweep_reset() -> None:
    """As before the first sweep: no signal, concern or sweep, no outcome answer judged."""
    from django.db import connection, transaction

    from clients.audit import SYSTEM

    # All or nothing: a reset cut short must not leave the audit trail's trigger off.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE measures_concernevent, measures_flag, measures_concern, "
            "measures_sweepchunk, measures_sweep"
        )
        cursor.execute(
            "UPDATE measures_outcomeanswer SET track = '', expected = NULL, "
            "lowest_on_track = NULL, judged_at = NULL"
        )
        # And the trail of the concerns truncated above (the sweep records each concern it
        # opens): else a kept huge scale gains 10,000 entries a sweep, and its audit CSV
        # slows run after run.
        forget_audit_entries(
            cursor,
            "model = 'measures.concern' AND action = 'created' AND actor_name = %s",
            [SYSTEM],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE measures_outcomeanswer, clients_auditentry")


def forget_audit_entries(cursor: Any, condition: str, params: list[Any]) -> None:
    """Delete the audit entries a benchmark left in its throw-away database, in the caller's
    transaction (so that one cut short never leaves the trail's trigger off). The trail is
    append-only: its trigger is held off for this delete alone."""
    cursor.execute(f"ALTER TABLE clients_auditentry DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    cursor.execute(f"DELETE FROM clients_auditentry WHERE {condition}", params)
    cursor.execute(f"ALTER TABLE clients_auditentry ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")


def _timed(before: Any, timed: Any) -> float:
    """Seconds `timed()` takes, after `before()`."""
    before()
    started = time.perf_counter()
    timed()
    return time.perf_counter() - started


def sweep_in_process() -> dict[str, float]:
    """Run in its own process (peak memory is the process's): the full sweep from scratch,
    every client swept again, and their floor — the same rows streamed through a
    server-side cursor, no rules: every client's history (sessions, both ratings, the
    outcome answer) and the outcome answers the sweep recomputes the clinics' expected
    courses from. Each the best of SWEEP_RUNS, timed in turn."""
    from django.db import connection

    from clients.models import Client
    from measures.courses import answer_rows
    from measures.detection import _history_rows
    from measures.sweeps import sweep_run

    def forget_sweeps() -> None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE measures_sweepchunk, measures_sweep")

    def stream() -> None:
        nonlocal rows, answers
        rows = sum(1 for _ in _history_rows(Client.objects.values("pk")))
        answers = sum(1 for _ in answer_rows())

    from alliance.memory import freeze_what_is_loaded

    rows = answers = 0
    freeze_what_is_loaded()  # as a worker's process does when it starts (alliance/celery.py)
    _sweep_reset()
    baseline = peak_rss_mb()
    first: list[float] = []
    again: list[float] = []
    floor: list[float] = []
    # In rounds, each timing the three in turn, so a slow spell of this shared machine
    # (a fifth either way, minutes long) falls on the sweep and its floor alike rather than
    # on one of them: the ratio is what is read.
    for _ in range(SWEEP_RUNS):
        first.append(_timed(_sweep_reset, sweep_run))
        # Every client again, with nothing new to find: what a sweep costs when a clinic's
        # thresholds change (every client re-evaluated) once its signals are stored.
        again.append(_timed(forget_sweeps, sweep_run))
        floor.append(_timed(lambda: None, stream))
    peak = peak_rss_mb()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM measures_rating WHERE rater = 'client'")
        ratings = cursor.fetchone()[0]
    return {
        "seconds": min(first),
        "again": min(again),
        "floor": min(floor),
        "rows": rows,
        "answers": answers,
        "ratings": ratings,
        "peak_mb": peak,
        "baseline_mb": baseline,
    }


def explain_dashboard(supervisor: Any) -> str:
    """The dashboard's costliest statement, found by timing each it sends alone, with its
    time and its `EXPLAIN (ANALYZE, BUFFERS)`."""
    from django.db import connection
    from django.urls import reverse

    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        fetch(browser_for(supervisor), reverse("reports:dashboard"))
    reads = [statement for statement in recorder.statements if statement[0].startswith("SELECT")]
    timed = [(min(replay_ms([read]) for _ in range(3)), read) for read in reads]
    took, (sql, params, _) = max(timed, key=lambda pair: pair[0])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    return f"{took:.1f} ms alone, the costliest of its {len(reads)} reads:\n{sql}\n{plan}"


def page_lines(rows: list[Row], compared: list[Row] | None = None) -> list[str]:
    """The pages' table; beside each, its query count at the other scale when given."""
    other = {row.name: row.queries for row in compared or []}
    lines = [
        f"{'':26} {'median':>8} {'p95':>8} {'queries':>8} {'floor':>8} {'ratio':>6} "
        f"{'undrawn':>14} {'by hand':>13}  " + ("queries at large" if compared else "target"),
    ]
    for row in rows:
        verdict = "miss: " + ", ".join(row.misses()) if row.misses() else "ok"
        if row.reference:
            verdict = "reference: any page's own cost starts here"
        if compared:
            verdict = f"{other.get(row.name, '?'):>8}" + (
                "" if other.get(row.name) == row.queries else "  (differs)"
            )
        lines.append(
            f"{row.name:26} {row.median:6.0f}ms {row.p95:6.0f}ms {row.queries:>8} "
            f"{row.floor:6.1f}ms {row.ratio:5.1f}× {row.undrawn:6.0f}ms {row.undrawn_ratio:4.1f}×"
            f" {row.by_hand:5.1f}ms {row.by_hand_ratio:4.1f}×  {verdict}"
        )
    return lines


def sweep_line(sweep: dict[str, float]) -> str:
    rate = sweep["ratings"] / sweep["seconds"]
    floor_rate = sweep["ratings"] / sweep["floor"]
    ratio = sweep["seconds"] / sweep["floor"]
    again = sweep["again"] / sweep["floor"]

    def verdict(ratio: float) -> str:
        return (
            "ok"
            if ratio <= TARGET_RATIO and sweep["peak_mb"] < 200
            else "miss: target ≤ 3×, < 200 MB"
        )

    return (
        f"Sweep: {sweep['ratings']:,} client ratings ({sweep['rows']:,} sessions, "
        f"{sweep['answers']:,} outcome answers), best of {SWEEP_RUNS}, in "
        f"{sweep['seconds']:.2f} s = {rate:,.0f} ratings/s, peak {sweep['peak_mb']:.0f} MB "
        f"({sweep['baseline_mb']:.0f} MB before); floor (same rows streamed, no rules) "
        f"{sweep['floor']:.2f} s = {floor_rate:,.0f}/s; ratio {ratio:.2f}× ({verdict(ratio)}; "
        "the first sweep, writing every signal, concern and outcome judgement)\n"
        f"       every client again, nothing new to write: {sweep['again']:.2f} s, "
        f"{again:.2f}× the floor ({verdict(again)})"
    )


def measure_pages(args: argparse.Namespace) -> dict[str, Any]:
    """In its own process, on one scale's database: seed it when asked (or when it does not
    hold the scale), then time every page and explain the dashboard's aggregate."""
    as_served()
    # WhiteNoise's note that nothing was collected: static files are not benchmarked here.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    seeded = None
    if args.seed or not holds_scale(args.scale):
        started = time.perf_counter()
        seed_scale(args.scale)
        seeded = time.perf_counter() - started
    else:
        from django.core.management import call_command

        # A database kept from an earlier run: brought up to this code's schema (a
        # migration may add and fill columns the pages read).
        call_command("migrate", verbosity=0)
    before = machine()
    people = cast()
    from alliance.memory import keep_loaded_out_of_collections

    # As a server process does once it has loaded the app (alliance/wsgi.py).
    keep_loaded_out_of_collections()
    rows = pages(people, args.requests)
    return {
        "seeded": seeded,
        "machine": before,
        "load_after": os.getloadavg()[0],
        "rows": [dataclasses.asdict(row) for row in rows],
        "plan": explain_dashboard(people["supervisor"]),  # on the data the pages were timed on
    }


def child(*arguments: str) -> dict[str, Any]:
    """Run this script again with `arguments`; its last line of output is JSON."""
    done = subprocess.run(
        [sys.executable, __file__, *arguments], check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--no-seed", action="store_true", help="reuse the large scale there")
    parser.add_argument("--no-submissions", action="store_true")
    parser.add_argument("--no-huge", action="store_true", help="the large scale only")
    parser.add_argument("--reseed-huge", action="store_true", help="seed the huge scale again")
    parser.add_argument("--measure", choices=["pages", "sweep"], help=argparse.SUPPRESS)
    parser.add_argument("--scale", default="large", help=argparse.SUPPRESS)
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=REQUESTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.database.startswith("postgres"):
        sys.exit("The benchmark targets PostgreSQL: pass --database postgres://…")
    if "bench" not in args.database.rsplit("/", 1)[-1]:
        # It empties tables and seeds afresh: never a database that is not its own.
        sys.exit("The benchmark's database is thrown away each run: its name must hold 'bench'.")
    if args.measure:
        os.environ["ALLIANCE_BENCH_FLOOR_VIEW"] = "true"  # the layout's reference page
        setup_django(args.database)
        result = measure_pages(args) if args.measure == "pages" else sweep_in_process()
        print(json.dumps(result))
        return
    huge_url = f"{args.database}_huge"
    create_database(args.database)
    large = child(
        "--measure", "pages", "--database", args.database,
        *([] if args.no_seed else ["--seed"]),
    )  # fmt: skip
    if large["seeded"]:
        print(f"Seeded the large scale in {large['seeded']:.0f} s", flush=True)
    print(f"Large scale: pages timed on {large['machine']}", flush=True)
    sweep = child("--measure", "sweep", "--database", args.database)
    load: list[str] = []
    if not args.no_submissions:
        done = subprocess.run(
            [sys.executable, os.path.join(BENCH, "submissions.py"), "--database", args.database],
            check=True, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        load = ["", *json.loads(done.stdout.strip().splitlines()[-1])["lines"]]
    huge = huge_sweep = None
    if not args.no_huge:
        create_database(huge_url)
        huge = child(
            "--measure", "pages", "--scale", "huge", "--database", huge_url,
            "--requests", str(HUGE_REQUESTS), *(["--seed"] if args.reseed_huge else []),
        )  # fmt: skip
        if huge["seeded"]:
            print(f"Seeded the huge scale in {huge['seeded']:.0f} s", flush=True)
        huge_sweep = child("--measure", "sweep", "--database", huge_url)
    large_rows = [Row(**row) for row in large["rows"]]
    print()
    print(f"The dashboard's costliest statement, EXPLAIN (ANALYZE, BUFFERS): {large['plan']}")
    print()
    print(f"Alliance benchmark at the large scale — {large['machine']}")
    print(f"(load average {large['load_after']:.2f} after the pages, {os.getloadavg()[0]:.2f} now)")
    print(f"Server time over {REQUESTS} requests (in-process); floor = the page's own SQL alone")
    print(UNDRAWN_LEGEND)
    print("\n".join([*page_lines(large_rows), "", sweep_line(sweep), *load]))
    if huge and huge_sweep:
        print()
        print(f"The huge scale (500 therapists, 25,000 clients) — {huge['machine']}")
        print(f"Server time over {HUGE_REQUESTS} requests; query counts beside the large scale's")
        print(UNDRAWN_LEGEND)
        huge_rows = [Row(**row) for row in huge["rows"]]
        print("\n".join([*page_lines(huge_rows, large_rows), "", sweep_line(huge_sweep)]))


if __name__ == "__main__":
    main()
