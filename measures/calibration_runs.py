"""A calibration asked for, worked out and kept: the life of a `Calibration` row.

A clinic admin (or the command line) asks for one; it is recorded as running, at most one
a clinic, and a worker's task (or the command, at once) works it out with
`measures.calibration` and keeps the result for the clinic's admins to look at and apply.
A running calibration writes its progress to its row every few seconds, each write a sign
of life: one not heard from for `STALE_AFTER` was lost and shows as failed, and one whose
worker was lost `MAX_ATTEMPTS` times fails rather than being handed on for ever.

The estimates and the replay are called through their module
(`calibration.calibration_result`), so a test standing in for them patches them where they
live.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from alliance.progress import OnProgress, OnStage
from clients import audit
from clients.models import AuditAction, Clinic, User
from clients.scoping import is_clinic_admin_of
from measures import calibration
from measures.models import Calibration
from measures.thresholds import clinic_thresholds

# A running calibration not heard from for this long was lost (its worker died past its
# retries, or its task never reached one): it no longer holds its clinic's place, and shows
# as failed. It is heard from when asked for, when a worker takes it up and as it
# progresses (every few seconds); longer than an attempt may run (12 minutes).
STALE_AFTER = dt.timedelta(minutes=30)
# A calibration whose worker is lost this many times (killed for its memory, say) fails,
# rather than being handed to the next worker for ever.
MAX_ATTEMPTS = 3


class CalibrationRunning(Exception):
    """A calibration of the clinic is already running (the one in `running`)."""

    def __init__(self, running: Calibration) -> None:
        asked = timezone.localtime(running.created_at)
        super().__init__(
            f"A calibration of this clinic is already running (asked for at {asked:%H:%M})."
        )
        self.running = running


def calibration_request(
    *, clinic: Clinic, actor: User | None = None, now: dt.datetime | None = None
) -> Calibration:
    """Ask for a calibration of `clinic`: recorded as running, for `calibration_complete`
    (a worker's task, or the command) to work out. Raises CalibrationRunning while one of
    the clinic's is running; one lost long ago (`STALE_AFTER`) is marked failed instead.

    `actor` is the clinic admin who asked (None from the command line)."""
    if actor is not None and not is_clinic_admin_of(actor, clinic.pk):
        raise PermissionDenied("Only a clinic admin of this clinic can calibrate its thresholds.")
    now = now or timezone.now()
    with transaction.atomic():
        # Two admins asking at once wait here for each other; the database's one running
        # calibration per clinic is the backstop.
        Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
        running = Calibration.objects.filter(
            clinic=clinic, status=Calibration.Status.RUNNING
        ).first()
        if running is not None:
            if is_running(running, now):
                raise CalibrationRunning(running)
            _finish(running.pk, Calibration.Status.FAILED, now)
        run = Calibration.objects.create(
            clinic=clinic,
            created_by=actor,
            created_at=now,
            updated_at=now,
            status=Calibration.Status.RUNNING,
        )
        audit.written(actor, AuditAction.CREATED, run)
    return run


def calibration_complete(
    calibration_id: int, *, stages: OnStage | None = None, now: dt.datetime | None = None
) -> Calibration:
    """Work out a requested calibration and keep its result for the clinic's admins. Safe
    to run twice (a task delivered again): one that is no longer running is left as it
    is, and one lost or taken up `MAX_ATTEMPTS` times already fails. Its row hears of its
    progress every few seconds, for its page; so does `stages`, if given, at every step."""
    run = Calibration.objects.select_related("clinic").get(pk=calibration_id)
    if run.status != Calibration.Status.RUNNING:
        return run
    if not is_running(run) or run.attempts >= MAX_ATTEMPTS:
        # Lost (another may have been asked for since), or its worker lost too often.
        calibration_failed(run.pk)
        run.refresh_from_db()
        return run
    Calibration.objects.filter(pk=run.pk, status=Calibration.Status.RUNNING).update(
        attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    now = now or timezone.now()
    recorded = _recorded(calibration_id, also=stages)
    clients = calibration.clinic_histories(run.clinic, recorded, now)
    result = calibration.calibration_result(
        clients,
        clinic_thresholds(run.clinic),
        now,
        progress=lambda total: recorded(calibration.REPLAYING, total),
    )
    Calibration.objects.filter(pk=run.pk, status=Calibration.Status.RUNNING).update(
        result=result, status=Calibration.Status.DONE, progress=100, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def is_running(run: Calibration, now: dt.datetime | None = None) -> bool:
    """Still being worked out: running, and heard from lately (`STALE_AFTER`)."""
    now = now or timezone.now()
    return run.status == Calibration.Status.RUNNING and run.updated_at > now - STALE_AFTER


def status_of(run: Calibration, now: dt.datetime | None = None) -> str:
    """Running, done or failed, as its clinic's admins are told: one lost is failed."""
    if run.status == Calibration.Status.RUNNING and not is_running(run, now):
        return Calibration.Status.FAILED
    return run.status


def calibration_failed(calibration_id: int) -> None:
    """Mark a running calibration failed (its task gave up), so its clinic may ask again."""
    _finish(calibration_id, Calibration.Status.FAILED, timezone.now())


def calibration_run(
    *,
    clinic: Clinic,
    actor: User | None = None,
    now: dt.datetime | None = None,
    stages: OnStage | None = None,
) -> Calibration:
    """Calibrate `clinic` at once, in this process (the command, tests): asked for and
    worked out. A failure leaves it failed, not running."""
    run = calibration_request(clinic=clinic, actor=actor, now=now)
    try:
        return calibration_complete(run.pk, stages=stages, now=now)
    except BaseException:
        calibration_failed(run.pk)
        raise


def _finish(calibration_id: int, status: str, now: dt.datetime) -> None:
    Calibration.objects.filter(pk=calibration_id, status=Calibration.Status.RUNNING).update(
        status=status, finished_at=now
    )


PROGRESS_EVERY = 2.0  # seconds between a running calibration's progress writes


def _recorded(
    calibration_id: int,
    clock: Callable[[], float] = time.monotonic,
    also: OnStage | None = None,
) -> OnStage:
    """Stages that write the calibration's progress, in per cent, to its row at most every
    `PROGRESS_EVERY` seconds (reading the histories is its first 40 %, replaying them the
    rest), each write a sign of life; and tell `also` of every step. The bar never goes back
    (another attempt starts again from nothing) and a calibration that has ended is left
    alone."""
    written_at = [clock()]

    def stage(name: str, total: int) -> OnProgress:
        told = also(name, total) if also is not None else None
        start = 0 if name == calibration.READING else calibration.SHARE[calibration.READING]

        def update(done: int) -> None:
            if told is not None:
                told(done)
            if clock() - written_at[0] < PROGRESS_EVERY:
                return
            percent = min(99, start + calibration.SHARE[name] * done // max(total, 1))
            Calibration.objects.filter(pk=calibration_id, status=Calibration.Status.RUNNING).update(
                progress=Greatest(F("progress"), percent), updated_at=timezone.now()
            )
            written_at[0] = clock()

        return update

    return stage
