"""The client's rights, for the clinic's admins: export everything held, erase; and the
client's measures as FHIR for the clinic's health record.

Both pages reach the client through `Client.objects.visible_to` (404 outside it) and
refuse anyone but the client's clinic admins (403); the work is `measures.rights`.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from clients.access import get_visible_or_404
from clients.models import Client
from clients.scoping import may_exercise_rights_of
from measures.fhir import client_bundle
from measures.rights import client_erase, client_export, client_summary_html
from measures.rights_forms import EraseConfirmForm

NOT_FOR_YOU = "Exporting or erasing a client's record is for the clinic's admins."


def _client_for_rights(request: HttpRequest, client_id: int) -> Client:
    client = get_visible_or_404(
        Client.objects.visible_to(request.user).select_related("clinic", "therapist"), client_id
    )
    if not may_exercise_rights_of(request.user, client):
        raise PermissionDenied(NOT_FOR_YOU)
    return client


@login_required
def client_export_view(request: HttpRequest, client_id: int) -> HttpResponse:
    """Offer the export on GET; a POST downloads it, as JSON or (`format=html`) a summary."""
    client = _client_for_rights(request, client_id)
    if request.method != "POST":
        return render(request, "measures/rights/export.html", {"client": client})
    document = client_export(actor=request.user, client=client)
    if request.POST.get("format") == "html":
        response = HttpResponse(client_summary_html(document), content_type="text/html")
        name = f"client-{client.pk}.html"
    else:
        body = json.dumps(document, indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json")
        name = f"client-{client.pk}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def client_erase_view(request: HttpRequest, client_id: int) -> HttpResponse:
    """Confirm with the client's label, then anonymise them (discharged clients only)."""
    client = _client_for_rights(request, client_id)
    form = EraseConfirmForm(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        try:
            client_erase(actor=request.user, client=client)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, "The client's personal data has been erased.")
            return redirect(client.get_absolute_url())
    return render(request, "measures/rights/erase.html", {"client": client, "form": form})


@login_required
@require_safe
def client_fhir_view(request: HttpRequest, client_id: int) -> HttpResponse:
    """The client's ratings and outcome answers as a FHIR R4 Bundle, for the clinic's EHR."""
    client = get_visible_or_404(
        Client.objects.visible_to(request.user).select_related("clinic"), client_id
    )
    bundle = client_bundle(actor=request.user, client=client)
    response = HttpResponse(
        json.dumps(bundle, indent=2, ensure_ascii=False), content_type="application/fhir+json"
    )
    response["Content-Disposition"] = f'attachment; filename="client-{client.pk}-fhir.json"'
    return response
