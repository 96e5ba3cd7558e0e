"""One client's page: the alliance over time, the sessions, the signals and the concerns."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clients.access import get_visible_or_404
from clients.models import Client
from measures import concern_selectors, selectors
from measures.items import DIMENSION_NAMES


@login_required
def client_detail(request: HttpRequest, client_id: int) -> HttpResponse:
    """The chart (both raters, each dimension on demand, the cut-off), sessions and concerns."""
    client = get_visible_or_404(
        Client.objects.visible_to(request.user).select_related("therapist"), client_id
    )
    history = selectors.client_history(client)
    user = request.user
    history.concerns = concern_selectors.with_stories(history.concerns, user)
    may_edit = user.is_clinic_admin or client.therapist_id == user.pk
    return render(
        request,
        "measures/client_detail.html",
        {
            "client": client,
            "history": history,
            "chart_data": history.chart_data(),
            "dimensions": list(DIMENSION_NAMES.items()),
            "cutoff": selectors.cutoff(),
            "may_edit": may_edit,
            "may_log": client.therapist_id == user.pk and client.is_active,
        },
    )
