"""Benchmark the chunked sweep on real Celery workers: one worker process against two.

    .venv/bin/python bench/sweep_workers.py [--clients 3000] [--sessions 40] [--runs 3]

Seeds N clients × M weekly sessions into a throw-away database (default
postgres://postgres@127.0.0.1:5432/alliance_bench_workers, created if missing), then for
`celery worker --concurrency 1` and `--concurrency 2` (on a Redis database of its own)
times the sweep end to end: from queuing `measures.tasks.sweep` to the `Sweep` row
finished by its last chunk. Both workers run side by side on queues of their own and the
runs alternate. Prints the median of the runs and the ratio.
"""

from __future__ import annotations

import os
import sys

# As in bench/sweep.py: bench/signal.py must not shadow the standard library's module.
BENCH = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [path for path in sys.path if os.path.realpath(path or os.curdir) != BENCH]
sys.path.insert(0, os.path.dirname(BENCH))

import argparse
import random
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import PROJECT, create_database, seed, setup_django

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/alliance_bench_workers"
DEFAULT_BROKER = "redis://127.0.0.1:6379/12"


def start_worker(
    concurrency: int, database: str, broker: str, queue: str, chunk: int, log: Path
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "alliance", "worker", "--pool", "prefork",
         "--concurrency", str(concurrency), "--queues", queue, "--without-mingle",
         "--without-gossip", "--without-heartbeat", "--loglevel", "info"],
        cwd=PROJECT,
        env={
            **os.environ,
            "DATABASE_URL": database,
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "ALLIANCE_SWEEP_CHUNK_CLIENTS": str(chunk),
        },
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"The worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    return process


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def one_sweep(queue: str) -> tuple[float, int]:
    """Seconds from queuing the sweep to its last chunk finishing it; how many chunks."""
    from django.db import connection

    from alliance.celery import app
    from measures.models import Sweep

    with connection.cursor() as cursor:  # a clean slate: every client is swept
        cursor.execute(
            "TRUNCATE measures_concernevent, measures_flag, measures_concern, "
            "measures_sweepchunk, measures_sweep"
        )
    started = time.perf_counter()
    app.send_task("measures.tasks.sweep", queue=queue)
    deadline = time.monotonic() + 600
    while True:
        finished = Sweep.objects.filter(finished_at__isnull=False).first()
        if finished is not None:
            return time.perf_counter() - started, finished.chunks.count()
        if time.monotonic() > deadline:
            sys.exit("The sweep did not finish within 10 minutes.")
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=500, help="clients per chunk")
    parser.add_argument("--reuse", action="store_true", help="keep the clients already seeded")
    parser.add_argument(
        "--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    )
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER))
    args = parser.parse_args()
    if not args.database.startswith("postgres"):
        sys.exit("The benchmark targets PostgreSQL: pass --database postgres://…")
    create_database(args.database)
    setup_django(args.database)
    from alliance.celery import app

    os.environ["CELERY_BROKER_URL"] = args.broker  # Celery reads the variable first
    app.conf.update(broker_url=args.broker, task_always_eager=False)
    started = time.perf_counter()
    if args.reuse:
        from measures.models import Rating

        client_ratings = Rating.objects.filter(rater="client").count()
    else:
        client_ratings = seed(args.clients, args.sessions, random.Random(2026))
        print(
            f"Seeded {args.clients} clients × {args.sessions} sessions "
            f"({client_ratings} client ratings) in {time.perf_counter() - started:.1f} s"
        )
    # Both workers up at once, each on its queue, the runs alternating between them: a
    # machine whose load changes meanwhile weighs on both alike. An idle worker only waits.
    queues = {n: f"bench-sweep-{n}-{uuid.uuid4().hex[:8]}" for n in (1, 2)}
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as logs:
        workers = []
        try:
            for concurrency, queue in queues.items():
                log = Path(logs) / f"worker-{concurrency}.log"
                workers.append(
                    start_worker(concurrency, args.database, args.broker, queue, args.chunk, log)
                )
                one_sweep(queue)  # warm: the pool's imports and connections
            for _ in range(args.runs):
                for concurrency, queue in queues.items():
                    seconds, chunks = one_sweep(queue)
                    times[concurrency].append(seconds)
        finally:
            for worker in workers:
                stop_worker(worker)
    medians = {concurrency: statistics.median(runs) for concurrency, runs in times.items()}
    for concurrency, median in medians.items():
        print(
            f"{concurrency} worker process{'es' if concurrency > 1 else ''}: "
            f"{median:.2f} s median of {args.runs} "
            f"({', '.join(f'{t:.2f}' for t in times[concurrency])}; "
            f"{chunks} chunks of {args.chunk}); {client_ratings / median:,.0f} ratings a second"
        )
    print(f"Two / one:             {medians[2] / medians[1]:.2f} (target ≤ 0.65)")


if __name__ == "__main__":
    main()
