"""The therapist's side of client rating links: create one, show it, e-mail it.

The raw token exists only in the response that creates the link (served
no-store) and in the e-mail; only its hash is kept. The e-mail is sent by a
worker, which makes its own fresh link (see sessions.tasks.email_rating_link).
"""

from __future__ import annotations

import logging

import segno
from celery.exceptions import Retry
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError as BrokerUnreachable

from alliance import links
from clients.access import get_visible_or_404
from clients.scoping import may_rate_session
from measures.public import private_page
from measures.services import VOIDED_MESSAGE, client_link_for_email, client_link_open
from sessions import invitations
from sessions.models import Session
from sessions.tasks import email_rating_link

logger = logging.getLogger(__name__)

QUEUE_DOWN = (
    "The e-mail could not be sent: the background service is not answering. Nothing was "
    "sent, and any link the client already has still works. Try again in a few minutes, "
    "or give them a link from this page."
)

# With no broker (`make run`) the task runs in the request: the mail server's answer is heard
# here. (Its retries cannot wait in a request: Celery raises `Retry` in their place.)
ADDRESS_REFUSED = (
    "The e-mail could not be sent: the mail server refused the client's address. Check it "
    "on the client's details; any link the client already has still works."
)
MAIL_DOWN = (
    "The e-mail could not be sent: the mail server is not answering. Nothing was sent, and "
    "any link the client already has still works. Try again in a few minutes, or give them "
    "a link from this page."
)


def _session_to_invite(request: HttpRequest, session_id: int) -> Session:
    """A session the user led, not voided; else 404, 403 or a message. Whether its client
    has rated it is the service's to check, under the lock their answer takes."""
    session = get_visible_or_404(
        Session.objects.visible_to(request.user).select_related("client"), session_id
    )
    if not may_rate_session(request.user, session):
        raise PermissionDenied("Only the therapist who led this session can send its rating link.")
    if session.is_voided:
        raise ValidationError(VOIDED_MESSAGE)
    return session


@private_page
@login_required
@require_POST
def invitation_create(request: HttpRequest, session_id: int) -> HttpResponse:
    """Open a new link (replacing any earlier one) and show it with its QR code."""
    try:
        session = _session_to_invite(request, session_id)
        invitation, token = client_link_open(session=session)
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
            "qr_svg": mark_safe(qr_svg),  # generated here from our own URL, not user input
        },
    )


@login_required
@require_POST
def invitation_email(request: HttpRequest, session_id: int) -> HttpResponse:
    """Have a worker e-mail the client a fresh link (it replaces the open one)."""
    try:
        session = _session_to_invite(request, session_id)
        invitation = client_link_for_email(session=session)
        # Queued at once, not on commit: client_link_for_email has committed and no request
        # transaction is open (no ATOMIC_REQUESTS), and so a broker outage is heard here.
        email_rating_link.delay(invitation.pk)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except BrokerUnreachable:
        logger.warning("Could not queue the rating-link e-mail for session %s", session_id)
        messages.error(request, QUEUE_DOWN)
    except invitations.AddressRefused:
        logger.warning("Rating-link e-mail for session %s: address refused", session_id)
        messages.error(request, ADDRESS_REFUSED)
    except (invitations.EmailUnsent, Retry):
        logger.warning("Rating-link e-mail for session %s: mail server down", session_id)
        messages.error(request, MAIL_DOWN)
    else:
        messages.success(
            request,
            f"A rating link is on its way to {session.client.label} by e-mail. "
            "It replaces any link given before and keeps its expiry.",
        )
    return redirect(links.session_page(session_id))
