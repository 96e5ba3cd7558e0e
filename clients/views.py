"""Pages for clients and caseloads."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clients.models import Client


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Everyone starts at the caseload they can see."""
    return redirect("clients:client-list")


@login_required
def client_list(request: HttpRequest) -> HttpResponse:
    """The clients the signed-in person may see, active first."""
    status = request.GET.get("status", Client.Status.ACTIVE)
    if status not in Client.Status.values:
        messages.warning(request, "That filter is not one we know; showing active clients.")
        status = Client.Status.ACTIVE
    clients = (
        Client.objects.visible_to(request.user)
        .filter(status=status)
        .select_related("therapist")
        .order_by("label", "id")
    )
    return render(
        request,
        "clients/client_list.html",
        {"clients": clients, "status": status, "statuses": Client.Status.choices},
    )
