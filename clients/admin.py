"""Django admin for clinics, staff, supervision and clients.

Superusers (the people who run the installation) see everything. Every other
member of staff sees the admin through the same `visible_to(user)` scoping as
the app's pages; only a clinic admin may change anything, and only the
clinic's people, supervision links and client assignment.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.http import HttpRequest

from clients.models import Client, Clinic, Supervision, User


def is_clinic_member(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and getattr(user, "clinic_id", None))


class ScopedAdmin(admin.ModelAdmin):
    """Limit a model's admin to what the signed-in person may see.

    `clinic_admin_may_edit` opens writes to clinic admins; the rows they reach
    are still only their clinic's, because every lookup goes through
    `get_queryset`.
    """

    clinic_admin_may_edit = False
    # Foreign keys whose choices are limited to what the user may see.
    scoped_choices: dict[str, Any] = {}

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.visible_to(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_clinic_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or is_clinic_member(request)

    def _may_edit(self, request: HttpRequest) -> bool:
        if request.user.is_superuser:
            return True
        return (
            self.clinic_admin_may_edit
            and is_clinic_member(request)
            and request.user.is_clinic_admin
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_edit(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            if db_field.related_model is Clinic:
                kwargs["queryset"] = Clinic.objects.filter(pk=request.user.clinic_id)
            elif hasattr(db_field.related_model.objects, "visible_to"):
                kwargs["queryset"] = db_field.related_model.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk=request.user.clinic_id)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_clinic_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or is_clinic_member(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or (
            is_clinic_member(request) and request.user.is_clinic_admin
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


@admin.register(User)
class UserAdmin(ScopedAdmin, DjangoUserAdmin):
    clinic_admin_may_edit = True
    list_display = [
        "username",
        "first_name",
        "last_name",
        "clinic",
        "is_therapist",
        "is_supervisor",
        "is_clinic_admin",
        "is_active",
    ]
    list_filter = ["clinic", "is_therapist", "is_supervisor", "is_clinic_admin", "is_active"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        (
            "Clinic and roles",
            {"fields": ("clinic", "is_therapist", "is_supervisor", "is_clinic_admin")},
        ),
        (
            "Access",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "password1", "password2")}),
        (
            "Clinic and roles",
            {"fields": ("clinic", "is_therapist", "is_supervisor", "is_clinic_admin", "is_staff")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(is_superuser=False)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        # A clinic admin manages the clinic's people, never installation-wide powers.
        hidden = {"is_superuser", "groups", "user_permissions"}
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]


@admin.register(Supervision)
class SupervisionAdmin(ScopedAdmin):
    clinic_admin_may_edit = True
    list_display = ["supervisor", "therapist", "created_at"]
    list_select_related = ["supervisor", "therapist"]


@admin.register(Client)
class ClientAdmin(ScopedAdmin):
    clinic_admin_may_edit = True
    list_display = ["label", "therapist", "clinic", "language", "status", "created_at"]
    list_filter = ["status", "language"]
    list_select_related = ["therapist", "clinic"]
    search_fields = ["label", "external_id"]
    readonly_fields = ["created_at", "discharged_at"]
