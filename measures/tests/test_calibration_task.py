"""A calibration is asked for on the page and worked out by a worker: one running per
clinic, its progress on the page, a failure said plainly, a lost one given up on, and a
real worker doing the work through Redis."""

from __future__ import annotations

import datetime as dt
import re
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from alliance.celery import app as celery_app
from clients.models import AuditEntry, Clinic, User
from conftest import celery_broker, visible_text
from measures import calibration, calibration_runs
from measures.calibration import READING, REPLAYING
from measures.calibration_runs import (
    STALE_AFTER,
    CalibrationRunning,
    calibration_complete,
    calibration_request,
)
from measures.models import Calibration, ClinicThresholds
from measures.tests.test_calibration import clinic_of_ratings

pytestmark = pytest.mark.django_db

PAGE = reverse("measures:thresholds")
CALIBRATE = reverse("measures:thresholds-calibrate")
RUNNING = Calibration.Status.RUNNING


def progress_url(run: Calibration) -> str:
    return reverse("measures:thresholds-progress", args=[run.pk])


# --- The services ------------------------------------------------------------------------


def test_asking_records_a_running_calibration_with_nothing_worked_out_yet(
    rated: Clinic, clinic_admin: User
) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    assert (run.status, run.progress, run.result, run.finished_at) == (RUNNING, 0, {}, None)
    assert AuditEntry.objects.filter(action="created", object_id=str(run.pk)).exists()


def test_while_one_runs_asking_again_starts_nothing(rated: Clinic, clinic_admin: User) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    with pytest.raises(CalibrationRunning, match="already running") as refused:
        calibration_request(clinic=rated, actor=clinic_admin)
    assert refused.value.running == run
    assert Calibration.objects.count() == 1


def test_the_database_holds_one_running_calibration_per_clinic(
    rated: Clinic, clinic_admin: User
) -> None:
    calibration_request(clinic=rated, actor=clinic_admin)
    with pytest.raises(IntegrityError), transaction.atomic():
        Calibration.objects.create(clinic=rated, status=RUNNING)


def test_a_calibration_lost_long_ago_is_failed_and_another_starts(
    rated: Clinic, clinic_admin: User
) -> None:
    asked = timezone.now() - STALE_AFTER - dt.timedelta(minutes=1)
    lost = calibration_request(clinic=rated, actor=clinic_admin, now=asked)
    assert not calibration_runs.is_running(lost)
    run = calibration_request(clinic=rated, actor=clinic_admin)
    lost.refresh_from_db()
    assert lost.status == Calibration.Status.FAILED and lost.finished_at is not None
    assert run.status == RUNNING


def test_working_it_out_keeps_the_result_and_twice_changes_nothing(
    rated: Clinic, clinic_admin: User
) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    done = calibration_complete(run.pk)
    assert done.status == Calibration.Status.DONE and done.progress == 100
    assert done.result["enough_data"] and done.result["curves"]
    assert done.finished_at is not None
    again = calibration_complete(run.pk)  # the task delivered a second time
    assert (again.result, again.finished_at) == (done.result, done.finished_at)


def test_a_failed_calibration_is_left_as_it_is(rated: Clinic, clinic_admin: User) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    calibration_runs.calibration_failed(run.pk)
    assert calibration_complete(run.pk).status == Calibration.Status.FAILED
    assert Calibration.objects.get().result == {}


def test_a_running_calibration_writes_its_progress_every_few_seconds(
    rated: Clinic, clinic_admin: User
) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    now = [0.0]
    stages = calibration_runs._recorded(run.pk, clock=lambda: now[0])

    def progress() -> int:
        return Calibration.objects.values_list("progress", flat=True).get(pk=run.pk)

    asked = Calibration.objects.get(pk=run.pk).updated_at
    reading = stages(READING, 1000)
    reading(500)
    assert progress() == 0  # not yet: at most one write every PROGRESS_EVERY seconds
    now[0] += calibration_runs.PROGRESS_EVERY
    reading(500)
    assert progress() == 20  # half of the reading, which is the first 40 %
    assert Calibration.objects.get(pk=run.pk).updated_at > asked  # a sign of life
    replaying = stages(REPLAYING, 1000)
    now[0] += calibration_runs.PROGRESS_EVERY
    replaying(1000)
    assert progress() == 99  # 100 only once the result is kept
    # Another attempt starts again from nothing: the bar never moves back.
    again = calibration_runs._recorded(run.pk, clock=lambda: now[0])
    now[0] += calibration_runs.PROGRESS_EVERY
    again(READING, 1000)(10)
    assert progress() == 99
    # One that has ended is left alone by an attempt still at work.
    calibration_complete(run.pk)
    now[0] += calibration_runs.PROGRESS_EVERY
    again(REPLAYING, 1000)(10)
    assert progress() == 100


