"""Django admin for sessions and rating links: read-only for everyone, superusers included.

Sessions are the treating therapist's record and are written through the
session log pages (sessions/services.py), where numbering and caseload checks
happen; rating links are made, sent and voided there too (sessions/invitations.py).
"""

from __future__ import annotations

from django.contrib import admin

from clients.admin import ReadOnlyScopedAdmin
from sessions.models import RatingInvitation, Session


@admin.register(Session)
class SessionAdmin(ReadOnlyScopedAdmin):
    list_display = ["client", "number", "starts_at", "attendance", "modality", "therapist"]
    list_filter = ["attendance", "modality"]
    list_select_related = ["client", "therapist"]
    date_hierarchy = "starts_at"
    search_fields = ["client__label"]
    # Private notes are the therapist's alone: shown only on their own session pages,
    # to nobody in the admin (superusers included).
    exclude = ["notes"]


@admin.register(RatingInvitation)
class RatingInvitationAdmin(ReadOnlyScopedAdmin):
    list_display = ["session", "created_at", "expires_at", "used_at", "voided_at"]
    list_select_related = ["session__client"]
    exclude = ["token_hash"]
