"""Beat's catch-up (every 10 minutes) beside a sweep still at work: it waits rather than do
the sweep's work a second time beside it, and takes up what changed once that sweep is
done, or once it has stalled (its workers lost)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from measures import tasks
from measures.models import Concern, Sweep, SweepChunk
from measures.sweeps import SWEEP_STALLED_AFTER, sweep_at_work, sweep_chunk_run, sweep_plan
from measures.tests.test_sweep_chunks import drifting_clients

pytestmark = pytest.mark.django_db


def catch_up() -> int:
    return tasks.catch_up.apply().get()


def last_seen_at(sweep: Sweep, when: dt.datetime) -> None:
    """The sweep began at `when`, and its chunks done so far finished then."""
    Sweep.objects.filter(pk=sweep.pk).update(started_at=when)
    SweepChunk.objects.filter(sweep=sweep, finished_at__isnull=False).update(finished_at=when)


def test_a_catch_up_beside_a_sweep_at_work_waits_and_the_next_takes_up_what_changed(
    therapist: Any,
) -> None:
    drifting_clients(therapist, 2)
    first_sweep = sweep_plan(chunk_clients=1)  # the first ever: every client, two chunks
    first, second = first_sweep.chunks.values_list("pk", flat=True)
    sweep_chunk_run(first)
    assert catch_up() == 0
    # It read nothing and recorded no run: the client of the chunk still queued was left to it.
    assert Sweep.objects.count() == 1
    assert Concern.objects.count() == 1
    sweep_chunk_run(second)
    drifting_clients(therapist, 1)  # rated while the sweep ran
    assert catch_up() == 1
    assert Concern.objects.count() == 3


def test_a_catch_up_at_work_holds_the_next_back_too(therapist: Any) -> None:
    drifting_clients(therapist, 1)
    Sweep.objects.create(started_at=timezone.now() - dt.timedelta(minutes=3))  # still reading
    assert catch_up() == 0
    assert Sweep.objects.count() == 1 and not Concern.objects.exists()


def test_a_sweep_whose_chunks_still_finish_is_at_work_however_long_ago_it_began(
    therapist: Any,
) -> None:
    drifting_clients(therapist, 2)
    nightly = sweep_plan(chunk_clients=1)
    sweep_chunk_run(nightly.chunks.first().pk)
    last_seen_at(nightly, timezone.now() - dt.timedelta(hours=1))
    SweepChunk.objects.filter(sweep=nightly, finished_at__isnull=False).update(
        finished_at=timezone.now() - dt.timedelta(minutes=2)
    )
    assert sweep_at_work(timezone.now()) == nightly
    assert catch_up() == 0


def test_a_stalled_sweep_holds_nothing_back_and_the_catch_up_covers_its_lost_chunks(
    therapist: Any,
) -> None:
    drifting_clients(therapist, 3)
    abandoned = sweep_plan(chunk_clients=1)
    sweep_chunk_run(abandoned.chunks.first().pk)  # its other two chunks lost with the worker
    last_seen_at(abandoned, timezone.now() - SWEEP_STALLED_AFTER - dt.timedelta(seconds=1))
    assert sweep_at_work(timezone.now()) is None
    assert catch_up() == 2
    assert Concern.objects.count() == 3


def test_a_finished_sweep_is_not_at_work(therapist: Any) -> None:
    drifting_clients(therapist, 1)
    done = sweep_plan()
    sweep_chunk_run(done.chunks.get().pk)
    assert sweep_at_work(timezone.now()) is None


def test_a_sweep_stalls_only_after_any_of_its_tasks_could_have_run_to_its_limit() -> None:
    """Else a slow chunk still running would let a catch-up start beside it."""
    longest = max(task.time_limit for task in (tasks.sweep, tasks.sweep_chunk, tasks.catch_up))
    assert dt.timedelta(seconds=longest) < SWEEP_STALLED_AFTER
