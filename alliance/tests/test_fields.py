"""The shared form fields: numbers and dates in the digits 0–9, single lines of text."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models
from django.utils import timezone

from alliance.env import env_date
from alliance.fields import (
    FORMFIELD_OVERRIDES,
    INTEGER_MAX,
    DateField,
    DateTimeField,
    DecimalNumberField,
    NameField,
    NoteField,
    NumberField,
    ParagraphsField,
    RecordChoiceField,
    SingleLineField,
    WholeNumberField,
    formfield_for,
    validate_visible_line,
)
from clients.models import Client

OTHER_DIGITS = ["٥٠", "۵۰", "५०", "５０", "𝟓𝟎", "5٠", "²", "½", "Ⅻ"]


@pytest.mark.parametrize("typed", OTHER_DIGITS)
@pytest.mark.parametrize("field", [WholeNumberField(), NumberField(), DecimalNumberField()])
def test_a_number_in_another_script_is_refused_with_a_clear_message(
    field: forms.Field, typed: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        field.clean(typed)
    assert refused.value.messages == ["Use the digits 0–9."]


@pytest.mark.parametrize(
    ("field", "typed", "value"),
    [
        (WholeNumberField(), " 50 ", 50),
        (WholeNumberField(), "-3", -3),
        (NumberField(), "2.5", 2.5),
        (DecimalNumberField(), "1.50", __import__("decimal").Decimal("1.50")),
    ],
)
def test_numbers_in_the_digits_0_to_9_are_read_as_before(
    field: forms.Field, typed: str, value: object
) -> None:
    assert field.clean(typed) == value


def test_a_whole_number_without_bounds_of_its_own_fits_an_integer_column() -> None:
    field = WholeNumberField()
    assert field.clean(str(INTEGER_MAX)) == INTEGER_MAX
    for typed in (str(INTEGER_MAX + 1), str(-INTEGER_MAX - 2), "9" * 5000):
        with pytest.raises(ValidationError):
            field.clean(typed)


@pytest.mark.parametrize("typed", ["nan", "inf", "-Infinity"])
def test_a_number_must_be_finite(typed: str) -> None:
    for field in (NumberField(), DecimalNumberField()):
        with pytest.raises(ValidationError):
            field.clean(typed)
    with pytest.raises(ValidationError):
        NumberField().clean("1e400")  # beyond a float: infinity


@pytest.mark.parametrize(
    "typed", ["٢٠٢٥-٠٣-٠١T١٠:٠٠", "2025-03-01T١٠:00", "２０２５-03-01T10:00", "2025-03-01T10:0٠"]
)
def test_a_date_and_time_in_another_script_is_refused(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DateTimeField().clean(typed)
    assert refused.value.messages == ["Use the digits 0–9."]


@pytest.mark.parametrize("typed", ["٢٠٢٥-٠٣-٠١", "2025-03-0١", "２０２５-03-01"])
def test_a_date_in_another_script_is_refused(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DateField().clean(typed)
    assert refused.value.messages == ["Use the digits 0–9."]


@pytest.mark.parametrize("typed", ["20250301", "2025-W09-6", "03/01/2025", "1 March 2025"])
def test_a_date_is_written_yyyy_mm_dd(typed: str) -> None:
    assert DateField().clean("2025-03-01") == dt.date(2025, 3, 1)
    with pytest.raises(ValidationError):
        DateField().clean(typed)


def test_a_date_outside_its_bounds_names_the_bound() -> None:
    field = DateField(earliest=lambda: dt.date(2000, 1, 1), latest=lambda: dt.date(2026, 5, 31))
    assert field.clean("2000-01-01") == dt.date(2000, 1, 1)
    assert field.clean("2026-05-31") == dt.date(2026, 5, 31)
    with pytest.raises(ValidationError) as refused:
        field.clean("1999-12-31")
    assert refused.value.messages == ["Enter a date on or after 1 January 2000."]
    with pytest.raises(ValidationError) as refused:
        field.clean("2026-06-01")
    assert refused.value.messages == ["Enter a date on or before 31 May 2026."]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles"])
@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_the_calendars_ends_are_no_date_and_time_in_any_zone(zone: str, typed: str) -> None:
    with timezone.override(zone), pytest.raises(ValidationError) as refused:
        DateTimeField().clean(typed)
    assert refused.value.code == "invalid"


@pytest.mark.parametrize("typed", ["M.\x00K.", "R.\nK.", "R.\tK.", "R.\x1b[31mK.", "R.\x85K."])
def test_a_single_line_has_no_control_characters(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        SingleLineField().clean(typed)
    assert refused.value.messages == ["Use one line of text, without control characters."]


@pytest.mark.parametrize("typed", ["李 明", "م.ك.", "R.K. 👩‍⚕️", "می‌خواهم", "<b>R.K.</b>"])
def test_a_single_line_takes_any_script(typed: str) -> None:
    assert SingleLineField().clean(f"  {typed}\n") == typed


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("R.K.\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\ufeffR.K.", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("\u202eK.R", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("R.\u202aK.\u202c", "U+202A LEFT-TO-RIGHT EMBEDDING"),
        ("\u2067R.K.\u2069", "U+2067 RIGHT-TO-LEFT ISOLATE"),
        ("R.K.\u200f", "U+200F RIGHT-TO-LEFT MARK"),
        ("R.\u200dK.", "U+200D ZERO WIDTH JOINER"),  # joins nothing in Latin text
        ("R.\u200cK.", "U+200C ZERO WIDTH NON-JOINER"),
        ("\u200dمی", "U+200D ZERO WIDTH JOINER"),  # at an end, it joins nothing
        ("R.\u00adK.", "U+00AD SOFT HYPHEN"),
        ("R.K.\U000e0041", "U+E0041 TAG LATIN CAPITAL LETTER A"),
        # Tags draw a flag only after the black flag, up to the cancel tag.
        ("R.K.\U000e0073\U000e0063\U000e0074\U000e007f", "U+E0073 TAG LATIN SMALL LETTER S"),
    ],
)
def test_a_name_refuses_invisible_and_direction_changing_characters_naming_them(
    typed: str, named: str
) -> None:
    """A label or a name is shown to others: "R.K." and "R.K.\u200b" look the same in a
    list, and an override turns what follows around on every page, CSV and e-mail."""
    for check in (NameField().clean, validate_visible_line):
        with pytest.raises(ValidationError) as refused:
            check(typed)
        assert [error.code for error in refused.value.error_list] == ["invisible"]
        assert refused.value.messages == [
            f"Remove the invisible character {named}: it shows as nothing or turns the text "
            "around, so others would not read what was typed."
        ]


@pytest.mark.parametrize("typed", ["R.\u2028K.", "R.\u2029K.", "R.\x85K.", "R.\x00K."])
def test_a_name_is_one_line_without_control_characters(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_visible_line(typed)
    assert refused.value.messages == ["Use one line of text, without control characters."]


@pytest.mark.parametrize(
    "typed", ["\u200b", "\u200b\u200b", "\ufeff", "\u3164", "\u2800", "\u0301"]
)
def test_a_name_of_only_invisible_characters_is_not_a_name(typed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NameField().clean(f" {typed} ")
    assert refused.value.error_list[0].code in ("invisible", "blank")


@pytest.mark.parametrize(
    "typed",
    [
        *["李 明", "م.ك.", "R.K. 👩‍⚕️", "❤️‍🔥", "می‌خواهم", "क्‍ष", "José", "Zoë", "<b>R.K.</b>"],
        # Scotland's and Wales's flags: the black flag, tag letters, the cancel tag.
        "R.K. \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
        "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",
    ],
)
def test_a_name_takes_any_script_and_the_joiners_it_is_written_with(typed: str) -> None:
    assert NameField().clean(f"  {typed}\n") == typed
    validate_visible_line(typed)


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("We agreed \u202eecap rewols a\u202c.", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("Line one.\n\u2066Line two.\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("\u202bשלום\u202c", "U+202B RIGHT-TO-LEFT EMBEDDING"),
    ],
)
def test_paragraphs_refuse_direction_controls_naming_them(typed: str, named: str) -> None:
    """A comment or notice turned around reads otherwise than written, to the therapist or
    the client, who cannot see why. (A clinician's note is judged by its service.)"""
    with pytest.raises(ValidationError) as refused:
        ParagraphsField().clean(typed)
    assert [error.code for error in refused.value.error_list] == ["direction"]
    assert refused.value.messages == [
        f"Remove the direction control {named}: it turns the text after it around, so "
        "others would not read what was written."
    ]


@pytest.mark.parametrize("field", [NoteField, ParagraphsField])
def test_long_text_keeps_line_breaks_direction_marks_and_joiners(
    field: type[forms.Field],
) -> None:
    typed = "שלום, R.K.\u200f!\nمی‌خواهم\n👩‍⚕️ ok\u200b"
    assert field().clean(typed) == typed


@pytest.mark.parametrize("sent", ["One.\r\nTwo.", "One.\rTwo.", "One.\nTwo."])
def test_paragraphs_count_a_line_break_once_as_the_textarea_did(sent: str) -> None:
    """A textarea's maxlength counts a line break as one character; browsers send CRLF."""
    assert ParagraphsField(max_length=9).clean(sent) == "One.\nTwo."


@pytest.mark.django_db
def test_a_record_is_chosen_by_its_id_in_the_digits_0_to_9(client_record: Client) -> None:
    field = RecordChoiceField(queryset=Client.objects.all())
    assert field.clean(str(client_record.pk)) == client_record
    arabic = str(client_record.pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    with pytest.raises(ValidationError) as refused:
        field.clean(arabic)
    assert refused.value.messages == ["Use the digits 0–9."]


def test_model_forms_get_the_same_fields() -> None:
    class Form(forms.ModelForm):
        class Meta:
            model = Client
            fields = ["label", "therapist", "created_at"]
            formfield_callback = formfield_for

    form = Form()
    assert isinstance(form.fields["therapist"], RecordChoiceField)
    assert isinstance(form.fields["created_at"], DateTimeField)
    number = formfield_for(models.PositiveSmallIntegerField())
    assert isinstance(number, WholeNumberField) and number.min_value == 0


def test_env_date_reads_yyyy_mm_dd_only(monkeypatch: pytest.MonkeyPatch) -> None:
    default = dt.date(2000, 1, 1)
    assert env_date("EARLIEST", default) == default
    monkeypatch.setenv("EARLIEST", " 2010-06-01 ")
    assert env_date("EARLIEST", default) == dt.date(2010, 6, 1)
    for raw in ("2010-6-1", "20100601", "٢٠١٠-٠٦-٠١", "2010-02-30", "yesterday"):
        monkeypatch.setenv("EARLIEST", raw)
        with pytest.raises(ImproperlyConfigured, match="EARLIEST must be a date as YYYY-MM-DD"):
            env_date("EARLIEST", default)


@pytest.mark.django_db
def test_an_admin_with_the_overrides_reads_numbers_and_records_in_0_to_9(
    rf: Any, clinic_admin: Any
) -> None:
    """What the admin modules get from `formfield_overrides = FORMFIELD_OVERRIDES`."""
    from django.contrib import admin

    from sessions.models import Session

    class SessionAdmin(admin.ModelAdmin):
        formfield_overrides = FORMFIELD_OVERRIDES

    request = rf.get("/admin/")
    request.user = clinic_admin
    request.user.is_superuser = True
    form_class = SessionAdmin(Session, admin.site).get_form(request)
    fields = form_class.base_fields
    assert isinstance(fields["duration_minutes"], WholeNumberField)
    assert isinstance(fields["number"], WholeNumberField)
    assert isinstance(fields["client"], RecordChoiceField)
    # The admin's own split date and time fields already read 0–9 only.
    assert isinstance(fields["starts_at"], forms.SplitDateTimeField)
    form = form_class({"duration_minutes": "٥٠", "number": "١", "starts_at_0": "٢٠٢٥-٠٣-٠١"})
    assert form.errors["duration_minutes"] == ["Use the digits 0–9."]
    assert form.errors["number"] == ["Use the digits 0–9."]
    assert "starts_at" in form.errors


def test_a_whole_number_is_digits_not_pythons_underscored_literal() -> None:
    from alliance.fields import WholeNumberField

    field = WholeNumberField()
    assert field.clean("50") == 50
    with pytest.raises(ValidationError):
        field.clean("5_0")


NOTHING_SHOWING = ["\u200b", "\ufeff\u200b", " \u200b\n\u2800 ", "\u3164"]


@pytest.mark.parametrize("typed", NOTHING_SHOWING)
@pytest.mark.parametrize("field", [NoteField, ParagraphsField])
def test_long_text_of_nothing_showing_is_nothing_written(
    field: type[forms.Field], typed: str
) -> None:
    """A reason or note of zero-width or blank characters alone passed for written, and was
    kept as one nobody could read."""
    with pytest.raises(ValidationError) as refused:
        field().clean(typed)
    assert [error.code for error in refused.value.error_list] == ["required"]
    assert field(required=False).clean(typed) == ""
