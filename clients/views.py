"""Pages for adding, editing, discharging and re-opening clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import translation

from alliance import links
from clients import moves, services
from clients.access import get_visible_or_404, require_editable
from clients.forms import (
    ClientForm,
    ClientMoveForm,
    ClinicNameForm,
    ClinicNoticeForm,
    ClinicRetentionForm,
)
from clients.models import Client, User
from clients.notice import default_notice
from clients.scoping import is_clinic_admin_of, may_add_clients, may_move_clients

READ_ONLY = "You can read this client but not change them."
SETTINGS_NOT_FOR_YOU = "The clinic's settings are for its clinic admins."


def _client_page(client: Client) -> str:
    return client.get_absolute_url()


def _editable_client(request: HttpRequest, client_id: int) -> Client:
    """The client if `request.user` may change it: 404 outside their scope, 403 if read-only."""
    client = get_visible_or_404(
        Client.objects.visible_to(request.user).select_related("therapist"), client_id
    )
    require_editable(Client.objects.editable_by(request.user), client, READ_ONLY)
    return client


def _assignable_therapists(user: User, current: User | None = None) -> QuerySet[User] | None:
    """The therapists `user` may give the client to; None when they choose no therapist."""
    return User.objects.assignable_by(user, current) if may_move_clients(user) else None


def _posted(request: HttpRequest) -> QueryDict | None:
    """The submitted data, or None for a first look (so an empty POST still shows errors)."""
    return request.POST if request.method == "POST" else None


CLIENT_FORM_FIELDS = (
    "label",
    "external_id",
    "email",
    "language",
    "asks_outcome",
    "shows_own_chart",
)


def _client_details(form: ClientForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in CLIENT_FORM_FIELDS}


@login_required
def client_create(request: HttpRequest) -> HttpResponse:
    """Add a client to your caseload, or, as a clinic admin, to any therapist's."""
    user = request.user
    if not may_add_clients(user):
        raise PermissionDenied("Only therapists and clinic admins can add clients.")
    therapists = _assignable_therapists(user)
    initial = {"therapist": user.pk} if user.is_therapist else {}
    form = ClientForm(_posted(request), therapists=therapists, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            client = services.client_create(
                actor=user,
                therapist=form.cleaned_data.get("therapist", user),
                **_client_details(form),
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"{client.label} added to the caseload.")
            return redirect(_client_page(client))
    return render(request, "clients/client_form.html", {"form": form, "client": None})


@login_required
def client_edit(request: HttpRequest, client_id: int) -> HttpResponse:
    """Change a client's details. (Moving them to another therapist is its own confirmed
    step: `client_move`.)"""
    client = _editable_client(request, client_id)
    initial = {name: getattr(client, name) for name in CLIENT_FORM_FIELDS}
    form = ClientForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.client_update(actor=request.user, client=client, **_client_details(form))
        except ValidationError as error:
            form.add_service_error(error)
            # The service changed the client in memory; show the stored label, not the refused one.
            client.refresh_from_db()
        else:
            messages.success(request, f"Changes to {client.label} saved.")
            return redirect(_client_page(client))
    context = {"form": form, "client": client, "may_move": may_move_clients(request.user)}
    return render(request, "clients/client_form.html", context)


@login_required
def client_move(request: HttpRequest, client_id: int) -> HttpResponse:
    """A clinic admin gives a client to another therapist: choose, confirm, moved."""
    client = get_visible_or_404(
        Client.objects.visible_to(request.user).select_related("therapist"), client_id
    )
    if not may_move_clients(request.user):
        raise PermissionDenied("Only a clinic admin can move a client to another therapist.")
    therapists = User.objects.assignable_by(request.user).exclude(pk=client.therapist_id)
    form = ClientMoveForm(_posted(request), therapists=therapists)
    if request.method == "POST" and form.is_valid():
        receiver = form.cleaned_data["therapist"]
        if not form.cleaned_data["confirmed"]:
            context = {"form": form, "client": client, "receiver": receiver}
            return render(request, "clients/client_move_confirm.html", context)
        try:
            moves.client_move(
                actor=request.user,
                client=client,
                therapist=receiver,
                from_therapist_id=form.cleaned_data["from_therapist"],
            )
        except ValidationError as error:
            form.add_service_error(error)
            client.refresh_from_db()  # the page names the therapist they are with now
        else:
            messages.success(request, f"{client.label} moved to {receiver}.")
            return redirect(_client_page(client))
    return render(request, "clients/client_move.html", {"form": form, "client": client})


def _change_status(
    request: HttpRequest,
    client_id: int,
    *,
    service: Callable[..., Client],
    template: str,
    done: str,
) -> HttpResponse:
    """Confirm on GET, change the client's status on POST; `done` is formatted with the label."""
    client = _editable_client(request, client_id)
    if request.method != "POST":
        return render(request, template, {"client": client})
    try:
        service(actor=request.user, client=client)
    except ValidationError as error:
        messages.info(request, " ".join(error.messages))
    else:
        messages.success(request, done.format(label=client.label))
    return redirect(_client_page(client))


@login_required
def client_discharge(request: HttpRequest, client_id: int) -> HttpResponse:
    """Discharge a client, keeping their history."""
    return _change_status(
        request,
        client_id,
        service=services.client_discharge,
        template="clients/client_discharge.html",
        done="{label} discharged.",
    )


@login_required
def client_reopen(request: HttpRequest, client_id: int) -> HttpResponse:
    """Return a discharged client to the active caseload."""
    return _change_status(
        request,
        client_id,
        service=services.client_reopen,
        template="clients/client_reopen.html",
        done="{label} re-opened.",
    )


SETTINGS_PARTS = ("name", "notice", "retention")


@login_required
def clinic_settings(request: HttpRequest) -> HttpResponse:
    """The clinic's name, its own wording of the privacy notice on the client's rating form,
    and how long its records are kept after discharge. Each part is its own form; a post
    names it."""
    user = request.user
    if not is_clinic_admin_of(user, user.clinic_id):
        raise PermissionDenied(SETTINGS_NOT_FOR_YOU)
    clinic = user.clinic
    posted = _posted(request)
    part = request.POST.get("part", "notice") if posted is not None else ""
    name_form = ClinicNameForm(posted if part == "name" else None, initial={"name": clinic.name})
    notice_form = ClinicNoticeForm(
        posted if part == "notice" else None,
        initial={"notice_en": clinic.notice_en, "notice_es": clinic.notice_es},
    )
    retention_form = ClinicRetentionForm(
        posted if part == "retention" else None,
        initial={
            "retention_days_after_discharge": clinic.retention_days_after_discharge,
            "keep_numbers_after_erasure": clinic.keep_numbers_after_erasure,
        },
    )
    if posted is not None and part not in SETTINGS_PARTS:
        messages.error(request, "That is not a part of the clinic's settings; nothing was saved.")
    elif part == "name" and name_form.is_valid():
        try:
            clinic = services.clinic_rename(actor=user, clinic=clinic, **name_form.cleaned_data)
        except ValidationError as error:
            name_form.add_service_error(error)
        else:
            messages.success(request, f"The clinic is now called {clinic.name}.")
            return redirect("clients:clinic-settings")
    elif part == "notice" and notice_form.is_valid():
        if (done := _save_notice(request, clinic, notice_form)) is not None:
            return done
    elif part == "retention" and retention_form.is_valid():
        try:
            services.clinic_retention_set(actor=user, clinic=clinic, **retention_form.cleaned_data)
        except ValidationError as error:
            retention_form.add_service_error(error)
        else:
            messages.success(request, "How long records are kept is saved.")
            return redirect("clients:clinic-settings")
    with translation.override("en"):
        default_en = default_notice(clinic.name)
    with translation.override("es"):
        default_es = default_notice(clinic.name)
    context = {
        "name_form": name_form,
        "form": notice_form,
        "retention_form": retention_form,
        "clinic": clinic,
        "default_en": default_en,
        "default_es": default_es,
        "instruments_url": links.outcome_instruments(),
    }
    return render(request, "clients/clinic_settings.html", context)


def _save_notice(request: HttpRequest, clinic: Any, form: ClinicNoticeForm) -> HttpResponse | None:
    """Save the notice's wording; back to the page, or None to show the form's errors."""
    try:
        saved = services.clinic_notice_update(
            actor=request.user, clinic=clinic, **form.cleaned_data
        )
    except ValidationError as error:
        form.add_service_error(error)
        return None
    if saved.notice_version == clinic.notice_version:
        messages.info(request, "The notice's wording is unchanged.")
    else:
        messages.success(request, f"Notice saved: clients now see version {saved.notice_version}.")
    return redirect("clients:clinic-settings")
