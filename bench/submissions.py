"""Client submissions under load, nothing lost — against a bare insert, same server, same run.

    .venv/bin/python bench/submissions.py [--links 2000] [--concurrency 10] [--seconds 120]
                                          [--workers 4] [--threads 1]

Opens N rating links on attended sessions still without the client's rating (in the
throw-away database that bench/run.py seeds), serves the app with gunicorn on 127.0.0.1
(ALLIANCE_BENCH_FLOOR_VIEW=true, DEBUG=false, Celery's broker on Redis so each rating's
evaluation is queued — no worker runs; the queue is emptied afterwards), then a load
generator in another process (asyncio, raw HTTP/1.1) at a fixed concurrency:

1. the floor: GET then POST /bench/floor/<token>/ (bench/floor.py: one row inserted) N times;
2. the client form: GET /r/<token>/ (parses the notice version, the outcome instrument and
   every question), then POST valid answers, once per link;
3. the form's database work alone, on N more links: GET then POST /bench/form/<token>/
   (bench/ceiling.py: the form's statements and its publish, without the ORM, forms or
   templates), what any implementation of the form could reach on this server.

Then checks that stored ratings equal the answers thanked (302), that none is stored twice,
and that every other response is counted by status. The last line printed is JSON with the
lines of the table (bench/run.py prints them).
"""

from __future__ import annotations

import os
import sys

# bench/signal.py would shadow the standard library's signal module (see bench/sweep.py).
BENCH = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [path for path in sys.path if os.path.realpath(path or os.curdir) != BENCH]
sys.path.insert(0, os.path.dirname(BENCH))

import argparse
import asyncio
import collections
import json
import random
import re
import secrets
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import DEFAULT_URL, PROJECT, setup_django

# Two cores: four single-threaded processes (two a core, so a process waiting on the
# database never leaves a core idle), as README "Speed" recommends. Threads share a
# process's interpreter lock: three processes of four threads served the form no faster
# (74–81 against 82–85 answers a second) and with half again the p95 (125–139 against
# 80–83 ms), three runs of each, alternated, on 5 December 2026.
WORKERS, THREADS = 4, 1
# A Redis database of its own (empty when the benchmark starts): it deletes only the keys
# its own tasks made.
BROKER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
OWN_KEYS = ("celery", "_kombu.binding.celery", "_kombu.binding_permanent.celery")
STATIC_ROOT = Path(tempfile.gettempdir()) / "alliance-bench-static"


# --- The load generator (its own process) ------------------------------------------------


