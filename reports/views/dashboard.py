"""The supervisor's dashboard and the drill-down into one therapist's caseload."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from alliance.forms import PageForm
from clients.access import get_visible_or_404
from clients.models import User
from clients.scoping import is_overseer
from measures.freshness import detection_status
from reports import dashboard, selectors
from reports.forms import (
    DEFAULT_DAYS,
    PeriodForm,
    SortForm,
    dashboard_query,
    without_stale_dates,
)
from reports.views.caseload import PAGE_SIZE

NOT_FOR_YOU = "The dashboard is for supervisors and clinic admins."


def require_overseer(user: Any) -> None:
    if not is_overseer(user):
        raise PermissionDenied(NOT_FOR_YOU)


def period_from(request: HttpRequest) -> dashboard.Period:
    """The period asked for (7/30/90 days or from–to dates); if not valid, say so: the
    last 30 days."""
    period, problem = PeriodForm(request.GET).chosen()
    if problem:
        messages.warning(request, f"{problem}; showing the last {DEFAULT_DAYS} days.")
    return period


def stale_dates_dropped(request: HttpRequest) -> HttpResponse | None:
    """A preset period asked for with from–to dates beside it: the same page at the
    address without them (`without_stale_dates`), or None."""
    kept = without_stale_dates(request.GET)
    if kept is None:
        return None
    return redirect(f"{request.path}?{kept.urlencode()}" if kept else request.path)


def sort_from(request: HttpRequest) -> tuple[str, bool]:
    sort, descending, problem = SortForm(request.GET).chosen()
    if problem:
        messages.warning(request, problem)
    return sort, descending


@login_required
@require_safe
def team_dashboard(request: HttpRequest) -> HttpResponse:
    """One row per supervised therapist, the team's totals, and clients needing attention."""
    require_overseer(request.user)
    if (canonical := stale_dates_dropped(request)) is not None:
        return canonical
    period = period_from(request)
    sort, descending = sort_from(request)
    shown = dashboard.dashboard_page(
        request.user, period, sort, descending, PageForm(request.GET).number()
    )
    numbers, page = shown.numbers, shown.page
    others = request.GET.copy()
    others.pop("page", None)
    return render(
        request,
        "reports/dashboard.html",
        {
            # Every row is a therapist `overseen_by` the viewer, the scope the reading page
            # (reports:therapist-reading) admits: each row links to it.
            "rows": page.object_list,
            "page": page,
            "page_query": others.urlencode(),
            "totals": {**numbers.totals, "therapists": len(numbers.rows)},
            "attention": shown.attention,
            "more_waiting": shown.more_waiting,
            "attention_limit": dashboard.ATTENTION_LIMIT,
            "stale_label": dashboard.stale_label(),
            "period": period,
            "period_form": PeriodForm.showing(period, request.GET),
            "sort": sort,
            "descending": descending,
            "query": request.GET.urlencode(),
            # What the page shows, not what was asked: the export refuses what the page
            # could not use, and the page fell back from it.
            "export_query": dashboard_query(period, sort, descending),
            "detection": detection_status(),
        },
    )


@login_required
@require_safe
def therapist_caseload(request: HttpRequest, therapist_id: int) -> HttpResponse:
    """One overseen therapist's active caseload, read-only, flagged clients first, a page
    of clients at a time as on the therapist's own caseload."""
    require_overseer(request.user)
    therapist = get_visible_or_404(User.objects.overseen_by(request.user), therapist_id)
    clients = selectors.caseload(request.user).filter(therapist=therapist)
    page = Paginator(clients, PAGE_SIZE).get_page(PageForm(request.GET).number())
    page.object_list = selectors.with_sparklines(page)
    return render(
        request,
        "reports/therapist_caseload.html",
        {
            "therapist": therapist,
            "page": page,
            "clients": page.object_list,
            "detection": detection_status(),
        },
    )


@login_required
@require_safe
def precision(request: HttpRequest) -> HttpResponse:
    """How the team's concerns were closed in the period: repaired, or dismissed."""
    require_overseer(request.user)
    if (canonical := stale_dates_dropped(request)) is not None:
        return canonical
    period = period_from(request)
    outcomes = dashboard.review_outcomes(request.user, period)
    tables = [
        ("All concerns", outcomes["total"] if outcomes["total"][0].closed else [], "Concerns"),
        ("By the rule that opened them", outcomes["rules"], "Rule"),
        ("By therapist", outcomes["therapists"], "Therapist"),
    ]
    return render(
        request,
        "reports/precision.html",
        {
            "tables": tables,
            "period": period,
            "period_form": PeriodForm.showing(period, request.GET),
        },
    )
