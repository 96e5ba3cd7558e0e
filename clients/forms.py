"""Forms for the client pages. They only parse input: writes go through clients.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from alliance.fields import RecordChoiceField, SingleLineField
from alliance.forms import ServiceForm
from clients.models import Client, User


class ClientForm(ServiceForm):
    """A client's details; the therapist select is added only for clinic admins."""

    label = SingleLineField(
        max_length=40,
        help_text="A pseudonym or initials, never a legal name.",
    )
    external_id = SingleLineField(
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

    def __init__(self, *args: Any, therapists: QuerySet[User] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if therapists is not None:
            self.fields["therapist"] = RecordChoiceField(
                queryset=therapists,
                empty_label="Choose a therapist",
                help_text="The therapist whose caseload the client joins.",
            )
            self.order_fields(["therapist"])
