"""CSV exports of the dashboard and of one client's ratings, streamed.

Both files hold clinical data, so they are never cached (`no-store`), and both
are scoped exactly like the pages they come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from clients import audit
from clients.access import get_visible_or_404
from clients.models import Client
from reports import dashboard, exports
from reports.forms import PeriodForm, SortForm
from reports.views.dashboard import require_overseer


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        exports.csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    # `filename` is built from ISO dates or a slug: no quotes or line breaks can reach it.
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
    return response


def refused_on(page: str, request: HttpRequest) -> HttpResponse:
    """An export asking for what its page cannot use downloads nothing: it opens the page at
    the same address, which says what was wrong and keeps what was typed. The file would
    have held the page's fallback (the last 30 days, every colleague's entries) under a name
    that alone told it from what was asked, and passed for it."""
    return redirect(f"{reverse(page)}?{request.GET.urlencode()}")


@login_required
@require_safe
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    """The dashboard's rows for the same period and sort, one line per therapist."""
    require_overseer(request.user)
    period, period_problem = PeriodForm(request.GET).chosen()
    sort, descending, sort_problem = SortForm(request.GET).chosen()
    if period_problem or sort_problem:
        return refused_on("reports:dashboard", request)
    rows = dashboard.therapist_rows(request.user, period, sort, descending)
    # The file names therapists, not clients (counts and means per caseload); it is still
    # the clinic's data leaving the app, so the export is recorded against the clinic.
    audit.exported(request, request.user.clinic, place="dashboard CSV")
    return csv_response(
        exports.dashboard_filename(period),
        exports.dashboard_header(),
        exports.dashboard_rows_for_csv(rows, period),
    )


@login_required
@require_safe
def client_ratings_csv(request: HttpRequest, client_id: int) -> StreamingHttpResponse:
    """Every rating of one visible client, both raters, in session order."""
    client = get_visible_or_404(Client.objects.visible_to(request.user), client_id)
    audit.exported(request, client, place="ratings CSV")
    return csv_response(
        exports.ratings_filename(client),
        exports.RATINGS_HEADER,
        exports.client_rating_rows(client, timezone.get_current_timezone()),
    )


@login_required
@require_safe
def client_outcomes_csv(request: HttpRequest, client_id: int) -> StreamingHttpResponse:
    """Every outcome answer of one visible client, in session order."""
    client = get_visible_or_404(Client.objects.visible_to(request.user), client_id)
    audit.exported(request, client, place="outcomes CSV")
    return csv_response(
        exports.outcomes_filename(client),
        exports.OUTCOMES_HEADER,
        exports.client_outcome_rows(client, timezone.get_current_timezone()),
    )
