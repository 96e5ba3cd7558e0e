"""Django admin for clinics, supervision and clients (staff accounts: accounts/admin.py).

Superusers (the people who run the installation) see everything. Every other
member of staff sees the admin through the same `visible_to(user)` scoping as
the app's pages; only a clinic admin may change anything, and only the
clinic's people, supervision links and client assignment.

Every write here calls the service the app's pages call (`clients.services`),
so the admin keeps the same rules and leaves the same traces; what has no
service is read-only. A service's refusal is shown on the form, and nothing is
saved. Clinical records are never deleted.

Filters are an allow-list: a changelist answers only the filters it shows
(`list_filter`, `date_hierarchy`), never a lookup typed into the address, so no
one can probe a field the page does not show (a note, a comment) through
"1 result" / "0 results". Clinical free text is shown nowhere in the admin.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from alliance.fields import FORMFIELD_OVERRIDES, validate_visible_line
from clients import audit, services
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


class ServiceRefused(Exception):
    """A service refused an admin write (`error`: its ValidationError or PermissionDenied)."""

    def __init__(self, error: ValidationError | PermissionDenied) -> None:
        super().__init__(str(error))
        self.error = error


def add_service_error(form: forms.BaseForm, error: ValidationError | PermissionDenied) -> None:
    """Put a service's refusal on the field it names, or above the form."""
    if isinstance(error, PermissionDenied):
        form.add_error(None, str(error) or "You may not make this change.")
    elif hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


class ServiceWritesMixin:
    """Admin writes go through the services (`save_model` calls one and raises
    `ServiceRefused` when it refuses). A refusal rolls back the whole save — the change
    form runs in one transaction — and the form is shown again, as submitted, with the
    service's reason on it: a form error, never a 500."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except ServiceRefused as refused:
            # Nothing was saved; ask again, and the form answers with the refusal.
            request.service_refusal = refused.error  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form_class = names_as_stored(super().get_form(request, obj, **kwargs))  # type: ignore[misc]
        refusal = getattr(request, "service_refusal", None)
        if refusal is None:
            return form_class

        class RefusedForm(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> Any:
                cleaned = super().clean()
                add_service_error(self, refusal)
                return cleaned

        return RefusedForm


def names_as_stored(form_class: Any) -> Any:
    """The change form checking a label or name (`validate_visible_line`) only when it is
    changed, as the services do: one stored before names were checked must not stop a
    discharge, a role or a deactivation made on the same form (it is refused when written
    again)."""

    class NamesAsStored(form_class):  # type: ignore[misc, valid-type]
        def _get_validation_exclusions(self) -> set[str]:
            exclude = super()._get_validation_exclusions()
            if self.instance._state.adding:
                return exclude
            changed = set(self.changed_data)
            return exclude | {
                field.name
                for field in self.instance._meta.fields
                if field.name in self.fields
                and field.name not in changed
                and validate_visible_line in field.validators
            }

    return NamesAsStored


def same_record(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's `obj` the record a service saved: the admin goes on with `obj`
    (its history entry, the page it shows next)."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


class ScopedAdmin(ServiceWritesMixin, HardenedAdminMixin, admin.ModelAdmin):
    """Limit a model's admin to what the signed-in person may see.

    `clinic_admin_may_edit` opens writes to clinic admins; the rows they reach
    are still only their clinic's, because every lookup goes through
    `get_queryset`.
    """

    clinic_admin_may_edit = False
    # Foreign keys whose choices are limited to what the user may see.
    scoped_choices: dict[str, Any] = {}
    # Opening one record's page is recorded in the audit trail: these are clinical records
    # (a client, their sessions, links, ratings, signals, concerns). Supervision is not.
    audits_reads = True

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        # The page shows the record only once the scoped `get_object` found it: a record out
        # of scope is a redirect to the index and reads nothing, so it records nothing.
        self._record_read(request, response, "original")
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        self._record_read(request, response, "object")
        return response

    def _record_read(self, request: HttpRequest, response: HttpResponse, name: str) -> None:
        record = (getattr(response, "context_data", None) or {}).get(name)
        if self.audits_reads and request.method == "GET" and record is not None:
            audit.viewed(request, record, place="admin")

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


class ReadOnlyScopedAdmin(ScopedAdmin):
    """Scoped like every admin page, and never written through: these records are
    written by the app's own services (for the treating therapist), not here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The client's rights: how long records are kept after discharge (README).
RETENTION_FIELDS = ("retention_days_after_discharge", "keep_numbers_after_erasure")


