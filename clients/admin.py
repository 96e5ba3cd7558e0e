"""Django admin for clinics, supervision and clients (staff accounts: accounts/admin.py).

Superusers (the people who run the installation) see everything. Every other
member of staff sees the admin through the same `visible_to(user)` scoping as
the app's pages; only a clinic admin may change anything, and only the
clinic's people, supervision links and client assignment.

Filters are an allow-list: a changelist answers only the filters it shows
(`list_filter`, `date_hierarchy`), never a lookup typed into the address, so no
one can probe a field the page does not show (a note, a comment) through
"1 result" / "0 results". Clinical free text is shown nowhere in the admin.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import BadRequest
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from alliance.fields import FORMFIELD_OVERRIDES
from clients.models import Client, Clinic, Supervision

# What a filter shown on a changelist may add to its own field's name.
FILTER_SUFFIXES = frozenset({"exact", "isnull", "in", "id__exact", "year", "month", "day"})
# The date hierarchy's parts, and the numbers each may be (Django would overflow on more).
DATE_PARTS = {"year": range(1, 10000), "month": range(1, 13), "day": range(1, 32)}


def is_clinic_member(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and getattr(user, "clinic_id", None))


def filter_names(model_admin: admin.ModelAdmin) -> set[str]:
    """The fields a changelist offers filters on: `list_filter` and `date_hierarchy`."""
    names = {entry[0] if isinstance(entry, tuple) else entry for entry in model_admin.list_filter}
    names = {name for name in names if isinstance(name, str)}
    if model_admin.date_hierarchy:
        names.add(model_admin.date_hierarchy)
    return names


def lookup_is_offered(model_admin: admin.ModelAdmin, lookup: str) -> bool:
    """Whether `lookup` is one the changelist's own filters make (allow-list, not deny-list)."""
    for name in filter_names(model_admin):
        if lookup == name or (
            lookup.startswith(f"{name}__") and lookup[len(name) + 2 :] in FILTER_SUFFIXES
        ):
            return True
    return False


def is_whole_number(value: Any) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def date_part_is_valid(lookup: str, value: Any) -> bool:
    """A date-hierarchy part (`starts_at__year=2025`) must be a real year, month or day."""
    part = lookup.rsplit("__", 1)[-1]
    if part not in DATE_PARTS:
        return True
    return is_whole_number(value) and int(value) in DATE_PARTS[part]


class HardenedAdminMixin:
    """Refuse (400) any changelist lookup that is not one of the page's own filters, or
    whose date part is no real date; read numbers, dates and record ids in the digits 0–9
    only, as every form here does."""

    formfield_overrides = FORMFIELD_OVERRIDES

    def lookup_allowed(self, lookup: str, value: Any, request: HttpRequest) -> bool:
        return lookup_is_offered(self, lookup) and date_part_is_valid(lookup, value)  # type: ignore[arg-type]

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        if from_field is None and not is_whole_number(object_id):
            return None  # "٥" is not record 5: the admin's "does not exist"
        return super().get_object(request, object_id, from_field)  # type: ignore[misc]

    def response_action(self, request: HttpRequest, queryset: models.QuerySet) -> Any:
        selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        if not all(is_whole_number(value) for value in selected):
            raise BadRequest("Select records by ticking them in the list.")
        return super().response_action(request, queryset)  # type: ignore[misc]


class ScopedAdmin(HardenedAdminMixin, admin.ModelAdmin):
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
class ClinicAdmin(HardenedAdminMixin, admin.ModelAdmin):
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


def view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
    """The admin's "view on site" link, through the model's admin and its scoping.

    Django's own (contenttypes' shortcut) finds the record unscoped, so its answer
    (on to the page, or 404) would tell anyone whether a record outside their scope
    exists. Here a record the viewer's admin would not show is the same 404 as none.
    """
    content_type = ContentType.objects.filter(pk=content_type_id).first()
    model = content_type.model_class() if content_type else None
    model_admin = admin.site._registry.get(model) if model else None
    if model_admin is None or not model_admin.has_view_permission(request):
        raise Http404("No such record.")
    record = model_admin.get_object(request, object_id)
    if record is None or not hasattr(record, "get_absolute_url"):
        raise Http404("No such record.")
    return HttpResponseRedirect(record.get_absolute_url())
