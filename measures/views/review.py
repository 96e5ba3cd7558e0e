"""The review queue and the flag page: acknowledge, resolve, dismiss, comment.

Every look-up goes through `Flag.objects.visible_to(user)` (404 outside it);
`measures.flags` decides who may move a flag on (403 for supervisors and
clinic admins) and whether the note will do (a form error, nothing saved).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from clients.access import get_visible_or_404
from measures import flags
from measures.models import Flag, FlagQuerySet, severity_rank
from measures.review_forms import FlagCommentForm, FlagDismissForm, FlagResolveForm, NoteForm

PAGE_SIZE = 50
ALL_NEEDING_REVIEW = "all"
STATUS_FILTERS = {
    ALL_NEEDING_REVIEW: "All needing review",
    Flag.Status.OPEN: "Open",
    Flag.Status.ACKNOWLEDGED: "Acknowledged",
}


def review_queue_flags(user: Any, status: str = ALL_NEEDING_REVIEW) -> FlagQuerySet:
    """Flags `user` may see that still need review: most severe first, then oldest first."""
    queue = Flag.objects.visible_to(user).needing_review()
    if status != ALL_NEEDING_REVIEW:
        queue = queue.filter(status=status)
    return (
        queue.select_related("client", "client__therapist", "session")
        .annotate(severity_rank=severity_rank())
        .order_by("severity_rank", "created_at", "id")
    )


@login_required
@require_safe
def review_queue(request: HttpRequest) -> HttpResponse:
    """Flags waiting for review across the user's caseload, most severe and oldest first."""
    status = request.GET.get("status") or ALL_NEEDING_REVIEW
    if status not in STATUS_FILTERS:
        messages.warning(
            request, "That filter is not one we know; showing every flag that needs review."
        )
        status = ALL_NEEDING_REVIEW
    queue = review_queue_flags(request.user, status)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "measures/review/queue.html",
        {
            "page": page,
            "status": status,
            "statuses": STATUS_FILTERS.items(),
            # Anyone who sees more than their own caseload needs to know whose client it is.
            "shows_therapist": request.user.is_supervisor or request.user.is_clinic_admin,
        },
    )


def _visible_flag(request: HttpRequest, flag_id: int) -> Flag:
    return get_visible_or_404(
        Flag.objects.visible_to(request.user).select_related(
            "client", "client__therapist", "session"
        ),
        flag_id,
    )


def _flag_page(request: HttpRequest, flag: Flag, **forms: NoteForm) -> HttpResponse:
    """The flag page; a bound form passed in replaces its blank one and shows its errors."""
    user = request.user
    # These only decide which forms to show; the services decide what is allowed.
    may_review = flag.client.therapist_id == user.pk
    evidence = flag.evidence if isinstance(flag.evidence, dict) else {}
    context = {
        "flag": flag,
        "client": flag.client,
        "session": flag.session,
        "evidence": [(key.replace("_", " "), value) for key, value in evidence.items()],
        "events": flag.events.select_related("actor"),
        "may_review": may_review,
        "may_comment": may_review or user.is_supervisor,
        "resolve_form": FlagResolveForm(),
        "dismiss_form": FlagDismissForm(),
        "comment_form": FlagCommentForm(),
        **forms,
    }
    return render(request, "measures/review/flag_detail.html", context)


def _review_step(
    request: HttpRequest,
    flag: Flag,
    step: Callable[[], object],
    *,
    done: str,
    form_name: str = "",
    form: NoteForm | None = None,
) -> HttpResponse:
    """Run one review service: back to the flag page on success, or show why not."""
    try:
        step()
    except ValidationError as error:
        if form is not None and hasattr(error, "error_dict"):
            form.add_service_error(error)
            return _flag_page(request, flag, **{form_name: form})
        # The flag moved on meanwhile ("already resolved"): say so above the page.
        messages.error(request, " ".join(error.messages))
        flag.refresh_from_db()
        return _flag_page(request, flag)
    messages.success(request, done)
    return redirect("measures:flag-detail", flag.pk)


@login_required
@require_safe
def flag_detail(request: HttpRequest, flag_id: int) -> HttpResponse:
    """One flag: why it fired, its history, and the review actions the user may take."""
    return _flag_page(request, _visible_flag(request, flag_id))


@login_required
@require_POST
def flag_acknowledge(request: HttpRequest, flag_id: int) -> HttpResponse:
    """The therapist has seen the flag and will look into it."""
    flag = _visible_flag(request, flag_id)
    step = partial(flags.flag_acknowledge, flag=flag, actor=request.user)
    return _review_step(request, flag, step, done="Flag acknowledged.")


@login_required
@require_POST
def flag_resolve(request: HttpRequest, flag_id: int) -> HttpResponse:
    """Close the flag with a repair note: what was talked through or changed."""
    flag = _visible_flag(request, flag_id)
    form = FlagResolveForm(request.POST)
    step = partial(flags.flag_resolve, flag=flag, actor=request.user, note=form.text())
    done = "Flag resolved; your repair note is in its history."
    return _review_step(request, flag, step, done=done, form_name="resolve_form", form=form)


@login_required
@require_POST
def flag_dismiss(request: HttpRequest, flag_id: int) -> HttpResponse:
    """Close the flag as needing no repair, with the reason why."""
    flag = _visible_flag(request, flag_id)
    form = FlagDismissForm(request.POST)
    step = partial(flags.flag_dismiss, flag=flag, actor=request.user, reason=form.text())
    done = "Flag dismissed; your reason is in its history."
    return _review_step(request, flag, step, done=done, form_name="dismiss_form", form=form)


@login_required
@require_POST
def flag_comment(request: HttpRequest, flag_id: int) -> HttpResponse:
    """Add a comment to the flag's history (the therapist's, or a supervisor's)."""
    flag = _visible_flag(request, flag_id)
    form = FlagCommentForm(request.POST)
    step = partial(flags.flag_comment, flag=flag, actor=request.user, note=form.text())
    done = "Comment added."
    return _review_step(request, flag, step, done=done, form_name="comment_form", form=form)
