"""Django admin for ratings, flags and sweeps: read-only except for superusers.

Flags move through the review queue's services, which keep who did what and when.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from clients.admin import ScopedAdmin, is_clinic_member
from measures.models import Flag, FlagEvent, Rating, Sweep


@admin.register(Rating)
class RatingAdmin(ScopedAdmin):
    list_display = ["session", "rater", "alliance_score", "rupture", "submitted_at"]
    list_filter = ["rater", "rupture"]
    list_select_related = ["session__client"]


class FlagEventInline(admin.TabularInline):
    model = FlagEvent
    extra = 0
    fields = ["at", "action", "actor", "note"]
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The flag itself was reached through the scoped FlagAdmin; its history goes with it.
        return request.user.is_superuser or is_clinic_member(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Flag)
class FlagAdmin(ScopedAdmin):
    list_display = ["client", "session", "rule", "severity", "status", "created_at"]
    list_filter = ["rule", "severity", "status"]
    list_select_related = ["client", "session"]
    inlines = [FlagEventInline]


@admin.register(Sweep)
class SweepAdmin(admin.ModelAdmin):
    """The detection sweeps' log, for the people who run the installation."""

    list_display = ["started_at", "finished_at", "clients_evaluated", "flags_created"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
