"""'Review with client': the client's own alliance and outcome over time, on a screen made
for their eyes in the room — large, in their language, with no notes, signals, concerns,
clinical status or navigation away. The chart is the one the client may also see on
their link after answering (measures.own_chart)."""

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
from measures.own_chart import client_own_chart


@login_required
@require_safe
def review_with_client(request: HttpRequest, client_id: int) -> HttpResponse:
    """The treating therapist shows the client their own answers; other readers 403."""
    client = get_visible_or_404(Client.objects.visible_to(request.user), client_id)
    if not may_review_with_client(request.user, client):
        raise PermissionDenied("Only the client's own therapist reviews the chart with them.")
    audit.viewed(request, client, place="review with client")
    with translation.override(client.language):
        context = {"client": client, **client_own_chart(client)}
        return render(request, "reports/review_with_client.html", context)
