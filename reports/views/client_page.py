"""One client's page: the alliance over time, the sessions, the signals and the concerns."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clients import audit
from clients.access import get_visible_or_404
from clients.models import Client
from clients.scoping import (
    may_change_client,
    may_exercise_rights_of,
    may_log_session,
    may_move_clients,
    may_read_audit_trail,
    may_review_with_client,
)
from measures import concern_selectors
from measures.freshness import detection_status
from measures.items import DIMENSION_NAMES
from reports import selectors


@login_required
def client_detail(request: HttpRequest, client_id: int) -> HttpResponse:
    """The chart (both raters, each dimension on demand, the cut-off), sessions and concerns."""
    client = get_visible_or_404(
        Client.objects.visible_to(request.user).select_related("therapist"), client_id
    )
    audit.viewed(request, client, place="client page")
    history = selectors.client_history(client)
    user = request.user
    history.concerns = concern_selectors.with_stories(
        history.concerns, user, scores={client.pk: history.client_scores()}
    )
    return render(
        request,
        "reports/client_detail.html",
        {
            "client": client,
            "history": history,
            "chart_data": history.chart_data(),
            "dimensions": list(DIMENSION_NAMES.items()),
            "cutoff": selectors.cutoff(),
            "may_edit": may_change_client(user, client),
            "may_log": may_log_session(user, client),
            "may_exercise_rights": may_exercise_rights_of(user, client),
            "may_audit": may_read_audit_trail(user),
            "may_move": may_move_clients(user),
            "may_review_with_client": may_review_with_client(user, client),
            "detection": detection_status(),
        },
    )
