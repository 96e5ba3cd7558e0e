"""The clinic's thresholds: see them, calibrate them on the clinic's own ratings, apply a
proposal, or go back to the installation's settings. For clinic admins only."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from clients.access import get_visible_or_404
from clients.scoping import is_clinic_admin_of
from measures import calibration, calibration_runs, tasks, thresholds
from measures.evidence import rule_name
from measures.models import Calibration, ClinicThresholds, ThresholdChange

logger = logging.getLogger(__name__)

NOT_FOR_YOU = "The clinic's thresholds are for its clinic admins."
CALIBRATING = (
    "Calibrating on your clinic's ratings. This page shows how far it has got, and the "
    "proposal when it is done; you may leave it and come back."
)
DID_NOT_FINISH = (
    "The calibration did not finish. Try again; if it fails again, tell whoever runs "
    "Alliance for your clinic."
)
QUEUE_DOWN = (
    "The calibration could not be started: the task queue is unreachable. Nothing was "
    "changed; try again in a few minutes."
)
# How each threshold is named and shown on the page, in the order it is shown.
LABELS = {
    "sd": ("Spread of scores between clients (SD)", 2),
    "reliability": ("Session-to-session reliability (r)", 2),
    "reliable_change": ("Reliable change: a fall larger than this is unlikely to be chance", 2),
    "dimension_drop": ("Fall in one dimension since the last rating", 0),
    "trend_min_fall": ("Total fall of a slide", 1),
    "discrepancy": ("Therapist above the client by at least", 1),
}


def _require_clinic_admin(user: Any) -> None:
    if not is_clinic_admin_of(user, user.clinic_id):
        raise PermissionDenied(NOT_FOR_YOU)


def _shown(values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, label, value in words) for each threshold present."""
    rows = []
    for name, (label, places) in LABELS.items():
        if values.get(name) is not None:
            rows.append((name, label, f"{float(values[name]):.{places}f}"))
    return rows


