"""Forms for ratings. They only parse answers; `measures.services` decides and writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alliance.fields import NoteField, ParagraphsField, WholeNumberField
from alliance.forms import ServiceForm
from measures.items import (
    CLIENT_ITEMS,
    CLIENT_RUPTURE_QUESTION,
    DIMENSION_NAMES,
    RUPTURE_RESOLVED_QUESTION,
    THERAPIST_ITEMS,
    THERAPIST_RUPTURE_QUESTION,
)
from measures.models import Instrument, Rating
from measures.outcomes import UNKNOWN_INSTRUMENT
from measures.scoring import DIMENSIONS, SCORE_MAX, SCORE_MIN
from measures.services import (
    COMMENT_MAX_LENGTH,
    COMMENT_NOT_TEXT,
    GUESS_MESSAGE,
    GUESS_QUESTION,
    NOT_RATED_YET,
    UNKNOWN_NOTICE,
)

SCALE_CHOICES = [(str(value), str(value)) for value in range(SCORE_MIN, SCORE_MAX + 1)]


def scale_field(
    label: Any, help_text: Any, *, required: Any = "Please choose a score from 0 to 10."
) -> forms.TypedChoiceField:
    """A required 0–10 answer with no preselected value: no silent default counts."""
    return forms.TypedChoiceField(
        label=label,
        help_text=help_text,
        choices=SCALE_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": required, "invalid_choice": required},
    )


# Shown above the outcome questions when the page sent answers to others (see below).
QUESTIONS_CHANGED = _(
    "These are not the questions your page showed before. Please answer them and send "
    "your answers again: your answers to the other questions are kept."
)


def _without_outcome_answers(sent: QueryDict | dict[str, Any]) -> QueryDict | dict[str, Any]:
    """`sent` (a form's data or initial values) without its outcome answers."""
    kept = sent.copy()
    for name in [name for name in sent if name.startswith("outcome_")]:
        del kept[name]
    return kept


class TherapistRatingForm(ServiceForm):
    """The therapist's own view of a session, item by item."""

    # Nothing chosen for the therapist either: a preselected "None" would be recorded
    # for whoever skips the question, as the client's form knows.
    rupture = forms.ChoiceField(
        label=THERAPIST_RUPTURE_QUESTION,
        choices=Rating.Rupture.choices,
        widget=forms.RadioSelect,
    )
    rupture_resolved = forms.ChoiceField(
        label=RUPTURE_RESOLVED_QUESTION,
        choices=Rating.RuptureResolved.choices,
        widget=forms.RadioSelect,
        required=False,
        help_text="Only if there was a rupture.",
    )
    comment = NoteField(
        label="Note",
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you noticed; the client never sees this.",
    )

    # Optional, so a rating given without it is still whole; a blank answer is no guess.
    guessed_client_score = forms.TypedChoiceField(
        label=GUESS_QUESTION,
        help_text="Your estimate of the client's own score for today, 0 to 10 (optional).",
        choices=SCALE_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": GUESS_MESSAGE},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in reversed(DIMENSIONS):
            self.fields = {
                name: scale_field(str(DIMENSION_NAMES[name]), THERAPIST_ITEMS[name]),
                **self.fields,
            }

    # When the rating was last saved as the page was drawn, "" before there was one
    # (`rating_update`'s `last_changed`): a revision from a second tab, or from a page left
    # open, must not silently undo a rating saved since.
    last_changed = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_last_changed(self) -> dt.datetime | None:
        # Only a guard against undoing a rating unawares, not a permission: a page drawn
        # without it, or a value that is not a moment (a crafted post), leaves it unguarded.
        if "last_changed" not in self.data:
            return None
        text = self.cleaned_data.get("last_changed") or ""
        if not text:
            return NOT_RATED_YET
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return moment if timezone.is_aware(moment) else None

    def scale_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in DIMENSIONS]

    @classmethod
    def initial_from(cls, rating: Rating | None) -> dict[str, Any]:
        if rating is None:
            return {"last_changed": ""}
        return {
            # Its whole ISO form, microseconds and offset: compared exactly when saved.
            "last_changed": rating.updated_at.isoformat(),
            **{name: str(getattr(rating, name)) for name in DIMENSIONS},
            "rupture": rating.rupture,
            "rupture_resolved": rating.rupture_resolved,
            "comment": rating.comment,
            "guessed_client_score": (
                "" if rating.guessed_client_score is None else str(rating.guessed_client_score)
            ),
        }


class ClientRatingForm(ServiceForm):
    """The client's one-minute form: six items, the rupture questions, a comment.

    Every item must be answered and nothing is preselected: a silent default
    would count as an answer the client never gave.
    """

    rupture = forms.ChoiceField(
        label=CLIENT_RUPTURE_QUESTION,
        choices=[
            (Rating.Rupture.NONE, _("No")),
            (Rating.Rupture.A_LITTLE, _("A little")),
            (Rating.Rupture.A_LOT, _("A lot")),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("Please answer this question.")},
    )
    rupture_resolved = forms.ChoiceField(
        label=RUPTURE_RESOLVED_QUESTION,
        choices=[
            (Rating.RuptureResolved.NOT_AT_ALL, _("Not at all")),
            (Rating.RuptureResolved.PARTLY, _("Partly")),
            (Rating.RuptureResolved.FULLY, _("Fully")),
        ],
        widget=forms.RadioSelect,
        required=False,
    )
    comment = ParagraphsField(
        label=_("Anything else you would like your therapist to know? (optional)"),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        # In the client's language, as the service says it: no code point names for them.
        error_messages={"control": COMMENT_NOT_TEXT, "direction": COMMENT_NOT_TEXT},
    )
    # Which version of the clinic's privacy notice the page showed: the service checks it
    # against the clinic's versions and records it with the rating.
    notice_version = WholeNumberField(
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={
            code: UNKNOWN_NOTICE for code in ("required", "invalid", "min_value", "max_value")
        },
    )

    def __init__(
        self, *args: Any, instrument: Instrument | None = None, language: str = "en", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        scales = {
            name: scale_field(
                CLIENT_ITEMS[name], "", required=_("Please choose a number from 0 to 10.")
            )
            for name in DIMENSIONS
        }
        # The outcome check comes first on the page: how life has been since last time,
        # before how today's session was.
        self.outcome_instrument = instrument
        self.outcome_words = instrument.wording(language) if instrument else {}
        self.fields = {**self._outcome_fields(), **scales, **self.fields}
        # A page that named other questions than these (a forged page, or one whose
        # instrument can no longer be taken): its outcome answers were given to questions
        # the client did not read here, so none is shown chosen or kept for these.
        self.questions_changed = self._names_other_questions()
        if self.questions_changed:
            self.data = _without_outcome_answers(self.data)
            self.initial = _without_outcome_answers(self.initial)

    def _names_other_questions(self) -> bool:
        sent = self.data if self.is_bound else self.initial
        if self.outcome_instrument is None or not sent:
            return False
        return sent.get("instrument") != str(self.outcome_instrument.pk)

    def _outcome_fields(self) -> dict[str, forms.Field]:
        if self.outcome_instrument is None:
            return {}
        low, high = self.outcome_instrument.minimum, self.outcome_instrument.maximum
        message = _("Please choose a number from %(low)s to %(high)s.") % {
            "low": low,
            "high": high,
        }
        choices = [(str(value), str(value)) for value in range(low, high + 1)]
        fields: dict[str, forms.Field] = {
            f"outcome_{number}": forms.TypedChoiceField(
                label=item,
                choices=choices,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": message, "invalid_choice": message},
            )
            for number, item in enumerate(self.outcome_words["items"], start=1)
        }
        # Which instrument the page showed: `outcome()` compares it with the one drawn here,
        # and the service checks that one belongs to the clinic.
        fields["instrument"] = WholeNumberField(
            min_value=1,
            widget=forms.HiddenInput,
            initial=self.outcome_instrument.pk,
            error_messages={
                code: UNKNOWN_INSTRUMENT for code in ("required", "invalid", "min_value")
            },
        )
        return fields

    def scale_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in DIMENSIONS]

    def outcome_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("outcome_")]

    def answers_missing(self) -> bool:
        """Whether an answer needs the client's attention (the notice has its own message)."""
        # The comment is optional: its only refusals (too long, not text) are not a
        # missing answer, and the page says them as they are.
        return any(name not in ("notice_version", "instrument", "comment") for name in self.errors)

    def answers(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in ("notice_version", "instrument") and not name.startswith("outcome_")
        }

    def outcome(self) -> tuple[Instrument | None, list[int]] | None:
        """(the instrument shown, its answers in order), or None when it was not asked.
        The instrument is None when the page named another than the one drawn here (a
        stale or forged page): the service refuses it, and the client answers again."""
        if self.outcome_instrument is None:
            return None
        answers = [self.cleaned_data[field.name] for field in self.outcome_fields()]
        named = self.cleaned_data.get("instrument")
        return (self.outcome_instrument if named == self.outcome_instrument.pk else None), answers

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.questions_changed:
            self.errors.pop("instrument", None)
            self.add_error("instrument", QUESTIONS_CHANGED)
        reported = data.get("rupture") not in (None, "", Rating.Rupture.NONE)
        if reported and not data.get("rupture_resolved"):
            self.add_error("rupture_resolved", _("Please say whether it was talked through."))
        return data
