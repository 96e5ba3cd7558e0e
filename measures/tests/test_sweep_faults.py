"""Real workers killed mid-sweep (SIGKILL): the sweep still finishes, every signal raised
once. Each test uses its own Redis database and queue, and ends within a couple of
minutes even on a busy machine (well under one on an idle one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from alliance.celery import app
from conftest import celery_broker, faults_redis_database, redis_database
from measures.detection import evaluate_clients
from measures.models import Concern, Flag, Sweep, SweepChunk
from measures.tests.test_sweep_chunks import drifting_clients

pytestmark = [pytest.mark.django_db(transaction=True)]

CLIENTS = 6
CHUNK = 2


def worker_database_url() -> str:
    """The test database, for a worker in another process."""
    conn = connection.settings_dict
    password = f":{conn['PASSWORD']}" if conn["PASSWORD"] else ""
    return (
        f"postgres://{conn['USER']}{password}@{conn['HOST'] or '127.0.0.1'}:"
        f"{conn['PORT'] or 5432}/{conn['NAME']}"
    )


class Workers:
    """Start `celery worker` processes on one queue of one Redis database; stop them all."""

    def __init__(self, broker: str, queue: str, logs: Path) -> None:
        self.broker, self.queue, self.logs = broker, queue, logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *, linger: float = 0.0, **env: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            ["-A", "measures.tests.lingering_worker", "worker",
             "--pool", "prefork", "--concurrency", "1", "--queues", self.queue,
             "--without-mingle", "--without-gossip", "--without-heartbeat"],
            f"worker-{len(self.started)}.log",
            SWEEP_CHUNK_LINGER=str(linger),
            **env,
        )  # fmt: skip

    def start_beat(self) -> subprocess.Popen[bytes]:
        """`celery beat` as production runs it, sending to this queue; a new installation's
        (no schedule file yet)."""
        schedule = str(self.logs / "celerybeat-schedule")
        return self._spawn(["-A", "alliance", "beat", "--schedule", schedule], "beat.log")

    def _spawn(self, args: list[str], log: str, **env: str) -> subprocess.Popen[bytes]:
        """`celery …` on this test's database, broker and queue, logging into `log`."""
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", *args, "--loglevel", "info"],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": worker_database_url(),
                "CELERY_BROKER_URL": self.broker,
                "CELERY_TASK_DEFAULT_QUEUE": self.queue,
                **env,
            },
            stdout=(self.logs / log).open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a worker is killed with its pool
        )
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.logs.iterdir()))


@pytest.fixture
def workers(postgresql: None, redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    # A Redis database of their own (not the broker the other tests use), one for each of
    # the suite's processes (conftest.py), each test on a queue of its own.
    broker = redis_database(redis_url, faults_redis_database())
    queue = f"sweep-faults-{uuid.uuid4().hex[:8]}"
    started = Workers(broker, queue, tmp_path)
    with celery_broker(broker):
        try:
            yield started
        finally:
            started.stop()


def wait_for(condition: Callable[[], bool], seconds: float, what: str, workers: Workers) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Not within {seconds} s: {what}\n{workers.log()[-4000:]}")
        time.sleep(0.1)


def mid_chunk() -> bool:
    """A chunk has stored its signals and is not yet recorded done."""
    return (
        Flag.objects.exists() and not SweepChunk.objects.filter(finished_at__isnull=False).exists()
    )


def sweep_finished() -> bool:
    return Sweep.objects.filter(finished_at__isnull=False).exists()


def pool_processes(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def assert_every_signal_once(client_ids: list[int]) -> None:
    sweep = Sweep.objects.get()
    assert sweep.chunks.count() == CLIENTS // CHUNK
    assert not sweep.chunks.filter(finished_at__isnull=True).exists()
    assert sweep.clients_evaluated == CLIENTS
    rows = list(Flag.objects.values_list("session_id", "rule"))
    assert len(rows) == len(set(rows)) == 6 * CLIENTS
    assert Concern.objects.count() == CLIENTS  # grouped once, one concern each
    # Nothing missing: evaluating everyone again finds nothing new.
    again = evaluate_clients(client_ids)
    assert (again.flags_created, again.concerns_opened) == (0, 0)


def start_sweep(workers: Workers, therapist: Any) -> list[int]:
    clients = [person.pk for person in drifting_clients(therapist, CLIENTS)]
    app.send_task("measures.tasks.sweep", queue=workers.queue)
    return clients


def test_a_chunk_whose_pool_process_is_killed_is_delivered_again(
    workers: Workers, therapist: Any
) -> None:
    worker = workers.start(linger=3, ALLIANCE_SWEEP_CHUNK_CLIENTS=str(CHUNK))
    client_ids = start_sweep(workers, therapist)
    wait_for(mid_chunk, 60, "a chunk under way", workers)
    (pool,) = pool_processes(worker.pid)
    os.kill(pool, signal.SIGKILL)
    # acks_late + reject_on_worker_lost: the chunk goes back to the queue at once.
    wait_for(sweep_finished, 60, "the sweep finished", workers)
    assert "signal 9" in workers.log()  # the pool process did die mid-chunk
    assert_every_signal_once(client_ids)


def test_a_sweep_whose_worker_is_killed_finishes_with_a_new_worker(
    workers: Workers, therapist: Any
) -> None:
    worker = workers.start(linger=3, ALLIANCE_SWEEP_CHUNK_CLIENTS=str(CHUNK))
    client_ids = start_sweep(workers, therapist)
    wait_for(mid_chunk, 60, "a chunk under way", workers)
    os.killpg(worker.pid, signal.SIGKILL)  # the main process and its pool, no goodbye
    worker.wait()
    killed_at = time.monotonic()
    # Redis hands the dead worker's chunk to another after the visibility timeout (the
    # setting is 15 minutes; here 5 s, looked for every second).
    workers.start(
        ALLIANCE_SWEEP_CHUNK_CLIENTS=str(CHUNK),
        CELERY_VISIBILITY_TIMEOUT="5",
        CELERY_UNACKED_RESTORE_INTERVAL="1",
        CELERY_UNACKED_RESTORE_THROTTLE="1",
    )
    wait_for(sweep_finished, 60, "the sweep finished by the new worker", workers)
    assert time.monotonic() - killed_at < 60  # not the broker's default hour
    assert_every_signal_once(client_ids)


def test_a_new_installation_looks_for_concerns_as_soon_as_beat_starts(
    workers: Workers, therapist: Any, client: Any
) -> None:
    """Not after the catch-up's first interval (10 minutes): until then every page that
    lists concerns would say Alliance has not yet looked, and the monitor's check fail."""
    drifting_clients(therapist, 2)
    detection_url = reverse("measures:health-detection")
    assert client.get(detection_url).status_code == 503  # never looked
    workers.start()
    workers.start_beat()
    wait_for(sweep_finished, 60, "beat's first catch-up finished", workers)
    assert settings.ALLIANCE_CATCH_UP_SECONDS >= 60  # not merely its interval come round
    assert Sweep.objects.get().clients_evaluated == 2
    assert Concern.objects.count() == 2  # what the two histories call for, found at once
    response = client.get(detection_url)
    assert (response.status_code, response.json()["detection"]) == (200, "ok")
