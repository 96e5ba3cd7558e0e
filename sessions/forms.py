"""Forms for the session log: plain forms, since writes go through `sessions.services`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from alliance.fields import DateTimeField, NoteField, WholeNumberField
from alliance.forms import ServiceForm
from sessions.dates import session_date_bounds
from sessions.models import MAX_DURATION_MINUTES, Session
from sessions.services import NOTES_MAX_LENGTH, VOID_REASON_MAX_LENGTH

# The database's `session_duration_sensible` check, repeated here so a bad
# duration is reported on its own field rather than as a form-wide error.
MIN_DURATION_MINUTES = 1


def default_starts_at() -> dt.datetime:
    """Now in the clinic's time zone, rounded down to five minutes."""
    now = timezone.localtime()
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


def _wall_minute(moment: dt.datetime) -> dt.datetime:
    """The clinic's wall-clock minute of `moment`, as the form shows it (naive: the two
    01:30s of the night the clocks go back compare equal)."""
    return timezone.localtime(moment).replace(second=0, microsecond=0, tzinfo=None, fold=0)


class SessionForm(ServiceForm):
    """A session's date, length, attendance, modality and private notes.

    Field names are the keyword arguments of `session_log` and `session_update`.
    """

    starts_at = DateTimeField(
        label="Date and time",
        # Typed and shown in the clinic's local time; Django converts to UTC.
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        earliest=lambda: session_date_bounds().earliest,
        latest=lambda: session_date_bounds().latest,
        error_messages={
            "too_early": "A session can't be dated before %(earliest)s.",
            "too_late": "A session can't be dated after %(latest)s.",
        },
    )
    duration_minutes = WholeNumberField(
        label="Duration (minutes)",
        min_value=MIN_DURATION_MINUTES,
        max_value=MAX_DURATION_MINUTES,
        initial=50,
    )
    attendance = forms.ChoiceField(
        choices=Session.Attendance.choices,
        initial=Session.Attendance.ATTENDED,
        widget=forms.RadioSelect,
    )
    modality = forms.ChoiceField(
        choices=Session.Modality.choices,
        initial=Session.Modality.IN_PERSON,
        widget=forms.RadioSelect,
    )
    notes = NoteField(
        label="Private notes",
        required=False,
        max_length=NOTES_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Only you can read these.",
    )

    def clean_starts_at(self) -> dt.datetime | None:
        """A date and time left as the form gave it is the moment it was given, even in the
        hour the clocks go back, when the wall-clock time alone can't tell which of the two
        it was (the field reads it as the first)."""
        starts_at = self.cleaned_data.get("starts_at")
        initial = self.initial.get("starts_at")
        unchanged = (
            isinstance(starts_at, dt.datetime)
            and isinstance(initial, dt.datetime)
            and _wall_minute(starts_at) == _wall_minute(initial)
        )
        return initial if unchanged else starts_at

    @classmethod
    def initial_for(cls, session: Session) -> dict[str, Any]:
        """The form's values for an existing session."""
        return {name: getattr(session, name) for name in cls.base_fields}


class SessionEditForm(SessionForm):
    """An existing session's form, which also carries when the session was last changed as
    the form was drawn (`session_update`'s `last_changed`): an edit saved from a second tab,
    or from a form left open, must not silently undo a change saved since."""

    last_changed = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_last_changed(self) -> dt.datetime | None:
        # Only a guard against undoing a change unawares, not a permission: a value that is
        # not a moment (a crafted post, an old page without it) leaves the edit unguarded.
        try:
            moment = dt.datetime.fromisoformat(self.cleaned_data.get("last_changed") or "")
        except ValueError:
            return None
        return moment if timezone.is_aware(moment) else None

    @classmethod
    def initial_for(cls, session: Session) -> dict[str, Any]:
        return {
            **{name: getattr(session, name) for name in SessionForm.base_fields},
            # Its whole ISO form, microseconds and offset: compared exactly when saved.
            "last_changed": session.updated_at.isoformat(),
        }


class SessionVoidForm(ServiceForm):
    """Why a session is voided; the field name is `session_void`'s keyword argument."""

    reason = NoteField(
        label="Reason",
        max_length=VOID_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "For example: logged for the wrong client, or logged twice. Kept with the session, "
            "for those who may see it."
        ),
        error_messages={
            "required": "Say why this session is voided.",
            "max_length": f"Keep the reason to {VOID_REASON_MAX_LENGTH} characters or fewer.",
        },
    )
