"""Django admin for ratings and flags: read-only except for superusers.

Flags move through the review queue's services, which keep who did what and when.
"""

from __future__ import annotations

from django.contrib import admin

from clients.admin import ScopedAdmin
from measures.models import Flag, Rating


@admin.register(Rating)
class RatingAdmin(ScopedAdmin):
    list_display = ["session", "rater", "alliance_score", "rupture", "submitted_at"]
    list_filter = ["rater", "rupture"]
    list_select_related = ["session__client"]


@admin.register(Flag)
class FlagAdmin(ScopedAdmin):
    list_display = ["client", "session", "rule", "severity", "status", "created_at"]
    list_filter = ["rule", "severity", "status"]
    list_select_related = ["client", "session"]
