"""The audit trail, for the clinic's admins: who opened, exported or changed which record,
filtered by colleague, client, action and period, and its CSV export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from clients import audit
from clients.scoping import may_read_audit_trail
from reports import audit_trail
from reports.forms import AuditFilterForm, PeriodForm
from reports.views.dashboard import stale_dates_dropped
from reports.views.exports import csv_response, refused_on

NOT_FOR_YOU = "The audit trail is for clinic admins."
PAGE_SIZE = 50


def require_audit_reader(user: Any) -> None:
    if not may_read_audit_trail(user):
        raise PermissionDenied(NOT_FOR_YOU)


@login_required
@require_safe
def audit_page(request: HttpRequest) -> HttpResponse:
    """The clinic's entries, newest first, 50 to a page; a refused filter is said and left out."""
    require_audit_reader(request.user)
    if (canonical := stale_dates_dropped(request)) is not None:
        return canonical
    form = AuditFilterForm(request.GET, viewer=request.user)
    filters, problems = form.chosen()
    for problem in problems:
        messages.warning(request, problem)
    entries = audit_trail.audit_entries(request.user, filters)
    shown = AuditFilterForm.showing(filters, request.user)
    return render(
        request,
        "reports/audit.html",
        {
            "page": Paginator(entries, PAGE_SIZE).get_page(form.number()),
            "filters": filters,
            "form": shown,
            "names": shown.colleague_names(),
            "period_form": PeriodForm.showing(filters.period, request.GET),
            "query": filters.query(),
        },
    )


@login_required
@require_safe
def audit_csv(request: HttpRequest) -> HttpResponse:
    """The same entries as the page, every one of them, as a CSV file; the export is itself
    an entry of the trail. A filter the page would leave out refuses the export (`refused_on`)."""
    require_audit_reader(request.user)
    filters, problems = AuditFilterForm(request.GET, viewer=request.user).chosen()
    if problems:
        return refused_on("reports:audit", request)
    audit.exported(request, request.user.clinic, place="audit CSV")
    return csv_response(
        audit_trail.filename(filters),
        audit_trail.CSV_HEADER,
        audit_trail.csv_rows(
            audit_trail.audit_entries(request.user, filters), timezone.get_current_timezone()
        ),
    )
