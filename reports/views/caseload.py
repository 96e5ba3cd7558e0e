"""The caseload: the therapist's home page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clients.models import Client
from clients.scoping import is_overseer, may_add_clients
from reports import selectors
from reports.forms import CaseloadFilterForm

PAGE_SIZE = 50


@login_required
def caseload(request: HttpRequest) -> HttpResponse:
    """Each client with the latest score, a sparkline and any concern; those with one first."""
    filters = CaseloadFilterForm(request.GET)
    status, search, problems = filters.chosen()
    for problem in problems:
        messages.warning(request, problem)
    clients = selectors.caseload(request.user, status=status, search=search)
    page = Paginator(clients, PAGE_SIZE).get_page(filters.number())
    page.object_list = selectors.with_sparklines(page)
    return render(
        request,
        "reports/caseload.html",
        {
            "page": page,
            "status": status,
            "statuses": Client.Status.choices,
            "search": search,
            "caption": f"{status.capitalize()} clients"
            + (f" matching “{search}”" if search else "")
            + "; clients with a concern to review first.",
            "can_add": may_add_clients(request.user),
            # Anyone who sees more than their own caseload needs to know whose client it is.
            "shows_therapist": is_overseer(request.user),
        },
    )
