"""The erasure's confirmation: the client's label, typed back."""

from __future__ import annotations

from typing import Any

from django import forms

from alliance.forms import ServiceForm
from clients.models import Client


class EraseConfirmForm(ServiceForm):
    label = forms.CharField(
        label="Type the client's label to confirm",
        max_length=40,
        help_text="Erasure cannot be undone.",
    )

    def __init__(self, *args: Any, client: Client, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def clean_label(self) -> str:
        label = self.cleaned_data["label"].strip()
        if label != self.client.label:
            raise forms.ValidationError("That is not this client's label.")
        return label
