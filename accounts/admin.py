"""Staff accounts in the Django admin, for superusers and clinic admins.

Nobody sets another person's password here: the password page is gone, a new
colleague is created without one, and a clinic admin sends a link with which
the colleague chooses their own (a reset link does the same for someone who
forgot theirs). A colleague's e-mail address, once they have signed in, is
theirs to change on their own account page, after giving their password again.

A colleague is added with `staff_create` (clients/services.py) and changed with
`staff_change` (accounts/staff.py): roles and access under the staff pages' own rules (no
one deactivated or stripped of the therapist role while they hold clients, the clinic never
left without an admin, a leaver's sessions and API tokens ended), the rest through
`staff_update`. The list's actions call accounts/services.py. Nobody is deleted: a
colleague who leaves is made inactive, and their sessions, ratings and reviews keep their
name.

Django's groups and permissions are not offered: what a person may do follows from their
roles and clinic (clients/scoping.py), and nothing here asks for a Django permission, so a
grant would only have opened screens meant for superusers, beside the services and the
audit trail.
"""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services, staff
from clients import services as clients_services
from clients.admin import HardenedAdminMixin, ScopedAdmin, ServiceRefused, same_record
from clients.models import User

NEW_COLLEAGUE_FIELDS = (
    "clinic",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_therapist",
    "is_supervisor",
    "is_clinic_admin",
    "is_staff",
)


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
        "locked_out",
    ]
    # Only the clinics the viewer can see rows of (their own, for a clinic admin).
    list_filter = [
        ("clinic", admin.RelatedOnlyFieldListFilter),
        "is_therapist",
        "is_supervisor",
        "is_clinic_admin",
        "is_active",
    ]
    fieldsets = (
        (None, {"fields": ("username",)}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        (
            "Clinic and roles",
            {"fields": ("clinic", "is_therapist", "is_supervisor", "is_clinic_admin")},
        ),
        (
            "Access",
            {"fields": ("is_active", "is_staff", "is_superuser")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "first_name", "last_name", "email")}),
        (
            "Clinic and roles",
            {"fields": ("clinic", "is_therapist", "is_supervisor", "is_clinic_admin", "is_staff")},
        ),
    )
    readonly_fields = ["last_login", "date_joined"]
    actions = ["send_password_links", "unlock_sign_in", "remove_two_factor"]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        cutoff = timezone.now() - settings.AXES_COOLOFF_TIME
        queryset = queryset.annotate(
            _locked_out=Exists(
                AccessAttempt.objects.filter(
                    username=OuterRef("username"),
                    failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
                    attempt_time__gte=cutoff,
                )
            )
        )
        if request.user.is_superuser:
            return queryset
        return queryset.filter(is_superuser=False)

    @admin.display(boolean=True, description="Locked out")
    def locked_out(self, user: User) -> bool:
        return bool(getattr(user, "_locked_out", False))

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            # The add form names the person; a password is theirs to choose, by e-mailed link.
            kwargs["form"] = admin.ModelAdmin.form
        return super().get_form(request, obj, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A colleague who leaves is made inactive: their sessions and reviews keep their name.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and (obj.has_usable_password() or obj.pk == request.user.pk):
            # An address is its owner's, changed on their account page after their password:
            # changing it here would send their next reset link to whoever changed it. Only a
            # colleague who has not yet chosen a password can have a mistyped address fixed.
            fields.append("email")
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        # A clinic admin manages the clinic's people, never installation-wide powers.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "is_superuser"]})
            for name, options in fieldsets
        ]

    def get_urls(self) -> list[Any]:
        # No page sets another person's password (DjangoUserAdmin adds `<id>/password/`).
        return [url for url in super().get_urls() if url.name != "auth_user_password_change"]

    def user_change_password(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise Http404("Nobody sets another person's password.")

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            if change:
                member = staff.staff_change(
                    actor=request.user,
                    member=User.objects.get(pk=obj.pk),
                    data={name: data[name] for name in form.changed_data},
                )
            else:
                member = clients_services.staff_create(
                    password=None,
                    actor=request.user,
                    **{name: data[name] for name in NEW_COLLEAGUE_FIELDS},
                )
        except (ValidationError, PermissionDenied) as error:
            raise ServiceRefused(error) from error
        same_record(obj, member)

    def response_add(
        self, request: HttpRequest, obj: User, post_url_continue: Any = None
    ) -> HttpResponse:
        self._send_link(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def _send_link(self, request: HttpRequest, user: User) -> bool:
        try:
            services.send_password_link(user, sent_by=request.user)
        except services.Deactivated:
            self.message_user(
                request,
                f"{user} is deactivated: reactivate them first, then send a link.",
                messages.WARNING,
            )
            return False
        except services.NoEmailAddress:
            self.message_user(
                request,
                f"{user} has no e-mail address: add one, then send a link to set a password.",
                messages.WARNING,
            )
            return False
        self.message_user(request, f"A link to set a password was e-mailed to {user}.")
        return True

    @admin.action(description="E-mail a link to set a new password", permissions=["change"])
    def send_password_links(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for user in queryset:
            self._send_link(request, user)

    @admin.action(
        description="Unlock sign-in after too many failed attempts", permissions=["change"]
    )
    def unlock_sign_in(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for user in queryset:
            services.unlock_sign_in(user, actor=request.user)
        self.message_user(request, f"Sign-in unlocked for {queryset.count()} colleague(s).")

    @admin.action(
        description="Remove two-factor (lost phone and recovery codes)", permissions=["change"]
    )
    def remove_two_factor(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        # One's own second factor changes on the account page, after the password.
        queryset = queryset.exclude(pk=request.user.pk)
        for user in queryset:
            services.remove_two_factor(user, actor=request.user)
        self.message_user(
            request,
            f"Two-factor removed for {queryset.count()} colleague(s); those whose role requires "
            "it set it up again at their next sign-in.",
        )


# Django's groups give permissions, and nobody is given those: a role says what a person
# may do, and the person form has neither field. A group screen would only make records
# that change nothing.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


# django-otp's screens would show each person's authenticator key and QR code: people set
# up their own on their account page, and a lost phone is handled by the action above.
for device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(device_model):
        admin.site.unregister(device_model)


# django-axes' own screens (AXES_ENABLE_ADMIN is off so that these replace them), for
# superusers: read-only (deleting an attempt unlocks it, as axes' own reset does; the logs
# of sign-ins and failures are the record and are never deleted), with the same filter allow-list
# as every admin page, and without the submitted form data, whose `next` address could
# carry a search term.
FORM_DATA = {"get_data", "post_data"}


def _without_form_data(fieldsets: Any) -> tuple[Any, ...]:
    return tuple(
        (name, {**options, "fields": [f for f in options["fields"] if f not in FORM_DATA]})
        for name, options in fieldsets
        if set(options["fields"]) - FORM_DATA
    )


class ReadOnlyLogMixin:
    # Superusers only, whatever Django permission a colleague was granted before the user
    # form stopped offering them: these screens show every clinic's sign-ins.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessAttempt)
class LockOutAdmin(ReadOnlyLogMixin, HardenedAdminMixin, AccessAttemptAdmin):
    fieldsets = _without_form_data(AccessAttemptAdmin.fieldsets)
    readonly_fields = [f for f in AccessAttemptAdmin.readonly_fields if f not in FORM_DATA]


class KeptLogMixin(ReadOnlyLogMixin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessFailureLog)
class FailedSignInAdmin(KeptLogMixin, HardenedAdminMixin, AccessFailureLogAdmin):
    fieldsets = _without_form_data(AccessFailureLogAdmin.fieldsets)
    readonly_fields = [f for f in AccessFailureLogAdmin.readonly_fields if f not in FORM_DATA]


@admin.register(AccessLog)
class SignInLogAdmin(KeptLogMixin, HardenedAdminMixin, AccessLogAdmin):
    pass
