"""Each clinic's thresholds: read them (settings, then the clinic's own values) and change them.

Detection judges a client by their clinic's thresholds. A clinic that has set
nothing follows the installation's settings; a value it has set wins. Applying a
calibration's proposal is the one way a clinic admin changes them, and each change
is kept (`ThresholdChange`) with who, when, and the values before and after; the audit
trail names the thresholds that changed, not their values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clients import audit
from clients.models import AuditAction, Clinic, User
from clients.scoping import is_clinic_admin_of
from measures.history import Thresholds
from measures.models import CLINIC_THRESHOLDS, Calibration, ClinicThresholds, ThresholdChange


def thresholds_with(base: Thresholds, overrides: dict[str, Any]) -> Thresholds:
    """`base` with the clinic's own values in place (unknown names are ignored)."""
    known = {name: value for name, value in overrides.items() if name in CLINIC_THRESHOLDS}
    if "dimension_drop" in known:
        known["dimension_drop"] = int(known["dimension_drop"])
    return dataclasses.replace(base, **known)


def thresholds_for_clinics(clinic_ids: Iterable[int]) -> dict[int, Thresholds]:
    """Each clinic's thresholds, in one query; clinics without their own get the settings'."""
    base = Thresholds.from_settings()
    ids = set(clinic_ids)
    found = {
        row.clinic_id: thresholds_with(base, row.overrides())
        for row in ClinicThresholds.objects.filter(clinic_id__in=ids)
    }
    return {clinic_id: found.get(clinic_id, base) for clinic_id in ids}


def clinic_thresholds(clinic: Clinic | int) -> Thresholds:
    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    return thresholds_for_clinics([clinic_id])[clinic_id]


def current_values(thresholds: Thresholds) -> dict[str, float]:
    """The clinic-settable values of `thresholds`, for showing and for the change record."""
    return {name: getattr(thresholds, name) for name in CLINIC_THRESHOLDS}


NEWER_CALIBRATION = (
    "A newer calibration has been worked out since this page was opened: look at its "
    "proposal before applying one."
)
THRESHOLDS_CHANGED = (
    "The thresholds in use have changed since this calibration was worked out, so its "
    "comparison with them no longer holds: calibrate again for a proposal against them."
)

ALREADY_DEFAULTS = "Your clinic already follows the installation's default thresholds."


def proposal_outdated(calibration: Calibration, in_use: Thresholds | None = None) -> str | None:
    """Why a finished calibration's proposal may no longer be applied, or None.

    The page offers the latest calibration's proposal beside what it would raise compared
    with the thresholds in use when it was worked out. An older one, or one whose thresholds
    in use have changed since (another admin applied one or went back to the defaults, the
    installation's settings changed), can only be posted from a page left open: applying it
    would be a decision taken on numbers nobody is shown any more. `in_use`: the clinic's
    thresholds now, if already read."""
    newer = Calibration.objects.filter(
        Q(created_at__gt=calibration.created_at)
        | Q(created_at=calibration.created_at, pk__gt=calibration.pk),
        clinic_id=calibration.clinic_id,
        status=Calibration.Status.DONE,
    )
    if newer.exists():
        return NEWER_CALIBRATION
    if compared_with_changed(calibration, in_use):  # None: not known, so not refused
        return THRESHOLDS_CHANGED
    return None


def compared_with_changed(
    calibration: Calibration, in_use: Thresholds | None = None
) -> bool | None:
    """Whether the thresholds in use now differ from those `calibration` compared its
    proposal with (its "in use" numbers); None for one kept before calibrations said what
    they compared with. `in_use`: the clinic's thresholds now, if already read."""
    compared_with = calibration.result.get("current")
    if compared_with is None:
        return None
    now = current_values(in_use or clinic_thresholds(calibration.clinic_id))
    return any(compared_with.get(name) != value for name, value in now.items())


def _check_clinic_admin(actor: User, clinic_id: int) -> None:
    if not is_clinic_admin_of(actor, clinic_id):
        raise PermissionDenied("Only a clinic admin of this clinic can change its thresholds.")


def _lock_clinic(clinic_id: int) -> None:
    """Two admins changing the thresholds at once take turns, so the second judges (and
    records its 'before') after the first's change."""
    Clinic.objects.select_for_update().filter(pk=clinic_id).first()


@transaction.atomic
def thresholds_apply(*, calibration: Calibration, actor: User) -> ThresholdChange:
    """Make a calibration's proposal the clinic's thresholds, recording who and when."""
    _check_clinic_admin(actor, calibration.clinic_id)
    _lock_clinic(calibration.clinic_id)
    calibration = Calibration.objects.select_for_update().get(pk=calibration.pk)
    if calibration.status != Calibration.Status.DONE:
        raise ValidationError("This calibration has not finished: it has nothing to apply.")
    proposed = calibration.result.get("proposed") or {}
    if not calibration.result.get("enough_data") or not proposed:
        raise ValidationError("This calibration had too few ratings to propose thresholds.")
    if calibration.applied_at is not None:
        raise ValidationError("This proposal has already been applied.")
    if (outdated := proposal_outdated(calibration)) is not None:
        raise ValidationError(f"{outdated} Nothing was changed.")
    now = timezone.now()
    change = _thresholds_set(calibration.clinic_id, proposed, actor=actor, now=now)
    change.calibration = calibration
    change.save(update_fields=["calibration"])
    calibration.applied_at, calibration.applied_by = now, actor
    calibration.save(update_fields=["applied_at", "applied_by"])
    return change


@transaction.atomic
def thresholds_reset(*, clinic: Clinic, actor: User) -> ThresholdChange:
    """Go back to the installation's settings for every threshold."""
    _check_clinic_admin(actor, clinic.pk)
    _lock_clinic(clinic.pk)
    own = ClinicThresholds.objects.filter(clinic_id=clinic.pk).first()
    if own is None or not own.overrides():
        # A double click, or a page left open after another admin went back: nothing of
        # the clinic's own to go back from, so nothing is recorded as changed.
        raise ValidationError(ALREADY_DEFAULTS)
    return _thresholds_set(clinic.pk, {}, actor=actor, now=timezone.now(), replace=True)


def _thresholds_set(
    clinic_id: int, values: dict[str, Any], *, actor: User, now: Any, replace: bool = False
) -> ThresholdChange:
    row, _ = ClinicThresholds.objects.select_for_update().get_or_create(clinic_id=clinic_id)
    before = current_values(clinic_thresholds(clinic_id))
    for name in CLINIC_THRESHOLDS:
        if name in values:
            setattr(row, name, values[name])
        elif replace:
            setattr(row, name, None)
    row.updated_at, row.updated_by = now, actor
    row.full_clean()
    row.save()
    after = current_values(clinic_thresholds(clinic_id))
    # Recorded even when no value moved: applying or resetting is a decision, kept as a
    # ThresholdChange either way.
    changed = [name for name in CLINIC_THRESHOLDS if before[name] != after[name]]
    audit.written(actor, AuditAction.CHANGED, row, fields=changed, clinic_id=clinic_id)
    return ThresholdChange.objects.create(
        clinic_id=clinic_id, changed_at=now, changed_by=actor, before=before, after=after
    )
