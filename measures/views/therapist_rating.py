"""The therapist's own rating of a session: give it, and revise it for a while
(`ALLIANCE_THERAPIST_RATING_EDIT_HOURS`)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clients import audit
from clients.access import get_visible_or_404
from clients.scoping import may_rate_session
from measures.forms import TherapistRatingForm
from measures.models import Rating
from measures.services import (
    VOIDED_MESSAGE,
    rating_submit,
    rating_update,
    therapist_rating_edit_window,
    therapist_rating_is_editable,
)
from sessions.models import Session


@login_required
def therapist_rating(request: HttpRequest, session_id: int) -> HttpResponse:
    """Rate a session you led, or revise your rating while it is still open."""
    session = get_visible_or_404(
        Session.objects.visible_to(request.user).select_related("client"), session_id
    )
    if not may_rate_session(request.user, session):
        raise PermissionDenied("Only the therapist who led this session can rate it as therapist.")
    if session.is_voided:
        messages.info(request, VOIDED_MESSAGE)
        return redirect(session)
    rating = session.ratings.filter(rater=Rating.Rater.THERAPIST).first()
    if rating is not None and not therapist_rating_is_editable(rating) and request.method != "POST":
        messages.info(
            request,
            "Your rating of this session is locked; it can be changed for "
            f"{therapist_rating_edit_window()} after it is given.",
        )
        return redirect(session)
    if rating is not None and request.method != "POST":
        # The form shows the rating as given, to revise it: a read of the record.
        audit.viewed(request, rating, place="therapist rating form")
    initial = TherapistRatingForm.initial_from(rating)
    form = TherapistRatingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if rating is None:
                rating_submit(
                    session=session,
                    rater=Rating.Rater.THERAPIST,
                    answers=form.cleaned_data,
                    submitted_by=request.user,
                )
            else:
                rating_update(
                    rating=rating,
                    actor=request.user,
                    answers=form.cleaned_data,
                    last_changed=form.cleaned_data["last_changed"],
                )
        except ValidationError as error:
            form.add_service_error(error)
            if getattr(error, "code", None) == "changed_meanwhile":
                # The message said what happened: saving this page again replaces the
                # rating as it stands now, which the therapist has been told of.
                rating.refresh_from_db(fields=["updated_at"])
                form.data = form.data.copy()
                form.data["last_changed"] = rating.updated_at.isoformat()
        else:
            messages.success(request, f"Your rating of session {session.number} is saved.")
            return redirect(session)
    return render(
        request,
        "measures/therapist_rating.html",
        {"form": form, "session": session, "client": session.client, "rating": rating},
    )
