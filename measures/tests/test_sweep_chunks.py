"""The sweep split into chunks of clients: the same signals as one pass, each chunk safe to
run twice or twice at once, and the sweep finished by whichever chunk ends last."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from clients.models import Client
from clients.tests.factories import ClientFactory
from measures.detection import evaluation_run
from measures.models import Concern, Flag, OutcomeAnswer, Rating, Sweep, SweepChunk
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_chunk_run, sweep_plan, sweep_run
from measures.tasks import sweep, sweep_chunk
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory
from sessions.models import Session
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
    evaluation_run(chunk.client_ids, planned.started_at)
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


# --- A clinic's course moved, and a chunk of the clients judged again for it was lost ------


def _outcome_week(client: Client, weeks_ago: float, outcome: float) -> None:
    session = SessionFactory(
        client=client, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
    )
    OutcomeAnswerFactory(session=session, answers=[outcome] * 4)


def _latest_track(client: Client) -> str:
    return (
        OutcomeAnswer.objects.filter(session__client=client)
        .order_by("session__starts_at")
        .values_list("track", flat=True)
        .last()
    )


def _course_about_to_move(therapist: Any, client: Client, settings: Any) -> None:
    """`client` stays at 4 while two peers improve by 2: on track with no course yet. Their
    history then rests a day old, and a third peer gives the clinic a course (an improvement
    of 2) that `client` is below: the next nightly sweep judges them again for it alone."""
    settings.ALLIANCE_OUTCOME_MIN_CLIENTS = 4
    settings.ALLIANCE_SWEEP_CHUNK_CLIENTS = 1
    _outcome_week(client, 3, 4)
    _outcome_week(client, 2, 4)
    for _ in range(2):
        peer = ClientFactory(therapist=therapist)
        _outcome_week(peer, 3, 4)
        _outcome_week(peer, 2, 6)
    sweep_run()
    assert _latest_track(client) == OutcomeAnswer.Track.ON_TRACK
    yesterday = timezone.now() - dt.timedelta(days=1)
    Session.objects.filter(client=client).update(updated_at=yesterday)
    Rating.objects.filter(session__client=client).update(updated_at=yesterday)
    peer = ClientFactory(therapist=therapist)
    _outcome_week(peer, 3, 4)
    _outcome_week(peer, 2, 6)


def _planned_with_the_chunk_of_lost(therapist: Any, client: Client, settings: Any) -> Sweep:
    """A nightly sweep planned as the clinic's course moves, every chunk run but the one
    holding `client` (lost with Redis): it stays unfinished."""
    _course_about_to_move(therapist, client, settings)
    nightly = sweep_plan()
    assert nightly.rejudged_clinics == [client.clinic_id]
    for chunk in nightly.chunks.all():
        if client.pk not in chunk.client_ids:
            sweep_chunk_run(chunk.pk)
    nightly.refresh_from_db()
    assert nightly.finished_at is None
    return nightly


def test_clients_judged_again_for_a_moved_course_are_judged_though_their_chunk_is_lost(
    therapist: Any, client_record: Client, settings: Any
) -> None:
    """The course is stored with the plan; if the chunk holding a client picked for it never
    runs, the next sweep must still judge them (their history did not change, and the
    stored course does not move again). A catch-up carries them on."""
    _planned_with_the_chunk_of_lost(therapist, client_record, settings)
    catch_up = sweep_run(refresh_courses=False)
    assert _latest_track(client_record) == OutcomeAnswer.Track.NOT_ON_TRACK
    assert catch_up.rejudged_clinics == [client_record.clinic_id]
    # Carried until a sweep that carried them finishes (and for the overlap after it, as a
    # sweep still being planned when that one began was hidden from it).
    settings.ALLIANCE_SWEEP_OVERLAP_SECONDS = 0
    assert sweep_run(refresh_courses=False).rejudged_clinics == []


def test_clients_of_chunks_never_queued_are_judged_by_the_next_sweep(
    therapist: Any, client_record: Client, settings: Any
) -> None:
    """The plan commits (the new course with it), then the broker drops while its chunks
    are queued: the clients of the chunks never queued are judged by the next sweep."""
    from kombu.exceptions import OperationalError as BrokerDown

    from measures import tasks

    _course_about_to_move(therapist, client_record, settings)
    queue = tasks.sweep_chunk.delay

    def delay(chunk_id: int) -> Any:
        if client_record.pk in SweepChunk.objects.get(pk=chunk_id).client_ids:
            raise BrokerDown("Connection refused")
        return queue(chunk_id)

    with pytest.raises(BrokerDown), mock.patch.object(tasks.sweep_chunk, "delay", delay):
        tasks.sweep()
    assert _latest_track(client_record) == OutcomeAnswer.Track.ON_TRACK
    tasks.sweep()  # the next night, the broker back
    assert _latest_track(client_record) == OutcomeAnswer.Track.NOT_ON_TRACK


def test_clinics_of_an_unfinished_sweep_are_carried_though_its_record_is_forgotten_first(
    therapist: Any, client_record: Client, settings: Any
) -> None:
    """Nothing has finished for longer than ALLIANCE_SWEEP_KEEP_DAYS (workers away): the
    next nightly sweep, which forgets old records as it starts, still carries on the
    clinics the unfinished one was to judge again, and forgets that one once it has."""
    nightly = _planned_with_the_chunk_of_lost(therapist, client_record, settings)

    # The workers are back KEEP_DAYS + 1 days later; the next nightly sweep runs.
    later = timezone.now() + dt.timedelta(days=settings.ALLIANCE_SWEEP_KEEP_DAYS + 1)
    next_sweep = sweep_run(now=later)

    assert (next_sweep.rejudged_clinics, _latest_track(client_record)) == (
        [client_record.clinic_id],
        OutcomeAnswer.Track.NOT_ON_TRACK,
    )
    # Kept while it was to be carried on; forgotten by the next nightly sweep after one
    # that carried it finished.
    assert Sweep.objects.filter(pk=nightly.pk).exists()
    sweep_run(now=later + dt.timedelta(days=1))
    assert not Sweep.objects.filter(pk=nightly.pk).exists()


def test_a_one_pass_sweep_that_fails_leaves_its_moved_courses_to_the_next(
    therapist: Any, client_record: Client, settings: Any
) -> None:
    _course_about_to_move(therapist, client_record, settings)
    with (
        mock.patch("measures.detection.evaluation_run", side_effect=RuntimeError("worker lost")),
        pytest.raises(RuntimeError),
    ):
        sweep_run()
    assert Sweep.objects.filter(finished_at__isnull=True).get().rejudged_clinics == [
        client_record.clinic_id
    ]
    sweep_run(refresh_courses=False)
    assert _latest_track(client_record) == OutcomeAnswer.Track.NOT_ON_TRACK


def test_a_plan_of_chunks_of_no_clients_is_refused_and_plans_nothing(therapist: Any) -> None:
    drifting_clients(therapist, 2)
    with pytest.raises(ValueError, match="1 client or more"):
        sweep_plan(chunk_clients=-1)
    assert not Sweep.objects.exists()


# --- Counts, and chunks whose sweep was forgotten ------------------------------------------


def test_a_chunk_run_twice_at_once_keeps_the_counts_of_the_run_that_raised_them(
    therapist: Any,
) -> None:
    """Which of two deliveries at once finds the work depends on which reads after the other
    committed, not on which records first: here the second delivery runs start to end while
    the first, its signals committed, is about to record. The sweep's log keeps the first's
    counts, and counts its clients once."""
    from measures import sweeps

    drifting_clients(therapist, 2)
    planned = sweep_plan()
    chunk = planned.chunks.get()
    finish = sweeps._chunk_finish
    overtaken: list[Any] = []

    def first_delivery_finishes_last(this: SweepChunk, outcome: Any) -> None:
        if not overtaken:
            overtaken.append(outcome)
            with mock.patch.object(sweeps, "_chunk_finish", finish):
                assert sweep_chunk_run(chunk.pk).concerns_opened == 0
        finish(this, outcome)

    with mock.patch.object(sweeps, "_chunk_finish", first_delivery_finishes_last):
        sweep_chunk_run(chunk.pk)
    assert overtaken[0].concerns_opened == 2 == Concern.objects.count()
    planned.refresh_from_db()
    assert planned.finished_at is not None
    counts = (planned.clients_evaluated, planned.flags_created, planned.concerns_opened)
    assert counts == (2, Flag.objects.count(), 2)
    chunk.refresh_from_db()
    assert (chunk.clients_evaluated, chunk.concerns_opened) == (2, 2)


def test_a_chunk_delivered_after_its_sweep_was_forgotten_is_skipped(
    therapist: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Its workers away longer than ALLIANCE_SWEEP_KEEP_DAYS: the sweeps since covered its
    clients, so it does nothing, and says so, without an error."""
    drifting_clients(therapist, 1)
    planned = sweep_plan()
    chunk_id = planned.chunks.get().pk
    Sweep.objects.filter(pk=planned.pk).delete()  # sweeps_forget, days later
    caplog.set_level("INFO", logger="measures.sweeps")
    assert sweep_chunk.apply(args=[chunk_id]).get() == 0
    assert not Flag.objects.exists()
    assert "its sweep's record was forgotten" in caplog.text


def test_a_chunk_whose_sweep_is_forgotten_while_it_runs_records_nothing(therapist: Any) -> None:
    from measures import detection

    drifting_clients(therapist, 1)
    planned = sweep_plan()
    chunk = planned.chunks.get()
    evaluate = detection.evaluation_run

    def forgotten_meanwhile(*args: Any, **kwargs: Any) -> Any:
        outcome = evaluate(*args, **kwargs)
        Sweep.objects.filter(pk=planned.pk).delete()
        return outcome

    with mock.patch.object(detection, "evaluation_run", forgotten_meanwhile):
        outcome = sweep_chunk_run(chunk.pk)
    assert outcome.concerns_opened == 1
    assert not Sweep.objects.exists()
