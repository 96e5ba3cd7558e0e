"""The therapist's side of client rating links: create one, show it, e-mail it.

The raw token exists only in the response that creates the link (served
no-store) and in the e-mail; only its hash is kept.
"""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from alliance import links
from clients.access import get_visible_or_404
from clients.scoping import led_session
from measures.models import Rating
from measures.public import private_page
from sessions import invitations
from sessions.models import Session


def _session_to_invite(request: HttpRequest, session_id: int) -> Session:
    """A session the user led, that the client can still rate; else 404, 403 or a message."""
    session = get_visible_or_404(
        Session.objects.visible_to(request.user).select_related("client"), session_id
    )
    if not led_session(request.user, session):
        raise PermissionDenied("Only the therapist who led this session can send its rating link.")
    if session.ratings.filter(rater=Rating.Rater.CLIENT).exists():
        raise ValidationError("The client has already rated this session.")
    return session


@private_page
@login_required
@require_POST
def invitation_create(request: HttpRequest, session_id: int) -> HttpResponse:
    """Open a new link (replacing any earlier one) and show it with its QR code."""
    try:
        session = _session_to_invite(request, session_id)
        invitation, token = invitations.invitation_create(session=session)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(links.session_page(session_id))
    url = request.build_absolute_uri(invitations.rating_path(token))
    qr_svg = segno.make(url, error="m").svg_inline(scale=4, title="QR code of the rating link")
    return render(
        request,
        "measures/invitation.html",
        {
            "session": session,
            "client": session.client,
            "invitation": invitation,
            "url": url,
            "token": token,
            "qr_svg": mark_safe(qr_svg),  # generated here from our own URL, not user input
        },
    )


@login_required
@require_POST
def invitation_email(request: HttpRequest, session_id: int) -> HttpResponse:
    """E-mail the link just shown (its token posted back), or a new one."""
    try:
        session = _session_to_invite(request, session_id)
        token = request.POST.get("token", "")
        invitation = invitations.invitation_find(token) if token else None
        if invitation is None or invitation.session_id != session.pk or not invitation.is_open():
            invitation, token = invitations.invitation_create(session=session)
        invitations.invitation_email(invitation=invitation, token=token)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Rating link e-mailed to {session.client.label}.")
    return redirect(links.session_page(session_id))
