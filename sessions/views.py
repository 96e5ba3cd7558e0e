"""Pages for logging, editing and voiding sessions.

Records are reached through the scoped querysets (outside your scope: 404;
readable but not yours to change: 403) and written through `sessions.services`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from clients import audit
from clients.access import get_visible_or_404, require_editable
from clients.models import Client
from sessions import services
from sessions.forms import SessionEditForm, SessionForm, SessionVoidForm, default_starts_at
from sessions.models import Session

NOT_YOUR_CLIENT = "You can only log sessions for clients in your own caseload."
NOT_YOUR_SESSION = "Only the therapist who logged this session can change it."


def _session_to_change(request: HttpRequest, session_id: int) -> Session:
    """The session, if the user can see it (else 404) and logged it (else 403)."""
    session = get_visible_or_404(
        Session.objects.visible_to(request.user).select_related("client", "voided_by"),
        session_id,
    )
    require_editable(Session.objects.editable_by(request.user), session, NOT_YOUR_SESSION)
    return session


def _voided(request: HttpRequest, session: Session) -> HttpResponse | None:
    """Back to the session's page, with a word, if it was voided: it stays as it was."""
    if not session.is_voided:
        return None
    messages.info(request, services.VOIDED_MESSAGE)
    return redirect(session)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def session_log(request: HttpRequest, client_id: int) -> HttpResponse:
    """Log a session for a client in the user's own caseload."""
    client = get_visible_or_404(Client.objects.visible_to(request.user), client_id)
    require_editable(Client.objects.treated_by(request.user), client, NOT_YOUR_CLIENT)
    data = request.POST if request.method == "POST" else None
    form = SessionForm(data, initial={"starts_at": default_starts_at()})
    if form.is_bound and form.is_valid():
        try:
            session = services.session_log(
                client=client, therapist=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Session {session.number} with {client.label} logged.")
            return redirect(session)
    return render(request, "sessions/session_form.html", {"form": form, "client": client})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def session_edit(request: HttpRequest, session_id: int) -> HttpResponse:
    """Change a session the user logged."""
    session = _session_to_change(request, session_id)
    if (back := _voided(request, session)) is not None:
        return back
    data = request.POST if request.method == "POST" else None
    if data is None:
        # The form shows the session as stored, private notes and all: a read of the record,
        # as its page is. A refused save shows back what was typed, not the record.
        audit.viewed(request, session, place="session edit form")
    form = SessionEditForm(data, initial=SessionEditForm.initial_for(session))
    if form.is_bound and form.is_valid():
        try:
            services.session_update(actor=request.user, session=session, **form.cleaned_data)
        except ValidationError as error:
            form.add_service_error(error)
            if getattr(error, "code", None) == "changed_meanwhile":
                # The message said what happened: saving this form again replaces what is
                # there now, the session as it stands (a change saved meanwhile) having been
                # told. Any other refusal (a time overlapping another session) keeps the
                # guard as the form was drawn.
                session.refresh_from_db(fields=["updated_at"])
                form.data = form.data.copy()
                form.data["last_changed"] = session.updated_at.isoformat()
        else:
            label = session.client.label
            messages.success(request, f"Session {session.number} with {label} updated.")
            return redirect(session)
    context = {"form": form, "client": session.client, "session": session}
    return render(request, "sessions/session_form.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def session_void(request: HttpRequest, session_id: int) -> HttpResponse:
    """Void a session the user logged, with a reason; its history stays."""
    session = _session_to_change(request, session_id)
    if (back := _voided(request, session)) is not None:
        return back
    form = SessionVoidForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            services.session_void(actor=request.user, session=session, **form.cleaned_data)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            label = session.client.label
            messages.success(request, f"Session {session.number} with {label} voided.")
            return redirect(session)
    return render(request, "sessions/session_void.html", {"session": session, "form": form})
