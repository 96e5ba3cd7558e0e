"""The sweeps' own records (a row per sweep and catch-up, a row per chunk with its client
ids) are forgotten after ALLIANCE_SWEEP_KEEP_DAYS by the nightly sweep, never the latest
finished one, which bounds the next sweep."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clients.tests.factories import ClientFactory
from measures.models import Sweep, SweepChunk
from measures.sweeps import sweep_plan, sweep_run, sweeps_forget

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def sweep_begun(days_ago: float, *, finished: bool = True, chunks: int = 0) -> Sweep:
    started = timezone.now() - days_ago * DAY
    sweep = Sweep.objects.create(
        started_at=started, finished_at=started + dt.timedelta(minutes=1) if finished else None
    )
    for number in range(1, chunks + 1):
        SweepChunk.objects.create(sweep=sweep, number=number, client_ids=[1, 2, 3])
    return sweep


@pytest.fixture(autouse=True)
def keep_ninety_days(settings: Any) -> None:
    settings.ALLIANCE_SWEEP_KEEP_DAYS = 90


def test_the_nightly_sweep_forgets_records_past_the_keeping_time_with_their_chunks() -> None:
    old = sweep_begun(120, chunks=2)
    abandoned = sweep_begun(95, finished=False, chunks=3)  # its worker lost
    recent = sweep_begun(89, chunks=1)
    latest = sweep_begun(0.5)
    tonight = sweep_run()
    assert set(Sweep.objects.values_list("pk", flat=True)) == {recent.pk, latest.pk, tonight.pk}
    assert not SweepChunk.objects.filter(sweep_id__in=[old.pk, abandoned.pk]).exists()
    assert SweepChunk.objects.filter(sweep=recent).count() == 1


def test_the_latest_finished_sweep_is_kept_however_old() -> None:
    """Detection stopped for months: the next sweep still starts from where the last one
    finished, not from the beginning (that would be every client)."""
    last = sweep_begun(200)
    older = sweep_begun(300)
    unfinished_before = sweep_begun(250, finished=False)
    # Begun after it and never finished: the next sweep carries on the clinics it was to
    # judge again (`Sweep.rejudged_clinics`), so it is kept too.
    unfinished_since = sweep_begun(150, finished=False)
    assert sweeps_forget(timezone.now(), keep=last) == 2
    assert list(Sweep.objects.all()) == [unfinished_since, last]
    assert not Sweep.objects.filter(pk__in=[older.pk, unfinished_before.pk]).exists()


def test_the_nightly_sweep_keeps_an_old_latest_finished_sweep_and_starts_from_it(
    therapist: Any,
) -> None:
    """Detection stopped for months: the nightly sweep still starts from where the last
    one finished, not from the beginning (every client)."""
    untouched = ClientFactory(therapist=therapist)  # nothing changed since the last sweep
    last = sweep_begun(120)
    older = sweep_begun(130)
    tonight = sweep_run()
    assert set(Sweep.objects.values_list("pk", flat=True)) == {last.pk, tonight.pk}
    assert not Sweep.objects.filter(pk=older.pk).exists()
    assert untouched.pk and tonight.clients_evaluated == 0  # from the start, it would be 1


def test_the_chunked_nightly_sweep_forgets_too_and_the_catch_up_does_not() -> None:
    old = sweep_begun(100, chunks=1)
    sweep_begun(1)
    sweep_run(refresh_courses=False)  # a catch-up
    assert Sweep.objects.filter(pk=old.pk).exists()
    sweep_plan()  # the nightly sweep, as the workers run it
    assert not Sweep.objects.filter(pk=old.pk).exists()
    assert not SweepChunk.objects.filter(sweep_id=old.pk).exists()


def test_the_keeping_time_is_a_setting(settings: Any) -> None:
    settings.ALLIANCE_SWEEP_KEEP_DAYS = 7
    week_old = sweep_begun(8)
    kept = sweep_begun(6)
    assert sweeps_forget(timezone.now(), keep=kept) == 1
    assert not Sweep.objects.filter(pk=week_old.pk).exists()
