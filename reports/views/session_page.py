"""One session: its details, both raters' ratings and its signals."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from clients import audit
from clients.access import get_visible_or_404
from clients.scoping import led_session, may_change_session, may_rate_session
from measures.items import DIMENSION_NAMES
from measures.models import Rating
from measures.services import therapist_rating_edit_window, therapist_rating_is_editable
from reports.selectors import session_changes, session_signals
from sessions.models import Session


@login_required
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    """After logging, the place to rate the session and (later) send the client's link.

    A voided session's page still opens, for its history, with no way to change it."""
    session = get_visible_or_404(
        Session.objects.visible_to(request.user).select_related("client", "therapist", "voided_by"),
        session_id,
    )
    audit.viewed(request, session, place="session page")
    ratings = {rating.rater: rating for rating in session.ratings.all()}
    therapist_rating = ratings.get(Rating.Rater.THERAPIST)
    is_author = led_session(request.user, session)
    may_change = may_change_session(request.user, session)
    # Rating it and sending its link: the treating therapist's, of a session not voided.
    may_invite = may_rate_session(request.user, session) and not session.is_voided
    # Either rater rates it once it has begun (`sessions.invitations.NOT_BEGUN`).
    has_begun = session.starts_at <= timezone.now()
    return render(
        request,
        "reports/session_detail.html",
        {
            "session": session,
            "client": session.client,
            "client_rating": ratings.get(Rating.Rater.CLIENT),
            "open_invitation": None if session.is_voided else session.invitations.live().first(),
            "therapist_rating": therapist_rating,
            "flags": session_signals(session),
            "dimensions": list(DIMENSION_NAMES.items()),
            "is_author": is_author,
            "may_change": may_change,
            "may_invite": may_invite,
            "has_begun": has_begun,
            "changes": session_changes(request.user, session, with_notes=is_author),
            "edit_window": therapist_rating_edit_window(),
            "may_rate": may_invite
            and session.was_attended
            and (
                has_begun
                if therapist_rating is None
                else therapist_rating_is_editable(therapist_rating)
            ),
        },
    )
