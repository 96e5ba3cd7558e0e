"""Forms for reviewing a concern. They parse the note; `measures.review` judges it and writes.

The note fields are not `required` here on purpose: the review services check
who may act before they check the note, so a supervisor posting an empty note
is refused (403) rather than shown a form error, and the "a note is needed"
message is written in one place, the service.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from alliance.fields import NoteField
from alliance.forms import PageForm, ServiceForm, first_error
from measures.concern_selectors import ALL_NEEDING_REVIEW
from measures.models import Concern
from measures.review import NOTE_MAX_LENGTH


def note_field(label: str, help_text: str) -> forms.CharField:
    """A free-text note; the browser asks for it, the service insists on it."""
    return NoteField(
        label=label,
        help_text=help_text,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_MAX_LENGTH, "required": True}),
    )


class NoteForm(ServiceForm):
    """One note for one review service. Several sit on the concern page, so ids are prefixed."""

    field_name: ClassVar[str] = "note"
    id_prefix: ClassVar[str] = "note"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)

    def text(self) -> str:
        """The note as typed (the service strips it and checks it is there)."""
        self.is_valid()
        return self.cleaned_data.get(self.field_name, "")


class ClosingForm(NoteForm):
    """A note that closes the concern, with the signals the page showed (`signals_seen`, ids
    joined by commas): closing marks every signal in the concern reviewed, so one that
    joined after the page was drawn must not be closed unread (`measures.review`)."""

    signals_seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def seen(self) -> set[int] | None:
        """The signals the page showed; None when the post says nothing readable of them (a
        page drawn before the guard, a crafted post): only a guard, not a permission."""
        self.is_valid()
        text = self.data.get("signals_seen")
        if text is None:
            return None
        ids = [part.strip() for part in text.split(",") if part.strip()]
        if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in ids):
            return None
        return {int(part) for part in ids}

    def showing(self, signal_ids: list[int]) -> None:
        """Say the page shows these signals: as drawn blank, or bound (drawn again after a
        refusal, the page showing the concern as it stands now)."""
        seen = ",".join(str(pk) for pk in signal_ids)
        if self.is_bound:
            self.data = self.data.copy()
            self.data["signals_seen"] = seen
        else:
            self.initial = {**self.initial, "signals_seen": seen}


class ConcernResolveForm(ClosingForm):
    id_prefix = "resolve"

    note = note_field(
        "Repair note",
        "What did you talk through or change? e.g. “We talked about the tension over "
        "homework; agreed a slower pace.”",
    )


class ConcernDismissForm(ClosingForm):
    field_name = "reason"
    id_prefix = "dismiss"

    reason = note_field(
        "Reason for dismissing",
        "Why does this concern need no repair? e.g. “Low score reflects a hard week at work, "
        "not our work together; we checked in about it.”",
    )


class ConcernCommentForm(NoteForm):
    id_prefix = "comment"

    note = note_field("Comment", "Added to the concern's history, with your name and the time.")


# The review queue's filter: every concern still to review, or those in one state.
REVIEW_STATUSES = {
    ALL_NEEDING_REVIEW: "All needing review",
    **{status.value: status.label for status in Concern.REVIEWABLE},
}


class ReviewFilterForm(PageForm):
    """`?status=all|open|acknowledged&page=N`: the review queue's filter."""

    status = forms.ChoiceField(required=False, choices=list(REVIEW_STATUSES.items()))

    def chosen(self) -> tuple[str, str]:
        """The status asked for and "" — or every concern needing review and what was wrong."""
        self.is_valid()
        if first_error(self, "status"):
            problem = "That filter is not one we know; showing every concern that needs review."
            return ALL_NEEDING_REVIEW, problem
        return self.cleaned_data.get("status") or ALL_NEEDING_REVIEW, ""
