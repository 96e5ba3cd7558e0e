"""The caseload: the therapist's home page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clients.models import Client
from clients.scoping import is_overseer, may_add_clients
from measures.freshness import detection_status
from measures.models import OutcomeAnswer
from reports import selectors
from reports.forms import CaseloadFilterForm

PAGE_SIZE = 50


@login_required
def caseload(request: HttpRequest) -> HttpResponse:
    """Each client with the latest score, a sparkline, the outcome and any concern; those
    with a concern first."""
    form = CaseloadFilterForm(request.GET)
    filters, problems = form.chosen()
    for problem in problems:
        messages.warning(request, problem)
    clients = selectors.caseload(
        request.user,
        status=filters.status,
        search=filters.search,
        not_on_track_only=filters.not_on_track_only,
    )
    page = Paginator(clients, PAGE_SIZE).get_page(form.number())
    page.object_list = selectors.with_sparklines(page)
    # The filters in use, for the other pages' links (a refused one left out).
    kept = {"status": filters.status, "q": filters.search}
    if filters.not_on_track_only:
        kept["outcome"] = OutcomeAnswer.Track.NOT_ON_TRACK
    return render(
        request,
        "reports/caseload.html",
        {
            "page": page,
            "status": filters.status,
            "search": filters.search,
            "not_on_track_only": filters.not_on_track_only,
            "filter_query": urlencode(kept),
            "statuses": Client.Status.choices,
            "not_on_track": OutcomeAnswer.Track.NOT_ON_TRACK,
            "caption": f"{filters.status.capitalize()} clients"
            + (" not on track" if filters.not_on_track_only else "")
            + (f" matching “{filters.search}”" if filters.search else "")
            + "; clients with a concern to review first.",
            "can_add": may_add_clients(request.user),
            # Anyone who sees more than their own caseload needs to know whose client it is.
            "shows_therapist": is_overseer(request.user),
            "detection": detection_status(),
        },
    )
