"""'Review with client': the client's own alliance over time, on a screen made for their
eyes in the room — large, in their language, with no notes, signals, concerns or
navigation away."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_safe

from clients import audit
from clients.access import get_visible_or_404
from clients.models import Client
from clients.scoping import may_review_with_client
from reports import selectors


@login_required
@require_safe
def review_with_client(request: HttpRequest, client_id: int) -> HttpResponse:
    """The treating therapist shows the client their own ratings; other readers 403."""
    client = get_visible_or_404(Client.objects.visible_to(request.user), client_id)
    if not may_review_with_client(request.user, client):
        raise PermissionDenied("Only the client's own therapist reviews the chart with them.")
    audit.viewed(request, client, place="review with client")
    with translation.override(client.language):
        chart_data = selectors.client_review_chart(client)
        alliance = chart_data["series"][0]["values"]
        return render(
            request,
            "reports/review_with_client.html",
            {
                "client": client,
                "chart_data": chart_data,
                "last_score": alliance[-1] if alliance else None,
            },
        )