# --- The page ----------------------------------------------------------------------------


def test_asking_on_the_page_without_a_broker_works_it_out_at_once(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    client.force_login(clinic_admin)
    html = client.post(CALIBRATE, follow=True).content.decode()
    assert "review the proposal below" in html and "Apply the proposal" in html
    assert Calibration.objects.get().status == Calibration.Status.DONE


def test_a_running_calibration_shows_its_progress_and_no_second_button(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    Calibration.objects.filter(pk=run.pk).update(progress=35)
    client.force_login(clinic_admin)
    html = client.get(PAGE).content.decode()
    text = " ".join(visible_text(html).split())
    assert "Calibrating since" in text and "35 % done" in text
    assert re.search(r'<progress[^>]*max="100" value="35"', html)
    assert progress_url(run) in html and "js/calibration-progress.js" in html
    assert "Calibrate now" not in html
    assert client.get(progress_url(run)).json() == {"status": "running", "progress": 35}


def test_asking_while_one_runs_says_so_and_starts_nothing(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    calibration_request(clinic=rated, actor=clinic_admin)
    client.force_login(clinic_admin)
    text = visible_text(client.post(CALIBRATE, follow=True).content.decode())
    assert "already running" in text and "Its result will appear here" in text
    assert Calibration.objects.count() == 1


def test_the_progress_of_a_finished_or_lost_calibration_says_it_has_ended(
    client: Any, clinic_admin: User, rated: Clinic, other_clinic: Clinic
) -> None:
    lost = calibration_request(
        clinic=rated, actor=clinic_admin, now=timezone.now() - STALE_AFTER * 2
    )
    client.force_login(clinic_admin)
    assert client.get(progress_url(lost)).json()["status"] == "failed"  # lost: given up on
    assert calibration_complete(lost.pk).status == Calibration.Status.FAILED  # late: not run
    run = calibration_request(clinic=rated, actor=clinic_admin)
    calibration_complete(run.pk)
    assert client.get(progress_url(run)).json() == {"status": "done", "progress": 100}


def test_lost_is_counted_from_the_last_sign_of_life_not_from_the_asking(
    rated: Clinic, clinic_admin: User
) -> None:
    """A calibration that waited long for a worker, or took long, is not lost while it is
    heard from."""
    long_ago = timezone.now() - STALE_AFTER * 2
    run = calibration_request(clinic=rated, actor=clinic_admin, now=long_ago)
    Calibration.objects.filter(pk=run.pk).update(updated_at=timezone.now())
    run.refresh_from_db()
    assert calibration_runs.is_running(run)
    with pytest.raises(CalibrationRunning):
        calibration_request(clinic=rated, actor=clinic_admin)
    assert calibration_complete(run.pk).status == Calibration.Status.DONE


def test_a_calibration_whose_worker_is_lost_again_and_again_fails(
    rated: Clinic, clinic_admin: User
) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    # Taken up this many times already, each time its worker killed (for its memory, say).
    Calibration.objects.filter(pk=run.pk).update(attempts=calibration_runs.MAX_ATTEMPTS)
    done = calibration_complete(run.pk)
    assert done.status == Calibration.Status.FAILED and done.result == {}


def test_each_attempt_is_counted(rated: Clinic, clinic_admin: User) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    assert calibration_complete(run.pk).attempts == 1


def test_another_clinics_calibration_has_no_progress_to_see(
    client: Any, clinic_admin: User, other_clinic: Clinic
) -> None:
    theirs = Calibration.objects.create(clinic=other_clinic, status=RUNNING)
    client.force_login(clinic_admin)
    assert client.get(progress_url(theirs)).status_code == 404
    assert client.get("/thresholds/calibrations/999999/progress/").status_code == 404


def test_a_calibration_that_fails_says_so_and_may_be_asked_for_again(
    client: Any, clinic_admin: User, rated: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the replay broke")

    monkeypatch.setattr(calibration, "calibration_result", broken)
    client.force_login(clinic_admin)
    with pytest.raises(RuntimeError):  # tasks run here propagate their errors
        client.post(CALIBRATE)
    assert Calibration.objects.get().status == Calibration.Status.FAILED  # not left running
    html = client.get(PAGE).content.decode()
    assert "did not finish. Try again" in visible_text(html) and "Calibrate now" in html
    monkeypatch.undo()
    client.post(CALIBRATE)
    assert "did not finish" not in client.get(PAGE).content.decode()  # the next one worked


def test_a_worker_that_fails_it_at_once_is_said_plainly(
    client: Any, clinic_admin: User, rated: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page reads the calibration again after queuing it: a worker may have failed it
    already (before, this was a 500)."""
    from measures import tasks

    with celery_broker("memory://"):
        monkeypatch.setattr(tasks.calibrate, "delay", calibration_runs.calibration_failed)
        client.force_login(clinic_admin)
        text = visible_text(client.post(CALIBRATE, follow=True).content.decode())
    assert "The calibration did not finish. Try again" in text
    assert Calibration.objects.get().status == Calibration.Status.FAILED


def test_a_broker_outage_fails_the_calibration_and_says_so(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    client.force_login(clinic_admin)
    # Nothing listens on port 1: the broker is down.
    with celery_broker("redis://127.0.0.1:1/0", task_publish_retry=False):
        text = visible_text(client.post(CALIBRATE, follow=True).content.decode())
    assert "could not be started: the task queue is unreachable" in text
    assert Calibration.objects.get().status == Calibration.Status.FAILED
    assert "Calibrate now" in client.get(PAGE).content.decode()


# --- The command -------------------------------------------------------------------------


def test_the_command_shows_each_stages_progress_on_stderr(
    rated: Clinic, capsys: pytest.CaptureFixture[str]
) -> None:
    out = StringIO()
    call_command("calibrate_thresholds", "--clinic", str(rated.pk), stdout=out)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("Reading the histories: 25 of 25 clients in ")
    assert lines[-1].startswith(f"Replaying the last 12 weeks: {25 * 29} of {25 * 29} client")
    assert "Reading" not in out.getvalue() and "Riverside: 25 clients" in out.getvalue()
    assert Calibration.objects.get().status == Calibration.Status.DONE


def test_a_calibration_from_the_command_line_shows_its_progress_on_the_page_too(
    rated: Clinic, clinic_admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calibration_runs, "PROGRESS_EVERY", 0.0)
    seen: list[int] = []
    original = calibration.calibration_result

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(Calibration.objects.get().progress)  # the reading is over: 40 %
        return original(*args, **kwargs)

    monkeypatch.setattr(calibration, "calibration_result", watched)
    call_command("calibrate_thresholds", "--clinic", str(rated.pk), stdout=StringIO())
    assert seen == [40]


def test_the_command_refuses_while_a_calibration_runs(rated: Clinic, clinic_admin: User) -> None:
    calibration_request(clinic=rated, actor=clinic_admin)
    with pytest.raises(CommandError, match="already running"):
        call_command("calibrate_thresholds", "--clinic", str(rated.pk), stderr=StringIO())
    assert Calibration.objects.count() == 1


# --- A real worker -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_works_out_the_calibration_asked_for_on_the_page(
    client: Any, clinic_admin: User, therapist: User, redis_url: str
) -> None:
    from celery.contrib.testing.worker import start_worker

    clinic_of_ratings(therapist)
    client.force_login(clinic_admin)
    with celery_broker(redis_url):
        text = visible_text(client.post(CALIBRATE, follow=True).content.decode())
        assert "This page shows how far it has got" in text and "Calibrating since" in text
        run = Calibration.objects.get()
        assert run.status == RUNNING  # queued, not worked out in the request
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            deadline = time.monotonic() + 30
            while (
                time.monotonic() < deadline
                and client.get(progress_url(run)).json()["status"] == "running"
            ):
                time.sleep(0.2)
    run.refresh_from_db()
    assert run.status == Calibration.Status.DONE and run.result["enough_data"]
    html = client.get(PAGE).content.decode()
    assert "Apply the proposal" in html and "Calibrating since" not in html


@pytest.mark.parametrize("ended", [None, "failed"])
def test_a_calibration_not_done_has_nothing_to_apply(
    client: Any, clinic_admin: User, rated: Clinic, ended: str | None
) -> None:
    run = calibration_request(clinic=rated, actor=clinic_admin)
    if ended:
        calibration_runs.calibration_failed(run.pk)
    client.force_login(clinic_admin)
    apply = reverse("measures:thresholds-apply", args=[run.pk])
    text = visible_text(client.post(apply, follow=True).content.decode())
    assert "has not finished: it has nothing to apply" in text
    assert not ClinicThresholds.objects.exists()
