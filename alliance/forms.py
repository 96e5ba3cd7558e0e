"""The base of every form whose data a service validates and writes."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


class ServiceForm(forms.Form):
    """A form that parses input for a service and shows the service's refusals.

    Services raise `ValidationError` for rules a form cannot see (a duplicate
    external ID, a discharged client); this puts each message on the field it
    names, or above the form.
    """

    def add_service_error(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)
