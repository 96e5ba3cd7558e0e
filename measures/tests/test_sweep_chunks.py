"""The sweep split into chunks of clients: the same signals as one pass, each chunk safe to
run twice or twice at once, and the sweep finished by whichever chunk ends last."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from clients.models import Client
from clients.tests.factories import ClientFactory
from measures.detection import _evaluate, sweep_chunk_run, sweep_plan, sweep_run
from measures.models import Concern, Flag, Sweep, SweepChunk
from measures.scoring import DIMENSIONS
from measures.tasks import sweep
from measures.tests.factories import RatingFactory
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def drifting_clients(therapist: Any, count: int) -> list[Client]:
    """Clients rated 10, 10, 10, 9, 8, 7 over six weeks: each calls for a concern."""
    made = []
    for _ in range(count):
        someone = ClientFactory(therapist=therapist)
        for weeks_ago, score in [(6, 10), (5, 10), (4, 10), (3, 9), (2, 8), (1, 7)]:
            session = SessionFactory(
                client=someone, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
            )
            RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, score))
        made.append(someone)
    return made


def signals() -> list[tuple[int, int, str]]:
    return sorted(Flag.objects.values_list("client_id", "session_id", "rule"))


def start_afresh() -> None:
    Flag.objects.all().delete()
    Concern.objects.all().delete()
    Sweep.objects.all().delete()


def test_a_chunked_sweep_raises_what_one_pass_raises(therapist: Any, settings: Any) -> None:
    drifting_clients(therapist, 5)
    one_pass = sweep_run()
    expected = signals()
    start_afresh()
    settings.ALLIANCE_SWEEP_CHUNK_CLIENTS = 2
    chunked = sweep_run(chunked=True)
    assert signals() == expected
    assert chunked.chunks.count() == 3
    assert chunked.finished_at is not None
    counts = (chunked.clients_evaluated, chunked.flags_created, chunked.concerns_opened)
    assert counts == (one_pass.clients_evaluated, one_pass.flags_created, 5)
    assert counts == (5, len(expected), one_pass.concerns_opened)


def test_the_sweep_task_runs_its_chunks_in_process_without_a_broker(
    therapist: Any, settings: Any
) -> None:
    drifting_clients(therapist, 5)
    settings.ALLIANCE_SWEEP_CHUNK_CLIENTS = 2
    assert sweep.delay().get() == 3  # eager: each chunk ran as it was queued
    finished = Sweep.objects.get()
    assert (finished.clients_evaluated, finished.concerns_opened) == (5, 5)
    assert not finished.chunks.filter(finished_at__isnull=True).exists()


def test_a_sweep_with_no_client_to_evaluate_is_finished_at_once(therapist: Any) -> None:
    planned = sweep_plan()
    assert planned.finished_at is not None and not planned.chunks.exists()
    assert sweep.delay().get() == 0


def test_a_sweep_finishes_only_when_its_last_chunk_does(therapist: Any) -> None:
    drifting_clients(therapist, 3)
    planned = sweep_plan(chunk_clients=1)
    first, second, third = planned.chunks.values_list("pk", flat=True)
    sweep_chunk_run(third)
    sweep_chunk_run(first)
    planned.refresh_from_db()
    assert planned.finished_at is None and planned.clients_evaluated == 0
    sweep_chunk_run(second)
    planned.refresh_from_db()
    assert planned.finished_at is not None
    assert (planned.clients_evaluated, planned.concerns_opened) == (3, 3)


def test_a_chunk_delivered_again_after_a_lost_worker_writes_nothing_twice(
    therapist: Any,
) -> None:
    drifting_clients(therapist, 2)
    planned = sweep_plan()
    chunk = planned.chunks.get()
    # The first delivery stored its signals and died before recording the chunk done.
    _evaluate(chunk.client_ids, planned.started_at)
    stored = signals()
    again = sweep_chunk_run(chunk.pk)
    assert (again.clients_evaluated, again.flags_created, again.concerns_opened) == (2, 0, 0)
    assert signals() == stored and Concern.objects.count() == 2
    planned.refresh_from_db()
    assert planned.finished_at is not None
    # Delivered once more after it was recorded: skipped, the record stands.
    assert sweep_chunk_run(chunk.pk).clients_evaluated == 0
    assert SweepChunk.objects.get().clients_evaluated == 2


def test_the_next_sweep_covers_what_an_abandoned_one_left(therapist: Any) -> None:
    drifting_clients(therapist, 3)
    abandoned = sweep_plan(chunk_clients=1)
    sweep_chunk_run(abandoned.chunks.first().pk)  # its other two chunks were lost
    following = sweep_run(chunked=True)
    assert following.clients_evaluated == 3  # bounded by the last *finished* sweep
    assert Concern.objects.count() == 3
    abandoned.refresh_from_db()
    assert abandoned.finished_at is None


@pytest.mark.django_db(transaction=True)
def test_chunks_run_twice_and_at_once_raise_each_signal_once(
    postgresql: None, therapist: Any
) -> None:
    clients = drifting_clients(therapist, 4)
    planned = sweep_plan(chunk_clients=2)
    chunk_ids = list(planned.chunks.values_list("pk", flat=True))
    # Each chunk twice, all four runs at once: as after a redelivery beside the first try.
    runs = chunk_ids * 2
    barrier = threading.Barrier(len(runs))
    errors: list[BaseException] = []

    def run(chunk_id: int) -> None:
        try:
            barrier.wait()
            sweep_chunk_run(chunk_id)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=[chunk_id]) for chunk_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = [(session, rule) for _, session, rule in signals()]
    assert len(rows) == len(set(rows)) == 6 * len(clients)
    assert Concern.objects.count() == len(clients)
    assert not Flag.objects.filter(concern__isnull=True, rule="reliable_drop").exists()
    planned.refresh_from_db()
    assert planned.finished_at is not None
    assert (planned.clients_evaluated, planned.concerns_opened) == (4, 4)
