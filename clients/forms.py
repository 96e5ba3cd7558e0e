"""Forms for the client pages. They only parse input: writes go through clients.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from alliance.fields import NameField, ParagraphsField, RecordChoiceField, WholeNumberField
from alliance.forms import ServiceForm
from clients.colleagues import ColleagueChoiceField
from clients.models import NOTICE_MAX_LENGTH, RETENTION_MAX_DAYS, Client, Clinic, User


class ClientForm(ServiceForm):
    """A client's details; the therapist select is added only for clinic admins."""

    label = NameField(
        max_length=40,
        help_text="A pseudonym or initials, never a legal name.",
    )
    external_id = NameField(
        label="External ID",
        max_length=64,
        required=False,
        help_text="Optional reference in the clinic's own records system.",
    )
    email = forms.EmailField(
        label="E-mail",
        required=False,
        help_text="Optional: used only to send rating links.",
    )
    language = forms.ChoiceField(
        choices=Client.Language.choices,
        initial=Client.Language.ENGLISH,
        help_text="The language of the client's rating form.",
    )
    asks_outcome = forms.BooleanField(
        label="Ask the outcome check on the rating link",
        required=False,
        initial=True,
        help_text="A few questions on how life has been since the last session, before the "
        "alliance questions. Turn off when they would not fit this client.",
    )
    shows_own_chart = forms.BooleanField(
        label="After rating, show the client their own chart",
        required=False,
        initial=False,
        help_text="Their alliance and outcome over time, on their phone, in plain words.",
    )

    def __init__(self, *args: Any, therapists: QuerySet[User] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if therapists is not None:
            self.fields["therapist"] = RecordChoiceField(
                queryset=therapists,
                empty_label="Choose a therapist",
                help_text="The therapist whose caseload the client joins.",
            )
            self.order_fields(["therapist"])


class ClinicNameForm(ServiceForm):
    """The clinic's name, as its pages, exports, invitations and default notice say it; its
    address (slug) stays."""

    name = NameField(
        label="Clinic name",
        max_length=Clinic._meta.get_field("name").max_length,
        help_text="Clients read it on their rating form and in its default privacy notice; "
        "colleagues, in their invitations and e-mails.",
    )


class ClinicRetentionForm(ServiceForm):
    """How long a discharged client's record is kept, and whether an erased client's
    numbers still count (README "The client's rights")."""

    retention_days_after_discharge = WholeNumberField(
        label="Keep records after discharge (days)",
        min_value=1,
        max_value=RETENTION_MAX_DAYS,
        required=False,
        help_text="After this many days a discharged client is anonymised by the nightly "
        "task. Leave empty to keep records until someone erases them.",
    )
    keep_numbers_after_erasure = forms.BooleanField(
        label="Keep an erased client's numbers in the clinic's statistics",
        required=False,
        help_text="Scores and dates stay, without anything that names the client.",
    )


class ClinicNoticeForm(ServiceForm):
    """The clinic's own wording of the client form's privacy notice; blank keeps the default."""

    notice_en = ParagraphsField(
        label="Notice in English",
        max_length=NOTICE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Leave blank to show the default wording above.",
    )
    notice_es = ParagraphsField(
        label="Notice in Spanish",
        max_length=NOTICE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown to clients whose form is in Spanish. Leave blank for the default.",
    )


class MoveForm(ServiceForm):
    """The therapist who receives a client or a caseload; `confirmed` once the admin has
    seen the confirmation page."""

    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        therapists: QuerySet[User],
        clients: QuerySet[Client] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["therapist"] = ColleagueChoiceField(
            queryset=therapists,
            label="Move to",
            empty_label="Choose a therapist",
            help_text="An active therapist of the clinic.",
        )
        if clients is not None:
            # The clients the confirmation page listed: exactly those move.
            self.fields["clients"] = forms.ModelMultipleChoiceField(
                queryset=clients, required=False, widget=forms.MultipleHiddenInput
            )
        self.order_fields(["therapist"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Hidden fields' errors show nowhere on the page: say it above the form.
        if "clients" in self._errors or "confirmed" in self._errors:
            raise forms.ValidationError(
                "The list of clients changed since it was shown: choose the therapist and "
                "check the list again."
            )
        return cleaned


class ClientMoveForm(MoveForm):
    """Moving one client: the confirmation page also sends the therapist it named as the
    client's, so a client another admin moved meanwhile is not moved on from where they
    now are (`moves.client_move` compares it under the client's lock)."""

    from_therapist = WholeNumberField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "from_therapist" in self._errors or (
            cleaned.get("confirmed") and cleaned.get("from_therapist") is None
        ):
            raise forms.ValidationError(
                "The confirmation page was out of date: choose the therapist and confirm again."
            )
        return cleaned