def _rate_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per rule: concerns per therapist-week with the current and proposed values."""
    rates = result.get("rates", {})
    current, proposed = rates.get("current", {}), rates.get("proposed")
    rows = []
    for rule in calibration.rules_in(filter(None, [current, proposed])):
        rows.append(
            {
                "rule": "All concerns" if rule == "all" else rule_name(rule),
                "current": current.get(rule, 0.0),
                "proposed": None if proposed is None else proposed.get(rule, 0.0),
                "total": rule == "all",
            }
        )
    return rows


@login_required
@require_safe
def thresholds_page(request: HttpRequest) -> HttpResponse:
    """The clinic's thresholds now, the latest calibration (and one running or failed since),
    and the history of changes."""
    _require_clinic_admin(request.user)
    clinic = request.user.clinic
    in_use = thresholds.clinic_thresholds(clinic)
    current = thresholds.current_values(in_use) | {"reliable_change": in_use.reliable_change}
    own = ClinicThresholds.objects.filter(clinic=clinic).first()
    calibrations = Calibration.objects.visible_to(request.user).select_related("created_by")
    latest = calibrations.filter(status=Calibration.Status.DONE).first()
    attempt = calibrations.exclude(status=Calibration.Status.DONE).first()
    if attempt is not None and latest is not None and attempt.created_at < latest.created_at:
        attempt = None  # a failure since followed by a calibration that worked
    result = latest.result if latest else {}
    proposed = dict(result.get("proposed") or {})
    if proposed:
        proposed["reliable_change"] = result.get("proposed_reliable_change")
    # The button only where applying would be accepted (`thresholds_apply` asks the same).
    outdated = None
    if proposed and latest.applied_at is None:
        outdated = thresholds.proposal_outdated(latest, in_use)
    # The calibration's replay and curves keep the thresholds of when it was worked out:
    # "in use now" only while they still are (not once applied, reset or changed since).
    compared_in_use = (
        latest is not None and thresholds.compared_with_changed(latest, in_use) is False
    )
    compared_label = "In use now" if compared_in_use else "In use when calibrated"
    return render(
        request,
        "measures/thresholds.html",
        {
            "clinic": clinic,
            "current": _shown(current),
            "calibration": latest,
            "attempt": attempt,
            "running": attempt is not None and calibration_runs.is_running(attempt),
            "estimates": result.get("estimates", {}),
            "proposed": _shown(proposed),
            "outdated": outdated,
            "rate_rows": _rate_rows(result) if result else [],
            "compared_label": compared_label,
            "curves": [
                curve | {"current_label": compared_label} for curve in result.get("curves", [])
            ],
            "changes": ThresholdChange.objects.visible_to(request.user).select_related(
                "changed_by"
            )[:20],
            "labels": {name: label for name, (label, _places) in LABELS.items()},
            # With nothing of its own set, the clinic follows the settings: nothing to reset.
            "has_own_values": bool(own and own.overrides()),
        },
    )


@login_required
@require_POST
def calibrate(request: HttpRequest) -> HttpResponse:
    """Ask a worker to estimate the thresholds from the clinic's own ratings (no change
    until applied): a large clinic's calibration takes longer than a request may last."""
    _require_clinic_admin(request.user)
    try:
        run = calibration_runs.calibration_request(clinic=request.user.clinic, actor=request.user)
    except calibration_runs.CalibrationRunning as running:
        messages.info(request, f"{running} Its result will appear here when it is done.")
        return redirect("measures:thresholds")
    if not _queued(run.pk):
        calibration_runs.calibration_failed(run.pk)
        logger.warning("Could not queue calibration %s", run.pk)
        messages.error(request, QUEUE_DOWN)
        return redirect("measures:thresholds")
    run.refresh_from_db()
    if run.status == Calibration.Status.RUNNING:
        messages.info(request, CALIBRATING)
    elif run.status == Calibration.Status.FAILED:  # a worker that failed it at once
        messages.error(request, DID_NOT_FINISH)
    elif run.result.get("enough_data"):
        messages.success(request, "Calibrated on your clinic's ratings; review the proposal below.")
    else:
        messages.warning(request, " ".join(run.result["estimates"]["notes"]))
    return redirect("measures:thresholds")


def _queued(calibration_id: int) -> bool:
    """Queue the calibration for a worker; False if the broker would not take it."""
    if tasks.calibrate.app.conf.task_always_eager:
        tasks.calibrate.delay(calibration_id)  # no broker (`make run`): worked out here
        return True
    try:
        tasks.calibrate.delay(calibration_id)
    except Exception:  # refused, or a broker that takes the connection and says nothing
        return False
    return True


@login_required
@require_safe
def calibration_progress(request: HttpRequest, calibration_id: int) -> JsonResponse:
    """How far a calibration has got, for the page to follow it without reloading."""
    _require_clinic_admin(request.user)
    run = get_visible_or_404(Calibration.objects.visible_to(request.user), calibration_id)
    return JsonResponse(
        {"status": calibration_runs.status_of(run), "progress": run.progress},
        headers={"Cache-Control": "no-store"},
    )


@login_required
@require_POST
def apply_proposal(request: HttpRequest, calibration_id: int) -> HttpResponse:
    """Make a calibration's proposal the clinic's thresholds (one click, recorded)."""
    _require_clinic_admin(request.user)
    run = get_visible_or_404(Calibration.objects.visible_to(request.user), calibration_id)
    try:
        thresholds.thresholds_apply(calibration=run, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, "The proposed thresholds now apply to every new evaluation in your clinic."
        )
    return redirect("measures:thresholds")


@login_required
@require_POST
def reset(request: HttpRequest) -> HttpResponse:
    """Go back to the installation's settings."""
    _require_clinic_admin(request.user)
    try:
        thresholds.thresholds_reset(clinic=request.user.clinic, actor=request.user)
    except ValidationError as error:
        messages.info(request, " ".join(error.messages))
    else:
        messages.success(request, "Your clinic now follows the installation's default thresholds.")
    return redirect("measures:thresholds")
