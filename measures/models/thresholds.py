"""Each clinic's own thresholds, the calibrations that propose them, and who changed them.

A clinic starts on the installation's settings (ALLIANCE_*). A calibration
estimates the scale's spread and reliability from the clinic's own ratings and
proposes thresholds; a clinic admin applies a proposal, and the change is kept
with who and when. Only the numbers are stored: no client, no score.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.scoping import ScopedQuerySet, clinic_admin_q

# The thresholds a clinic may set for itself; everything else comes from the settings.
CLINIC_THRESHOLDS = ("sd", "reliability", "dimension_drop", "trend_min_fall", "discrepancy")


class ClinicThresholdsQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> ClinicThresholdsQuerySet:
        return self.scoped(clinic_admin_q(user))


class ClinicThresholds(models.Model):
    """A clinic's own values; an empty field falls back to the installation's setting."""

    clinic = models.OneToOneField(
        "clients.Clinic", on_delete=models.CASCADE, related_name="thresholds"
    )
    sd = models.FloatField(
        "spread of scores (SD)", null=True, blank=True, help_text="For the reliable-change index."
    )
    reliability = models.FloatField(
        "session-to-session reliability (r)",
        null=True,
        blank=True,
        help_text="For the reliable-change index.",
    )
    dimension_drop = models.PositiveSmallIntegerField(
        "fall in one dimension", null=True, blank=True
    )
    trend_min_fall = models.FloatField("total fall of a slide", null=True, blank=True)
    discrepancy = models.FloatField("therapist above client by", null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ClinicThresholdsQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "clinic thresholds"
        constraints = [
            models.CheckConstraint(
                condition=Q(sd__isnull=True) | Q(sd__gt=0, sd__lte=10), name="thresholds_sd_range"
            ),
            models.CheckConstraint(
                condition=Q(reliability__isnull=True) | Q(reliability__gte=0, reliability__lt=1),
                name="thresholds_reliability_range",
            ),
            models.CheckConstraint(
                condition=Q(dimension_drop__isnull=True)
                | Q(dimension_drop__gte=1, dimension_drop__lte=10),
                name="thresholds_dimension_drop_range",
            ),
            models.CheckConstraint(
                condition=Q(trend_min_fall__isnull=True)
                | Q(trend_min_fall__gte=0, trend_min_fall__lte=10),
                name="thresholds_trend_min_fall_range",
            ),
            models.CheckConstraint(
                condition=Q(discrepancy__isnull=True) | Q(discrepancy__gt=0, discrepancy__lte=10),
                name="thresholds_discrepancy_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Thresholds of {self.clinic}"

    def overrides(self) -> dict[str, Any]:
        """The values this clinic has set (the rest follow the settings)."""
        values = {name: getattr(self, name) for name in CLINIC_THRESHOLDS}
        return {name: value for name, value in values.items() if value is not None}


class CalibrationQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> CalibrationQuerySet:
        return self.scoped(clinic_admin_q(user))


class CalibrationStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Calibration(models.Model):
    """One calibration of a clinic's thresholds from its own ratings, and its proposal.

    Asked for on the Thresholds page, it is worked out by a worker (a large clinic's takes
    half a minute or more, longer than a web request may last): running until it is done
    or has failed, at most one running per clinic."""

    Status = CalibrationStatus

    clinic = models.ForeignKey(
        "clients.Clinic", on_delete=models.CASCADE, related_name="calibrations"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=CalibrationStatus.choices, default=CalibrationStatus.DONE
    )
    # How far a running calibration has got, in per cent (for the page's progress bar).
    progress = models.PositiveSmallIntegerField(default=0)
    # Its last sign of life while running: asked for, taken up by a worker, or progress.
    updated_at = models.DateTimeField(default=timezone.now)
    # How many times a worker has taken it up (a worker lost mid-way hands it to another).
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when run from the command line.",
    )
    # Everything the page shows: the estimates, the current and proposed thresholds,
    # what each rule would have raised, and the curves. Aggregates only.
    result = models.JSONField(default=dict)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = CalibrationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        constraints = [
            # Two admins clicking at once, or one clicking twice, start one calibration.
            models.UniqueConstraint(
                fields=["clinic"],
                condition=Q(status=CalibrationStatus.RUNNING),
                name="calibration_one_running_per_clinic",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CalibrationStatus.values),
                name="calibration_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="calibration_progress_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return f"Calibration of {self.clinic} on {self.created_at:%Y-%m-%d}"


class ThresholdChangeQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> ThresholdChangeQuerySet:
        return self.scoped(clinic_admin_q(user))


class ThresholdChange(models.Model):
    """A change to a clinic's thresholds: who, when, from what to what, and why."""

    clinic = models.ForeignKey(
        "clients.Clinic", on_delete=models.CASCADE, related_name="threshold_changes"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    calibration = models.ForeignKey(
        Calibration, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)

    objects = ThresholdChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"Thresholds of {self.clinic} changed {self.changed_at:%Y-%m-%d %H:%M}"
