"""CSV exports of the dashboard and of one client's ratings, streamed.

Both files hold clinical data, so they are never cached (`no-store`), and both
are scoped exactly like the pages they come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from clients import audit
from clients.access import get_visible_or_404
from clients.models import Client
from reports import dashboard, exports
from reports.views.dashboard import period_from, require_overseer, sort_from


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


@login_required
@require_safe
def dashboard_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The dashboard's rows for the same period and sort, one line per therapist."""
    require_overseer(request.user)
    # A download has no page to show a warning on; the file name carries its dates.
    period = period_from(request, warn=False)
    sort, descending = sort_from(request, warn=False)
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
