"""The bases of our forms: one whose data a service validates and writes, and one for
the filters in a list's address."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from alliance.fields import WholeNumberField


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


def first_error(form: forms.Form, name: str) -> ValidationError | None:
    """The first error on field `name`, with its code, or None."""
    errors = form.errors.as_data().get(name)
    return errors[0] if errors else None


class PageForm(forms.Form):
    """`?page=`: a whole number from 1; anything else is the first page. (The paginator
    turns a page past the end into the last one.) The base of every list's filter form."""

    page = WholeNumberField(min_value=1, required=False)

    def number(self) -> int:
        return (self.cleaned_data.get("page") if self.is_valid() else None) or 1
