"""Django admin for ratings, signals, concerns, sweeps and thresholds: read-only for everyone,
superusers included.

Concerns move through the review services (acknowledge, resolve, dismiss), which
keep who did what and when; thresholds change through the calibration page,
which keeps who changed them. So the admin only shows them — to superusers
everything, to other staff what the app's scoping lets them see.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from clients.admin import HardenedAdminMixin, ReadOnlyScopedAdmin, is_clinic_member
from measures.models import (
    Calibration,
    ClinicThresholds,
    Concern,
    ConcernEvent,
    Flag,
    Rating,
    Sweep,
    ThresholdChange,
)


@admin.register(Rating)
class RatingAdmin(ReadOnlyScopedAdmin):
    """Ratings are submitted by the client's link and the therapist's page (measures/services.py),
    once each; their history is never rewritten."""

    list_display = ["session", "rater", "alliance_score", "rupture", "submitted_at"]
    list_filter = ["rater", "rupture"]
    list_select_related = ["session__client"]
    # The client's own words stay on the pages of those who treat and supervise them.
    exclude = ["comment"]


@admin.register(Flag)
class FlagAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "client",
        "session",
        "rule",
        "severity",
        "concern",
        "created_at",
        "withdrawn_at",
    ]
    list_filter = ["rule", "severity"]
    # Each row names its session and concern, and each of those names the client.
    list_select_related = ["client", "session__client", "concern__client"]


class ConcernEventInline(admin.TabularInline):
    model = ConcernEvent
    extra = 0
    # The review notes are clinical free text: the concern page shows them, the admin not.
    fields = ["at", "action", "severity", "actor"]
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The concern was reached through the scoped ConcernAdmin; its history goes with it.
        return request.user.is_superuser or is_clinic_member(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Concern)
class ConcernAdmin(ReadOnlyScopedAdmin):
    list_display = ["client", "status", "severity", "opened_at", "closed_at"]
    list_filter = ["status", "severity"]
    list_select_related = ["client"]
    inlines = [ConcernEventInline]
    exclude = ["note"]


class SuperuserOnlyAdmin(HardenedAdminMixin, admin.ModelAdmin):
    """For the people who run the installation: read-only logs and settings."""

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        # Nobody else reaches these rows, not even by an id typed into the address.
        return queryset if request.user.is_superuser else queryset.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Sweep)
class SweepAdmin(SuperuserOnlyAdmin):
    """The detection sweeps' log."""

    list_display = [
        "started_at",
        "finished_at",
        "clients_evaluated",
        "flags_created",
        "concerns_opened",
        "signals_withdrawn",
    ]


@admin.register(ClinicThresholds)
class ClinicThresholdsAdmin(SuperuserOnlyAdmin):
    list_display = ["clinic", "sd", "reliability", "dimension_drop", "trend_min_fall", "updated_at"]
    list_select_related = ["clinic"]


@admin.register(Calibration)
class CalibrationAdmin(SuperuserOnlyAdmin):
    list_display = ["clinic", "created_at", "created_by", "applied_at", "applied_by"]
    list_select_related = ["clinic", "created_by", "applied_by"]


@admin.register(ThresholdChange)
class ThresholdChangeAdmin(SuperuserOnlyAdmin):
    list_display = ["clinic", "changed_at", "changed_by", "calibration"]
    list_select_related = ["clinic", "changed_by", "calibration__clinic"]
