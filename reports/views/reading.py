"""How well a therapist reads their clients: their own page, and their supervisors' view."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from clients.access import get_visible_or_404
from clients.models import User
from clients.scoping import is_practising_therapist
from reports.reading import reading_page
from reports.views.dashboard import require_overseer


@login_required
@require_safe
def my_reading(request: HttpRequest) -> HttpResponse:
    """Your guesses of your clients' scores beside what they gave."""
    if not is_practising_therapist(request.user):
        raise PermissionDenied("This page is for therapists, about their own clients.")
    return render(
        request,
        "reports/reading.html",
        {"page": reading_page(request.user, request.user), "therapist": request.user, "own": True},
    )


@login_required
@require_safe
def therapist_reading(request: HttpRequest, therapist_id: int) -> HttpResponse:
    """The same page for a therapist you oversee, read-only."""
    require_overseer(request.user)
    therapist = get_visible_or_404(User.objects.overseen_by(request.user), therapist_id)
    return render(
        request,
        "reports/reading.html",
        {"page": reading_page(request.user, therapist), "therapist": therapist, "own": False},
    )
