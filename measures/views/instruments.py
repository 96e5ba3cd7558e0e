"""The clinic's outcome instruments: the built-in check and its own, one of them in use.
A clinic admin adds one the clinic holds a licence for, chooses the one its clients
answer, or retires one. For clinic admins only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from clients.access import get_visible_or_404
from clients.scoping import is_clinic_admin_of
from measures import instruments
from measures.instrument_forms import InstrumentForm
from measures.models import Instrument

NOT_FOR_YOU = "The clinic's outcome instruments are for its clinic admins."


def _require_clinic_admin(user: Any) -> None:
    if not is_clinic_admin_of(user, user.clinic_id):
        raise PermissionDenied(NOT_FOR_YOU)


def _instrument(request: HttpRequest, instrument_id: int) -> Instrument:
    """One of the instruments the admin sees (the built-in and their clinic's), else 404."""
    _require_clinic_admin(request.user)
    return get_visible_or_404(Instrument.objects.visible_to(request.user), instrument_id)


@login_required
def instruments_page(request: HttpRequest) -> HttpResponse:
    """The instruments and the one in use; a POST adds one (kept, not yet in use)."""
    _require_clinic_admin(request.user)
    form = InstrumentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            added = instruments.instrument_add(
                clinic=request.user.clinic, definition=form.definition(), actor=request.user
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, f"{added.name} added. Choose “Use” when clients should answer it."
            )
            return redirect("measures:instruments")
    # The built-in first, then the clinic's own by name, the retired last.
    rows = list(
        Instrument.objects.visible_to(request.user).order_by(
            F("clinic_id").asc(nulls_first=True), F("retired_at").asc(nulls_first=True), "name"
        )
    )
    context = {"instruments": rows, "in_use": instruments.in_use_among(rows), "form": form}
    return render(request, "measures/instruments.html", context)


@login_required
@require_POST
def instrument_use(request: HttpRequest, instrument_id: int) -> HttpResponse:
    """From now on the clinic's clients answer this one (the built-in: back to it)."""
    instrument = _instrument(request, instrument_id)
    try:
        instruments.instrument_use(
            clinic=request.user.clinic, instrument=instrument, actor=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Your clients now answer {instrument.name}.")
    return redirect("measures:instruments")


@login_required
@require_POST
def instrument_retire(request: HttpRequest, instrument_id: int) -> HttpResponse:
    """No longer offered; its answers stay. Retiring the one in use goes back to the built-in."""
    instrument = _instrument(request, instrument_id)
    try:
        instruments.instrument_retire(instrument=instrument, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        was = " Your clients now answer the built-in check." if instrument.in_use else ""
        messages.success(request, f"{instrument.name} retired; its answers are kept.{was}")
    return redirect("measures:instruments")
