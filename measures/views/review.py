"""The review queue and the concern page: acknowledge, resolve, dismiss, comment.

Every look-up goes through `Concern.objects.visible_to(user)` (404 outside it);
`measures.review` decides who may move a concern on (403 for supervisors and
clinic admins) and whether the note will do (a form error, nothing saved).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from alliance import links
from clients import audit
from clients.access import get_visible_or_404
from clients.scoping import (
    is_overseer,
    is_treating_therapist,
    may_comment_on,
    takes_personal_data,
)
from measures import concern_selectors, review
from measures.freshness import detection_status
from measures.models import Concern, Flag
from measures.review_forms import (
    REVIEW_STATUSES,
    ConcernCommentForm,
    ConcernDismissForm,
    ConcernResolveForm,
    NoteForm,
    ReviewFilterForm,
)

PAGE_SIZE = 50


@login_required
@require_safe
def review_queue(request: HttpRequest) -> HttpResponse:
    """Concerns waiting for review across the user's caseload, most severe and oldest first."""
    filters = ReviewFilterForm(request.GET)
    status, problem = filters.chosen()
    if problem:
        messages.warning(request, problem)
    queue = concern_selectors.review_queue(request.user, status)
    page = Paginator(queue, PAGE_SIZE).get_page(filters.number())
    rows = concern_selectors.review_rows(page.object_list)
    page.object_list = concern_selectors.with_stories(rows, request.user)
    return render(
        request,
        "measures/review/queue.html",
        {
            "page": page,
            "status": status,
            "status_query": urlencode({"status": status}),  # kept on the pages' links
            "statuses": REVIEW_STATUSES.items(),
            "detection": detection_status(),
            # Anyone who sees more than their own caseload needs to know whose client it is.
            "shows_therapist": is_overseer(request.user),
        },
    )


def _visible_concern(request: HttpRequest, concern_id: int) -> Concern:
    return get_visible_or_404(
        Concern.objects.visible_to(request.user).select_related(
            "client", "client__therapist", "first_session", "last_session"
        ),
        concern_id,
    )


def _concern_page(request: HttpRequest, concern: Concern, **forms: NoteForm) -> HttpResponse:
    """The concern page; a bound form passed in replaces its blank one and shows its errors."""
    user = request.user
    may_review = is_treating_therapist(user, concern.client)
    page = concern_selectors.concern_page(concern, user)
    forms = {
        "resolve_form": ConcernResolveForm(),
        "dismiss_form": ConcernDismissForm(),
        "comment_form": ConcernCommentForm(),
        **forms,
    }
    # Closing is of the signals this page shows (a form drawn again shows them as they
    # stand now): one joining after it is not closed unread (`measures.review`).
    showing = [signal.pk for signal in page.signals if signal.withdrawn_at is None]
    for name in ("resolve_form", "dismiss_form"):
        forms[name].showing(showing)  # type: ignore[attr-defined]
    context = {
        "concern": concern,
        "client": concern.client,
        "page": page,
        "may_review": may_review,
        # An erased record takes no comment (`takes_personal_data`): no box that refuses.
        "may_comment": may_comment_on(user, concern.client) and takes_personal_data(concern.client),
        **forms,
    }
    return render(request, "measures/review/concern_detail.html", context)


def _review_step(
    request: HttpRequest,
    concern: Concern,
    step: Callable[[], object],
    *,
    done: str,
    form_name: str = "",
    form: NoteForm | None = None,
) -> HttpResponse:
    """Run one review service: back to the concern page on success, or show why not."""
    try:
        step()
    except ValidationError as error:
        if form is not None and hasattr(error, "error_dict"):
            form.add_service_error(error)
            return _concern_page(request, concern, **{form_name: form})
        # The concern moved on meanwhile ("already resolved", "withdrawn"): say so above
        # the page, and keep what was typed, in the comment box (still open to it).
        messages.error(request, " ".join(error.messages))
        concern.refresh_from_db()
        typed = form.text().strip() if form is not None else ""
        client = concern.client
        if typed and may_comment_on(request.user, client) and takes_personal_data(client):
            messages.info(request, "What you wrote is kept in the comment box below.")
            kept = ConcernCommentForm(initial={"note": typed})
            return _concern_page(request, concern, comment_form=kept)
        return _concern_page(request, concern)
    messages.success(request, done)
    return redirect("measures:concern-detail", concern.pk)


@login_required
@require_safe
def concern_detail(request: HttpRequest, concern_id: int) -> HttpResponse:
    """One concern: its story, each signal's numbers, its history, the review actions."""
    concern = _visible_concern(request, concern_id)
    audit.viewed(request, concern, place="concern page")
    return _concern_page(request, concern)


@login_required
@require_POST
def concern_acknowledge(request: HttpRequest, concern_id: int) -> HttpResponse:
    """The therapist has seen the concern and will look into it."""
    concern = _visible_concern(request, concern_id)
    step = partial(review.concern_acknowledge, concern=concern, actor=request.user)
    return _review_step(request, concern, step, done="Concern acknowledged.")


@login_required
@require_POST
def concern_resolve(request: HttpRequest, concern_id: int) -> HttpResponse:
    """Close the concern with a repair note: what was talked through or changed."""
    concern = _visible_concern(request, concern_id)
    form = ConcernResolveForm(request.POST)
    step = partial(
        review.concern_resolve,
        concern=concern,
        actor=request.user,
        note=form.text(),
        signals_seen=form.seen(),
    )
    done = "Concern resolved; your repair note is in its history."
    return _review_step(request, concern, step, done=done, form_name="resolve_form", form=form)


@login_required
@require_POST
def concern_dismiss(request: HttpRequest, concern_id: int) -> HttpResponse:
    """Close the concern as needing no repair, with the reason why."""
    concern = _visible_concern(request, concern_id)
    form = ConcernDismissForm(request.POST)
    step = partial(
        review.concern_dismiss,
        concern=concern,
        actor=request.user,
        reason=form.text(),
        signals_seen=form.seen(),
    )
    done = "Concern dismissed; your reason is in its history."
    if not takes_personal_data(concern.client):
        done = "Concern dismissed. The client's record was erased, so it keeps no reason."
    return _review_step(request, concern, step, done=done, form_name="dismiss_form", form=form)


@login_required
@require_POST
def concern_comment(request: HttpRequest, concern_id: int) -> HttpResponse:
    """Add a comment to the concern's history (the therapist's, or a supervisor's)."""
    concern = _visible_concern(request, concern_id)
    form = ConcernCommentForm(request.POST)
    step = partial(review.concern_comment, concern=concern, actor=request.user, note=form.text())
    return _review_step(
        request, concern, step, done="Comment added.", form_name="comment_form", form=form
    )


@login_required
@require_safe
def flag_detail(request: HttpRequest, flag_id: int) -> HttpResponse:
    """A signal's old address (links in earlier e-mails): its concern, or else its session."""
    flag = get_visible_or_404(Flag.objects.visible_to(request.user), flag_id)
    if flag.concern_id is not None:
        return redirect("measures:concern-detail", flag.concern_id)
    return redirect(links.session_page(flag.session_id))