async def request(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes, float]:
    """One HTTP/1.1 request on its own connection: status, body, milliseconds."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "X-Forwarded-Proto: https\r\n"  # as behind the TLS proxy: no redirect to https
    )
    if method == "POST":
        head += (
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        )
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    response = await reader.read()
    writer.close()
    elapsed = (time.perf_counter() - started) * 1000
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0
    return status, response.partition(b"\r\n\r\n")[2], elapsed


INPUT = re.compile(rb"<input\b[^>]*>")
ATTRIBUTE = re.compile(rb'(\w+)="([^"]*)"')


def answers_for(page: bytes, rng: random.Random) -> dict[str, str]:
    """Valid answers to the form as drawn: its hidden fields kept, one choice for every
    question (no rupture, so the follow-up stays unanswered, as the form allows)."""
    hidden: dict[str, str] = {}
    choices: dict[str, list[str]] = collections.defaultdict(list)
    for tag in INPUT.findall(page):
        attributes = {key.decode(): value.decode() for key, value in ATTRIBUTE.findall(tag)}
        name = attributes.get("name")
        if not name:
            continue
        if attributes.get("type") == "hidden":
            hidden[name] = attributes.get("value", "")
        elif attributes.get("type") == "radio":
            choices[name].append(attributes.get("value", ""))
    chosen = {name: rng.choice(values) for name, values in choices.items()}
    chosen["rupture"] = "none"
    chosen.pop("rupture_resolved", None)
    return {**hidden, **chosen}


async def load(
    port: int, paths: list[str], concurrency: int, seconds: float, form: bool
) -> dict[str, Any]:
    """GET then POST each path, `concurrency` at a time, until done or out of time."""
    rng = random.Random(13)
    queue: collections.deque[str] = collections.deque(paths)
    statuses: collections.Counter[str] = collections.Counter()
    latencies: dict[str, list[float]] = {"GET": [], "POST": []}
    answered = 0
    deadline = time.monotonic() + seconds

    async def one(path: str) -> None:
        nonlocal answered
        status, page, elapsed = await request(port, "GET", path)
        latencies["GET"].append(elapsed)
        statuses[f"GET {status}"] += 1
        if status != 200:
            return
        fields = answers_for(page, rng) if form else {"answer": "7"}
        status, _, elapsed = await request(port, "POST", path, urlencode(fields).encode())
        latencies["POST"].append(elapsed)
        statuses[f"POST {status}"] += 1
        answered += status == 302

    async def user() -> None:
        while queue and time.monotonic() < deadline:
            try:
                await one(queue.popleft())
            except OSError as error:
                statuses[f"error {type(error).__name__}"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    every = latencies["GET"] + latencies["POST"]
    return {
        "seconds": elapsed,
        "answered": answered,
        "unsent": len(queue),
        "statuses": dict(statuses),
        "p50": statistics.median(every),
        "p95": statistics.quantiles(every, n=20)[-1],
        **{
            f"{method} p{q}": round(statistics.quantiles(times, n=20)[q // 5 - 1])
            for method, times in latencies.items()
            if len(times) > 1
            for q in (50, 95)
        },
        "rate": answered / elapsed,
    }


# --- The conductor ----------------------------------------------------------------------


def open_links(count: int) -> tuple[list[str], list[int]]:
    """Tokens of `count` new links on attended sessions without a client rating."""
    from django.db import transaction
    from django.db.models import Exists, OuterRef

    from measures.models import Rating
    from sessions.invitations import invitation_create
    from sessions.models import Session

    rated = Rating.objects.filter(session=OuterRef("pk"), rater=Rating.Rater.CLIENT)
    sessions = list(
        Session.objects.current()
        .filter(attendance=Session.Attendance.ATTENDED)
        .exclude(Exists(rated))
        .order_by("pk")[:count]
    )
    if len(sessions) < count:
        sys.exit(f"Only {len(sessions)} attended sessions without a client rating: seed first.")
    tokens = []
    with transaction.atomic():
        for session in sessions:
            tokens.append(invitation_create(session=session)[1])
    return tokens, [session.pk for session in sessions]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),  # a throw-away server's
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(STATIC_ROOT),
        "CELERY_BROKER_URL": BROKER,
        "ALLIANCE_BENCH_FLOOR_VIEW": "true",
        "DJANGO_SETTINGS_MODULE": "alliance.settings",
    }


def serve(url: str, workers: int, threads: int) -> tuple[subprocess.Popen[bytes], int]:
    environment = server_environment(url)
    python = os.path.join(os.path.dirname(sys.executable), "python")
    if not (STATIC_ROOT / "staticfiles.json").exists():  # DEBUG=false serves the manifest's
        subprocess.run(
            [python, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=PROJECT, env=environment, check=True,
        )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            "alliance.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers),
            "--threads", str(threads),
            "--no-control-socket",
            "--log-level", "warning",
        ],
        cwd=PROJECT, env=environment,
    )  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        sys.exit("gunicorn did not start")
    return server, port


def generate(port: int, paths: list[str], args: argparse.Namespace, form: bool) -> dict[str, Any]:
    """The load generator in its own process, so it never shares a core's Python with
    the conductor."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(paths, handle)
    done = subprocess.run(
        [
            sys.executable, __file__, "--generate", handle.name,
            "--port", str(port),
            "--concurrency", str(args.concurrency),
            "--seconds", str(args.seconds),
            *(["--form"] if form else []),
        ],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    os.unlink(handle.name)
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(session_ids: list[int], result: dict[str, Any]) -> dict[str, int]:
    """What the database holds for these sessions now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT session_id) FROM measures_rating "
            "WHERE rater = 'client' AND session_id = ANY(%s)",
            [session_ids],
        )
        stored, distinct = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM therapy_sessions_ratinginvitation "
            "WHERE used_at IS NOT NULL AND session_id = ANY(%s)",
            [session_ids],
        )
        used = cursor.fetchone()[0]
    return {"stored": stored, "twice": stored - distinct, "links_used": used}


def queued_and_purged() -> int:
    """The evaluations waiting in the broker (no worker ran), then deleted."""
    import redis

    broker = redis.Redis.from_url(BROKER)
    waiting = broker.llen("celery")
    broker.delete(*OWN_KEYS)
    return waiting


def summary(name: str, result: dict[str, Any]) -> str:
    statuses = ", ".join(f"{key}: {value}" for key, value in sorted(result["statuses"].items()))
    split = ", ".join(
        f"{method} {result.get(f'{method} p50')}/{result.get(f'{method} p95')}"
        for method in ("GET", "POST")
    )
    return (
        f"{name:26} {result['rate']:6.1f} answers/s  p50 {result['p50']:4.0f} ms  "
        f"p95 {result['p95']:4.0f} ms  ({split} ms; {result['answered']} answered in "
        f"{result['seconds']:.1f} s; {statuses})"
    )


def share(part: float, whole: float) -> float:
    """`part` over `whole`; 0 when nothing was answered at all (a phase that failed), so
    the run still prints what it measured."""
    return part / whole if whole else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--seconds", type=float, default=120, help="each phase's time limit")
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--form", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        paths = json.loads(Path(args.generate).read_text())
        result = asyncio.run(load(args.port, paths, args.concurrency, args.seconds, args.form))
        print(json.dumps(result))
        return
    setup_django(args.database)
    from django.db import connection

    from bench.floor import CREATE_TABLE, TABLE

    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
        cursor.execute(f"TRUNCATE {TABLE}")
    import redis

    if redis.Redis.from_url(BROKER).exists(*OWN_KEYS):
        sys.exit(f"{BROKER} holds a Celery queue: set BENCH_REDIS_URL to an unused Redis database.")
    # Alternate links to the form and to its database work alone, so that both meet the
    # same mix of clients (who are asked the outcome check, in which language).
    opened, opened_ids = open_links(args.links * 2)
    tokens, ceiling_tokens = opened[0::2], opened[1::2]
    session_ids, ceiling_ids = opened_ids[0::2], opened_ids[1::2]
    server, port = serve(args.database, args.workers, args.threads)
    try:
        bare = [f"/bench/floor/{secrets.token_urlsafe(16)}/" for _ in tokens]
        floor = generate(port, bare, args, False)
        form = generate(port, [f"/r/{token}/" for token in tokens], args, True)
        ceiling = generate(port, [f"/bench/form/{token}/" for token in ceiling_tokens], args, True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        floor_rows = cursor.fetchone()[0]
    held = check(session_ids, form)
    ceiling_held = check(ceiling_ids, ceiling)
    waiting = queued_and_purged()
    load_average = " ".join(f"{value:.2f}" for value in os.getloadavg())
    lost = form["answered"] - held["stored"]
    ceiling_lost = ceiling["answered"] - ceiling_held["stored"]
    ratio = share(form["rate"], floor["rate"])
    ok = ratio >= 0.4 and form["p95"] < 100 and floor["p95"] < 50
    lines = [
        f"Client form under load: {args.links} links, concurrency {args.concurrency}, gunicorn "
        f"{args.workers} workers × {args.threads} threads, evaluation queued on Redis (no worker; "
        f"{waiting} tasks waited, purged); load average after {load_average}",
        summary("Floor (insert one row)", floor) + f"; {floor_rows} rows stored",
        summary("Client form (GET + POST)", form),
        f"{'':26} form / floor rate {ratio:.0%}; "
        f"{'ok' if ok else 'miss: target ≥ 40 %, p95 < 100 ms where the floor p95 < 50 ms'}",
        f"{'':26} stored {held['stored']} = thanked {form['answered']}: "
        f"{'nothing lost' if lost == 0 else f'{lost} LOST'}; {held['twice']} stored twice; "
        f"{held['links_used']} links used; {form['unsent']} links not reached in time",
        summary("Form's database work alone", ceiling),
        f"{'':26} its rate / floor {share(ceiling['rate'], floor['rate']):.0%}, the form / it "
        f"{share(form['rate'], ceiling['rate']):.0%} (no ORM, forms or templates: "
        "bench/ceiling.py)",
        f"{'':26} stored {ceiling_held['stored']} = thanked {ceiling['answered']}: "
        f"{'nothing lost' if ceiling_lost == 0 else f'{ceiling_lost} LOST'}; "
        f"{ceiling_held['twice']} stored twice; {ceiling_held['links_used']} links used; "
        f"{ceiling['unsent']} links not reached in time",
    ]
    for line in lines:
        print(line, file=sys.stderr)
    print(json.dumps({"lines": lines}))


if __name__ == "__main__":
    main()
