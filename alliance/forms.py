"""The bases of our forms: one whose data a service validates and writes, and one for
the filters in a list's address."""

from __future__ import annotations

from typing import Any

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


# A page number is never stored, so it is held to no column's range: any number past the
# end is the last page, however many digits it has.
LAST_PAGE = 2**63 - 1
LAST_PAGE_DIGITS = len(str(LAST_PAGE))


class PageNumberField(WholeNumberField):
    """`?page=`: a whole number from 1 in the digits 0–9, a huge one read as LAST_PAGE."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=LAST_PAGE, **kwargs)

    def to_python(self, value: Any) -> Any:
        # Read by its length before `int()`, which refuses more than 4,300 digits.
        digits = value.strip().removeprefix("+") if isinstance(value, str) else ""
        if digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) >= LAST_PAGE_DIGITS:
            return LAST_PAGE
        return super().to_python(value)


class PageForm(forms.Form):
    """`?page=`: a whole number from 1; anything else is the first page. (The paginator
    turns a page past the end into the last one.) The base of every list's filter form:
    a refused filter beside the page number leaves the page as asked."""

    page = PageNumberField(required=False)

    def number(self) -> int:
        self.is_valid()  # the fields that are valid keep their cleaned value
        return self.cleaned_data.get("page") or 1
