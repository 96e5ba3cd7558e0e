"""The supervisor's dashboard and the drill-down into one therapist's caseload."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from clients.access import get_visible_or_404
from measures import dashboard, selectors

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
LONGEST_RANGE_DAYS = 366
NOT_FOR_YOU = "The dashboard is for supervisors and clinic admins."


def require_overseer(user: Any) -> None:
    if not (user.is_supervisor or user.is_clinic_admin):
        raise PermissionDenied(NOT_FOR_YOU)


def _date(value: str) -> dt.date | None:
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        return None
    # The calendar's first and last days have no whole local day around them in every
    # time zone (the next midnight, or the UTC instant, falls off the calendar).
    return date if dt.date.min < date < dt.date.max else None


def period_from(request: HttpRequest, *, warn: bool = True) -> dashboard.Period:
    """The period asked for (7/30/90 days or from–to dates); if not valid, say so (unless
    `warn` is off: a download has no page to say it on): the last 30 days."""
    say = messages.warning if warn else _silent
    chosen = request.GET.get("period") or str(DEFAULT_DAYS)
    # Compared as text: str.isdigit() admits "²", which int() then refuses.
    if chosen in {str(days) for days in PRESETS}:
        return dashboard.period_of_days(int(chosen))
    if chosen == "custom":
        first, last = _date(request.GET.get("from", "")), _date(request.GET.get("to", ""))
        if first is None or last is None:
            say(request, "Enter both dates as YYYY-MM-DD; showing the last 30 days.")
        elif first > last:
            say(request, "The start date is after the end date; showing the last 30 days.")
        elif (last - first).days >= LONGEST_RANGE_DAYS:
            say(request, "Choose at most a year; showing the last 30 days.")
        else:
            return dashboard.period_between(first, last)
    else:
        say(request, "That period is not one we know; showing the last 30 days.")
    return dashboard.period_of_days(DEFAULT_DAYS)


def _silent(request: HttpRequest, message: str) -> None:
    """A warning nobody will see is not stored for a later page."""


def sort_from(request: HttpRequest, *, warn: bool = True) -> tuple[str, bool]:
    sort = request.GET.get("sort", "therapist")
    if sort not in dashboard.SORTS:
        if warn:
            messages.warning(request, "That column cannot be sorted; sorted by therapist.")
        sort = "therapist"
    return sort, request.GET.get("dir") == "desc"


@login_required
@require_safe
def team_dashboard(request: HttpRequest) -> HttpResponse:
    """One row per supervised therapist, the team's totals, and clients needing attention."""
    require_overseer(request.user)
    period = period_from(request)
    sort, descending = sort_from(request)
    rows = list(dashboard.dashboard_rows(request.user, period, sort, descending))
    lines = dashboard.weekly_means([row.pk for row in rows])
    for row in rows:
        row.sparkline = lines.get(row.pk, [])
    return render(
        request,
        "measures/dashboard.html",
        {
            "rows": rows,
            "totals": dashboard.team_totals(request.user, period),
            "attention": dashboard.clients_needing_attention(request.user),
            "period": period,
            "presets": PRESETS,
            "sort": sort,
            "descending": descending,
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_safe
def therapist_caseload(request: HttpRequest, therapist_id: int) -> HttpResponse:
    """One overseen therapist's active caseload, read-only, flagged clients first."""
    require_overseer(request.user)
    therapist = get_visible_or_404(dashboard.therapists_for(request.user), therapist_id)
    clients = selectors.with_sparklines(
        selectors.caseload(request.user).filter(therapist=therapist)
    )
    return render(
        request,
        "measures/therapist_caseload.html",
        {"therapist": therapist, "clients": clients},
    )


@login_required
@require_safe
def precision(request: HttpRequest) -> HttpResponse:
    """How the team's concerns were closed in the period: repaired, or dismissed."""
    require_overseer(request.user)
    period = period_from(request)
    outcomes = dashboard.review_outcomes(request.user, period)
    tables = [
        ("All concerns", outcomes["total"] if outcomes["total"][0].closed else [], "Concerns"),
        ("By the rule that opened them", outcomes["rules"], "Rule"),
        ("By therapist", outcomes["therapists"], "Therapist"),
    ]
    return render(
        request,
        "measures/precision.html",
        {"tables": tables, "period": period, "presets": PRESETS},
    )