@admin.register(Clinic)
class ClinicAdmin(ServiceWritesMixin, HardenedAdminMixin, admin.ModelAdmin):
    """Superusers add a clinic (`clinic_create`); its clinic admins (and superusers) rename
    it (`clinic_rename`). Its slug stays, and nobody deletes a clinic."""

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
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "slug"]
        return ["name", "slug", "created_at", *RETENTION_FIELDS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else ["slug", "created_at"]

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.prepopulated_fields if obj is None else {}

    def save_model(self, request: HttpRequest, obj: Clinic, form: Any, change: bool) -> None:
        name = form.cleaned_data["name"]
        try:
            if change:
                clinic = Clinic.objects.get(pk=obj.pk)
                clinic = services.clinic_rename(actor=request.user, clinic=clinic, name=name)
                clinic = services.clinic_retention_set(
                    actor=request.user,
                    clinic=clinic,
                    **{field: form.cleaned_data[field] for field in RETENTION_FIELDS},
                )
            else:
                clinic = services.clinic_create(
                    name=name, slug=form.cleaned_data["slug"], actor=request.user
                )
        except (ValidationError, PermissionDenied) as error:
            raise ServiceRefused(error) from error
        same_record(obj, clinic)


@admin.register(Supervision)
class SupervisionAdmin(ScopedAdmin):
    """Added (`supervision_create`) and ended (`supervision_end`), never edited: a link to
    another person is a new link."""

    audits_reads = False  # who supervises whom: the clinic's organisation, not a record

    clinic_admin_may_edit = True
    list_display = ["supervisor", "therapist", "created_at"]
    list_select_related = ["supervisor", "therapist"]
    fields = ["supervisor", "therapist"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Supervision, form: Any, change: bool) -> None:
        try:
            supervision = services.supervision_create(
                supervisor=form.cleaned_data["supervisor"],
                therapist=form.cleaned_data["therapist"],
                actor=request.user,
            )
        except ValidationError as error:
            raise ServiceRefused(error) from error
        same_record(obj, supervision)

    def delete_model(self, request: HttpRequest, obj: Supervision) -> None:
        services.supervision_end(actor=request.user, supervision=obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        with transaction.atomic():
            for supervision in queryset.select_related("supervisor"):
                services.supervision_end(actor=request.user, supervision=supervision)


CLIENT_DETAILS = ("label", "external_id", "email", "language")


@admin.register(Client)
class ClientAdmin(ScopedAdmin):
    """A clinic admin adds a client (`client_create`), changes their details or therapist
    (`client_update`), and discharges or re-opens them by their status (`client_discharge`,
    `client_reopen`, which keep the discharge date). Those services act for a clinic's
    staff, so a superuser, of no clinic, only reads; and nobody deletes a client."""

    clinic_admin_may_edit = True
    list_display = ["label", "therapist", "clinic", "language", "status", "created_at"]
    list_filter = ["status", "language"]
    list_select_related = ["therapist", "clinic"]
    search_fields = ["label", "external_id"]
    fields = [
        "label",
        "therapist",
        "clinic",
        "external_id",
        "email",
        "language",
        "status",
        "created_at",
        "discharged_at",
    ]
    readonly_fields = ["clinic", "created_at", "discharged_at"]

    def _may_edit(self, request: HttpRequest) -> bool:
        return is_clinic_member(request) and request.user.is_clinic_admin

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A client's sessions and ratings are clinical records: a client leaves by discharge.
        return False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A new client joins the therapist's clinic, active, today (client_create's rules).
        return ["therapist", *CLIENT_DETAILS] if obj is None else self.fields

    def save_model(self, request: HttpRequest, obj: Client, form: Any, change: bool) -> None:
        data = form.cleaned_data
        details = {name: data[name] for name in CLIENT_DETAILS}
        try:
            if not change:
                client = services.client_create(
                    actor=request.user, therapist=data["therapist"], **details
                )
            else:
                # The stored client, not the form's edited copy: who may change it is decided
                # by the therapist it has now.
                client = Client.objects.select_related("therapist").get(pk=obj.pk)
                if {"therapist", *CLIENT_DETAILS} & set(form.changed_data):
                    services.client_update(
                        actor=request.user, client=client, therapist=data["therapist"], **details
                    )
                if "status" in form.changed_data:
                    if data["status"] == Client.Status.DISCHARGED:
                        services.client_discharge(actor=request.user, client=client)
                    else:
                        services.client_reopen(actor=request.user, client=client)
        except (ValidationError, PermissionDenied) as error:
            raise ServiceRefused(error) from error
        same_record(obj, client)


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
