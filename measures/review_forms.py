"""Forms for reviewing a concern. They parse the note; `measures.review` judges it and writes.

The note fields are not `required` here on purpose: the review services check
who may act before they check the note, so a supervisor posting an empty note
is refused (403) rather than shown a form error, and the "a note is needed"
message is written in one place, the service.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from alliance.forms import ServiceForm
from measures.review import NOTE_MAX_LENGTH


def note_field(label: str, help_text: str) -> forms.CharField:
    """A free-text note; the browser asks for it, the service insists on it."""
    return forms.CharField(
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


class ConcernResolveForm(NoteForm):
    id_prefix = "resolve"

    note = note_field(
        "Repair note",
        "What did you talk through or change? e.g. “We talked about the tension over "
        "homework; agreed a slower pace.”",
    )


class ConcernDismissForm(NoteForm):
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
