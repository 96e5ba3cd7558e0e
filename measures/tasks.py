"""Celery tasks for the alliance measures: detection and notifications.

Each task takes ids or nothing, loads what it needs and calls a service, so the
same code runs from beat, from `manage.py detect_alliance_drops` and in tests.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

# Database hiccups (a restart, a failover) are worth retrying; logic errors are not.
RETRY_ON = (OperationalError, InterfaceError)
logger = logging.getLogger(__name__)
# The morning e-mails: a few minutes' work, retried a little later if the database blinks.
NOTIFICATION_TASK = {
    "acks_late": True,
    "autoretry_for": RETRY_ON,
    "retry_backoff": 60,
    "max_retries": 3,
    "soft_time_limit": 10 * 60,
    "time_limit": 12 * 60,
}

# The sweep's planning and each of its chunks: a chunk of ALLIANCE_SWEEP_CHUNK_CLIENTS (500)
# takes seconds. The broker's visibility timeout (settings) must stay above this limit, or
# a slow chunk is delivered twice.
SWEEP_TASK = {
    "acks_late": True,
    "autoretry_for": RETRY_ON,
    "retry_backoff": 30,
    "max_retries": 3,
    "soft_time_limit": 4 * 60,
    "time_limit": 5 * 60,
}


@shared_task(
    name="measures.tasks.evaluate_client",
    acks_late=True,
    autoretry_for=RETRY_ON,
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def evaluate_client(client_id: int) -> int:
    """Evaluate one client after a new rating; returns how many concerns were opened."""
    from measures.detection import evaluate_clients

    return evaluate_clients([client_id]).concerns_opened


# Only the planning: picking the clients and refreshing the expected courses.
@shared_task(name="measures.tasks.sweep", **SWEEP_TASK)
def sweep() -> int:
    """Re-evaluate every client whose history changed, and the time-based rules: plan the
    sweep and queue its chunks, for as many workers as there are; returns how many.

    Without a broker (tests, `make run`) each chunk runs here, one after another. The
    chunks record their own completion, so no result backend (or chord) is needed."""
    from measures.sweeps import sweep_plan

    planned = sweep_plan()
    chunk_ids = list(planned.chunks.values_list("pk", flat=True))
    # sweep_plan committed: every chunk's row exists before a worker looks for it.
    for chunk_id in chunk_ids:
        sweep_chunk.delay(chunk_id)
    return len(chunk_ids)


@shared_task(name="measures.tasks.sweep_chunk", **SWEEP_TASK)
def sweep_chunk(chunk_id: int) -> int:
    """Evaluate one chunk of a sweep's clients; the last chunk done finishes the sweep.
    Returns how many concerns it opened."""
    from measures.sweeps import sweep_chunk_run

    return sweep_chunk_run(chunk_id).concerns_opened


@shared_task(
    name="measures.tasks.catch_up",
    acks_late=True,
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    max_retries=3,
    soft_time_limit=8 * 60,
    time_limit=9 * 60,
)
def catch_up() -> int:
    """Between nightly sweeps, evaluate whatever changed since the last sweep or catch-up:
    above all the ratings whose own evaluation could not be queued (the broker was down),
    so they are judged minutes after it returns, not the next night. Only what changed in
    those minutes is read, so it costs little however often it runs.

    Not beside a sweep still at work (the nightly one, a first one, a long catch-up): it
    would do that sweep's work again. The next catch-up after it finishes starts from it."""
    from measures.sweeps import sweep_at_work, sweep_run

    at_work = sweep_at_work(timezone.now())
    if at_work is not None:
        logger.info("Catch-up skipped: sweep %s is still at work", at_work.pk)
        return 0
    return sweep_run(refresh_courses=False).concerns_opened


@shared_task(
    name="measures.tasks.clinic_tracks_copy",
    acks_late=True,
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    max_retries=3,
    soft_time_limit=5 * 60,
    time_limit=6 * 60,
)
def clinic_tracks_copy(clinic_id: int) -> int:
    """Write the clinic's clients' copies of their latest score and track again, after the
    clinic changed the instrument its clients answer (the dashboard reads the copies);
    returns how many clients. 500 clients a statement: a clinic of 25,000 takes seconds."""
    from clients.models import Client
    from measures.models import copy_evaluated_to_clients

    clients = Client.objects.filter(clinic_id=clinic_id).values_list("pk", flat=True)
    return copy_evaluated_to_clients(clients)


@shared_task(name="measures.tasks.send_concern_digests", **NOTIFICATION_TASK)
def send_concern_digests() -> int:
    """E-mail each therapist the concerns opened (or grown more severe) since their last digest."""
    from measures.notifications import digests_send

    return digests_send()


@shared_task(name="measures.tasks.escalate_unacknowledged_concerns", **NOTIFICATION_TASK)
def escalate_unacknowledged_concerns() -> int:
    """Tell supervisors about concerns left unacknowledged too long."""
    from measures.notifications import escalations_send

    return escalations_send()


@shared_task(
    name="measures.tasks.erase_past_retention",
    acks_late=True,
    autoretry_for=RETRY_ON,
    retry_backoff=60,
    max_retries=3,
    soft_time_limit=30 * 60,
    time_limit=35 * 60,
)
def erase_past_retention() -> dict[str, int]:
    """Anonymise discharged clients past their clinic's retention period; how many, per clinic."""
    from measures.retention import retention_erase

    return retention_erase()


class CalibrationTask(Task):
    """A calibration whose retries are spent (the database away for minutes) is marked
    failed as the task gives up, if the database is back by then; else its page calls it
    failed once it has been running too long (`measures.calibration_runs.STALE_AFTER`)."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        from measures.calibration_runs import calibration_failed

        try:
            calibration_failed(kwargs.get("calibration_id", args[0] if args else 0))
        except RETRY_ON:
            logger.warning("Calibration task %s failed; the database is still away", task_id)


# A clinic of 25,000 clients takes half a minute; the limits leave room for ten times that,
# under the broker's visibility timeout (15 minutes), so it is never delivered twice at once.
@shared_task(
    name="measures.tasks.calibrate",
    base=CalibrationTask,
    acks_late=True,
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    max_retries=3,
    soft_time_limit=10 * 60,
    time_limit=12 * 60,
)
def calibrate(calibration_id: int) -> str:
    """Work out the calibration a clinic admin asked for; returns how it ended. An error
    other than the database's (which is retried) fails it, so its page says so."""
    from measures.calibration_runs import calibration_complete, calibration_failed

    try:
        return calibration_complete(calibration_id).status
    except RETRY_ON:
        raise
    except BaseException:  # its time limit too (SoftTimeLimitExceeded)
        calibration_failed(calibration_id)
        raise
