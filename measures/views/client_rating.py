"""The client's rating form, reached by a single-use link: no account, one screen.

Every response here is private (no-store, no-referrer). Any link that cannot
take an answer — unknown, malformed, expired, replaced or used — gets the same
calm page, which names nobody.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from clients.models import Client
from clients.notice import clinic_notice
from clients.scoping import may_see_own_chart
from measures.forms import ClientRatingForm
from measures.models import Instrument, instrument_for
from measures.own_chart import client_own_chart
from measures.public import is_paused, private_page, record_failure
from measures.services import AlreadyAnswered, LinkUnavailable, client_rating_submit
from sessions.invitations import invitation_find
from sessions.models import RatingInvitation


def _language(request: HttpRequest, default: str) -> str:
    """The client's language unless they switched on the page (the switch button, else
    ?lang= / the form's hidden field)."""
    chosen = _switched_to(request) or request.POST.get("lang") or request.GET.get("lang")
    return chosen if chosen in Client.Language.values else default


def _switched_to(request: HttpRequest) -> str | None:
    """The language the client switched to with the form's own switch: a button of the
    form, so the answers already chosen come along and are shown again, not stored."""
    chosen = request.POST.get("switch_to") if request.method == "POST" else None
    return chosen if chosen in Client.Language.values else None


def _outcome_instrument(request: HttpRequest, invitation: RatingInvitation) -> Instrument | None:
    """The outcome instrument this page asks: on a sent form, the one the page showed (so
    the answers meet the questions the client read) if the clinic offered it since the
    link was opened — retired meanwhile included —, else the clinic's current one, if the
    therapist has left the check on for this client. A sent form whose page had no check
    (the therapist turned it on while the page was open) is not asked one: refused, the
    client would be told answers were missing to questions they never saw."""
    client = invitation.session.client
    if request.method == "POST" and "instrument" not in request.POST:
        return None
    shown = request.POST.get("instrument", "")
    if request.method == "POST" and shown.isascii() and shown.isdigit():
        offered = Instrument.objects.offered_since(client.clinic_id, invitation.created_at)
        return offered.filter(pk=int(shown)).first() or instrument_for(client.clinic_id)
    return instrument_for(client.clinic_id) if client.asks_outcome else None


def _answered_just_now(invitation: RatingInvitation) -> bool:
    """Answered through this link in the last few minutes (`ALLIANCE_OWN_CHART_MINUTES`):
    the client going Back from the thanks hears their answers are in, not that the link
    cannot be used. Later, whoever finds the address in the phone's history hears nothing
    of the answer."""
    window = dt.timedelta(minutes=settings.ALLIANCE_OWN_CHART_MINUTES)
    return invitation.used_at is not None and timezone.now() - invitation.used_at <= window


def _unavailable(request: HttpRequest, status: int = 404) -> HttpResponse:
    return render(request, "measures/client_rating/unavailable.html", status=status)


# No CSRF token: a link page sends no Referer, so browsers send `Origin: null` with its
# form, which Django's CSRF check would refuse. Nor is one needed: CSRF abuses a credential
# the browser adds by itself (a cookie), and this form's only credential is the 256-bit
# token in its own address, which a forging site would have to know. So the client's
# phone gets no cookie from us at all.
@csrf_exempt
@private_page
@require_http_methods(["GET", "HEAD", "POST"])
def client_rating(request: HttpRequest, token: str) -> HttpResponse:
    """Show the form for an open link; store the answers once."""
    # The token first: a valid link works even from an address others have failed from.
    invitation = invitation_find(token)
    if invitation is None:
        if is_paused(request):
            return _unavailable(request, status=429)
        record_failure(request)
        return _unavailable(request)
    language = request.LANGUAGE_CODE = _language(request, invitation.session.client.language)
    with translation.override(language):
        # A form sent again, or the client going back, just after answering: their answers
        # are in. Later, a GET or a POST alike learns nothing of the answer (below).
        if invitation.used_at is not None and _answered_just_now(invitation):
            return render(request, "measures/client_rating/thanks.html", {"already": True})
        if not invitation.is_open():
            return _unavailable(request)
        switching = _switched_to(request) is not None
        form = ClientRatingForm(
            request.POST if request.method == "POST" and not switching else None,
            # Answers carried over a language switch: shown chosen, not yet checked.
            initial=request.POST.dict() if switching else None,
            instrument=_outcome_instrument(request, invitation),
            language=language,
        )
        if form.is_bound and form.is_valid():
            try:
                client_rating_submit(
                    invitation=invitation,
                    answers=form.answers(),
                    notice_version=form.cleaned_data["notice_version"],
                    notice_language=language,
                    outcome=form.outcome(),
                )
            except AlreadyAnswered:
                return render(request, "measures/client_rating/thanks.html", {"already": True})
            except LinkUnavailable:
                return _unavailable(request)
            except ValidationError as error:
                form.add_service_error(error)
            else:
                # The thanks page carries the link's own token (now used), and nothing else
                # of the client's: it alone can show them their chart (see below).
                thanks = reverse("measures:client-rating-thanks", args=[token])
                return redirect(f"{thanks}?lang={language}")
        # The notice as it reads now; a refused page is drawn again with it and its version.
        clinic = invitation.session.client.clinic
        context = {
            "form": form,
            "language": language,
            "notice": clinic_notice(clinic, language),
            "notice_version": clinic.notice_version,
        }
        return render(request, "measures/client_rating/form.html", context)


@private_page
@require_safe
def client_rating_thanks(request: HttpRequest, token: str = "") -> HttpResponse:
    """After answering: thanks, in the language the form was in. When the therapist has
    turned it on, the client's own chart too, for a while after they answered through
    this link; any other link (unknown, still open, answered long ago, a client's whose
    switch is off) gets the plain thanks, which names nobody."""
    invitation = invitation_find(token) if token else None
    if token and invitation is None:
        record_failure(request)  # guessing here is counted as on the form
    client = invitation.session.client if invitation is not None else None
    language = _language(request, client.language if client else translation.get_language())
    request.LANGUAGE_CODE = language  # the page's, for its Content-Language
    with translation.override(language):
        context: dict[str, object] = {"already": False}
        if client is not None and may_see_own_chart(client, answered_at=invitation.used_at):
            context.update(client_own_chart(client))
        return render(request, "measures/client_rating/thanks.html", context)
