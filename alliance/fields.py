"""Form fields for numbers, dates and records read only from the digits 0–9, and for
single lines of text.

Python reads the digits of every script: `int("٥٠")` is 50, and so do Django's number
fields and its ISO date-time parser ("٢٠٢٥-٠٣-٠١T١٠:٠٠" is a session time). What was
stored is then not what was sent, and every later check written for 0–9 (a pattern, a
spreadsheet opening the CSV) reads the two differently. These fields refuse such digits
with a clear message before parsing. Every form of the project that takes a number, a
date or a record's id uses them; admin pages and model forms can take them through
`FORMFIELD_OVERRIDES` and `formfield_for`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.dateformat import format as format_date

OTHER_DIGITS = "Use the digits 0–9."
CONTROL_CHARACTERS = "Use one line of text, without control characters."
ASCII_DIGITS = frozenset("0123456789")

# The range of an INTEGER column (32 bits), what Django makes for an IntegerField. A
# whole number field given no bounds of its own is held to it, so a huge number is a
# form error rather than an overflow in the database.
INTEGER_MIN = -(2**31)
INTEGER_MAX = 2**31 - 1

DateBound = Callable[[], dt.date]


def has_other_digits(text: str) -> bool:
    """Whether `text` holds a digit or numeral other than 0–9 ("٥", "５", "²", "Ⅻ")."""
    return any(character.isnumeric() and character not in ASCII_DIGITS for character in text)


def refuse_other_digits(value: Any) -> None:
    if isinstance(value, str) and has_other_digits(value):
        raise ValidationError(OTHER_DIGITS, code="digits")


def record_id_argument(text: str) -> int:
    """A command's record id (argparse's `type=`): argparse's `int` reads "١٢" as 12."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a record id: {OTHER_DIGITS}")
    return int(text)


def spoken_date(day: dt.date) -> str:
    """A date as the pages write it in prose: "1 January 2000"."""
    return format_date(day, "j F Y")


def has_control_characters(text: str, *, allowed: frozenset[str] = frozenset()) -> bool:
    """Whether `text` holds a control character (line breaks, tabs, NUL, escape…) other
    than the `allowed` ones."""
    return any(
        unicodedata.category(character) == "Cc" and character not in allowed for character in text
    )


# --- Labels and names: one line that reads as it shows ------------------------------------

INVISIBLE_CHARACTER = (
    "Remove the invisible character %(character)s: it shows as nothing or turns the text "
    "around, so others would not read what was typed."
)
NOTHING_VISIBLE = "Enter at least one visible character."
# Line and paragraph separators (Zl, Zp) end a line as a line break does.
_LINE_ENDS = frozenset({"Zl", "Zp"})
ZERO_WIDTH_JOINERS = frozenset("\u200c\u200d")
# Letters that draw nothing: the Hangul fillers and the blank Braille pattern, which a label
# made of them alone would show as an empty cell.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")


def _joins(text: str, index: int) -> bool:
    """Whether the zero-width (non-)joiner at `index` joins two characters of a script
    that writes with it: Persian and Indic words (after a virama, a mark) and emoji
    sequences (👩‍⚕️) need one, between two characters that are not ASCII. Anywhere else
    (at an end, beside a space, in Latin text) it only hides a difference."""
    if index == 0 or index == len(text) - 1:
        return False
    return all(
        not neighbour.isascii() and unicodedata.category(neighbour)[0] in "LMNS"
        for neighbour in (text[index - 1], text[index + 1])
    )


def invisible_character(text: str) -> str | None:
    """The first format character (Unicode's Cf) of `text` that is not a joiner joining:
    a zero-width space or a byte order mark that makes two labels look alike, a direction
    mark, embedding, override or isolate that turns what follows around (the "Trojan
    Source" characters), a soft hyphen, a tag; None when there is none."""
    flag_tags = _flag_tags(text)
    for index, character in enumerate(text):
        if unicodedata.category(character) != "Cf" or index in flag_tags:
            continue
        if character in ZERO_WIDTH_JOINERS and _joins(text, index):
            continue
        return character
    return None


BLACK_FLAG = "\U0001f3f4"
CANCEL_TAG = "\U000e007f"
_FLAG_TAG_LETTERS = re.compile(f"{BLACK_FLAG}([\U000e0020-\U000e007e]+){CANCEL_TAG}")


def _flag_tags(text: str) -> set[int]:
    """Where `text` writes a flag of a country's part (🏴 then tag letters and the cancel
    tag: Scotland's, Wales's, England's): those tags draw the flag, as a joiner draws 👩‍⚕️.
    A tag anywhere else shows as nothing."""
    return {
        index
        for found in _FLAG_TAG_LETTERS.finditer(text)
        for index in range(found.start(1), found.end())
    }


def _shows(character: str) -> bool:
    return unicodedata.category(character)[0] in "LNPS" and character not in _BLANK_LETTERS


def character_name(character: str) -> str:
    """An invisible character as a message can name it: "U+200B ZERO WIDTH SPACE"."""
    return f"U+{ord(character):04X} {unicodedata.name(character, '')}".rstrip()


def validate_visible_line(value: Any) -> None:
    """A label or a name (a client's label, a clinic's, an instrument's, a colleague's name
    or username): one line, shown to other people in lists, pages, CSV files and e-mails,
    that must read as it shows. Refuses control characters and line separators, invisible
    format characters (`invisible_character`), and text with nothing visible in it. The
    models' own validator, so a form, the admin, a service and a command all refuse alike;
    strip the text first (forms do, services do)."""
    if not isinstance(value, str) or not value:
        return
    if has_control_characters(value) or any(
        unicodedata.category(character) in _LINE_ENDS for character in value
    ):
        raise ValidationError(CONTROL_CHARACTERS, code="control")
    if (found := invisible_character(value)) is not None:
        params = {"character": character_name(found)}
        raise ValidationError(INVISIBLE_CHARACTER, code="invisible", params=params)
    if not any(_shows(character) for character in value):
        raise ValidationError(NOTHING_VISIBLE, code="blank")


def visible_line_problem(value: str) -> str:
    """What `validate_visible_line` says of `value`, or "" (for code judging plain values)."""
    try:
        validate_visible_line(value)
    except ValidationError as error:
        return error.messages[0]
    return ""


# --- Long text: notes, comments, reasons, notices -------------------------------------------


def written(text: str | None) -> str:
    """Long text as it is kept: without space around it, and empty when nothing in it shows
    (spaces, zero-width and blank characters alone). Such a reason, note or notice passed
    for written and was kept as one nobody can read: a session voided "because" nothing, a
    client's notice box empty on their phone."""
    text = (text or "").strip()
    return text if any(_shows(character) for character in text) else ""


# The bidirectional embeddings, overrides and isolates: each turns the text after it around
# up to its end, so a note or comment can read on the page otherwise than it was written
# ("Trojan Source", CVE-2021-42574), and a reader (a supervisor, the therapist reading a
# client's comment) cannot see why. The direction marks U+200E and U+200F, which only place
# punctuation in right-to-left writing, and the joiners stay welcome in long text.
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
DIRECTION_CONTROL = (
    "Remove the direction control %(character)s: it turns the text after it around, so "
    "others would not read what was written."
)


def direction_control_problem(text: str) -> str:
    """What is wrong with long text holding a direction control, naming it; or ""."""
    for character in text:
        if character in DIRECTION_CONTROLS:
            return DIRECTION_CONTROL % {"character": character_name(character)}
    return ""


def refuse_direction_controls(text: str, *, field: str) -> None:
    """For a service's long text (a note, a reason, a comment, a notice): the form's
    refusal, so a form, the admin and a command refuse alike."""
    if problem := direction_control_problem(text):
        raise ValidationError({field: problem})


LINE_BREAKS = frozenset("\r\n")
PARAGRAPH_CONTROL_CHARACTERS = (
    "Use plain text: line breaks are fine, other control characters are not."
)


def has_control_characters_in_paragraphs(text: str) -> bool:
    """Whether multi-line `text` holds a control character other than a line break."""
    return has_control_characters(text, allowed=LINE_BREAKS)


class SingleLineField(forms.CharField):
    """A line of text (a search) with no control characters.

    A browser's one-line input never sends them; a crafted request can, and a line
    break or an escape sequence in a label would reach CSV files, logs and e-mails.
    """

    default_error_messages = {"control": CONTROL_CHARACTERS}

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and has_control_characters(value):
            raise ValidationError(self.error_messages["control"], code="control")


class NameField(forms.CharField):
    """A label or a name, shown to other people: `validate_visible_line`, the models' own
    check, said on the form before a service says it. Other scripts, emoji and the joiners
    they are written with are welcome: they are how names are written."""

    default_validators = [validate_visible_line]


def one_kind_of_line_break(value: str) -> str:
    """A textarea's maxlength counts a line break as one character, but the browser sends it
    as CRLF: counted as sent, text the page let someone type would be refused as too long.
    One kind of line break, before a length is checked."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


class NoteField(forms.CharField):
    """Free text a clinician writes in a textarea (a note, a reason), its length counted as
    the textarea counts it. Pasted tabs are kept: it is their own writing, shown escaped.
    Direction controls are not: the service that takes the text refuses them
    (`refuse_direction_controls`), and its message is shown on the field."""

    def to_python(self, value: Any) -> Any:
        value = written(super().to_python(value))  # nothing showing is nothing written
        return one_kind_of_line_break(value) if value else value


class ParagraphsField(NoteField):
    """Paragraphs of text (a notice, a client's comment): line breaks, but no other control
    characters.

    A textarea sends line breaks; a tab, NUL or escape sequence comes only from a crafted
    request or a careless paste, and would reach pages, e-mails and logs as it is."""

    default_error_messages = {
        "control": PARAGRAPH_CONTROL_CHARACTERS,
        "direction": DIRECTION_CONTROL,
    }

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and has_control_characters_in_paragraphs(value):
            raise ValidationError(self.error_messages["control"], code="control")
        found = next((c for c in value or "" if c in DIRECTION_CONTROLS), None)
        if found is not None:
            params = {"character": character_name(found)}
            raise ValidationError(self.error_messages["direction"], code="direction", params=params)


class AsciiDigitsMixin:
    """Refuses other scripts' digits before the field's own parsing can read them."""

    def to_python(self, value: Any) -> Any:
        refuse_other_digits(value)
        return super().to_python(value)  # type: ignore[misc]


class WholeNumberField(AsciiDigitsMixin, forms.IntegerField):
    """A whole number in 0–9, within the field's bounds (by default an INTEGER column's).

    Only digits and a sign: `int()` would also read "5_0" as 50."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and "_" in value:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def __init__(
        self, *, min_value: int | None = None, max_value: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            min_value=INTEGER_MIN if min_value is None else min_value,
            max_value=INTEGER_MAX if max_value is None else max_value,
            **kwargs,
        )


class NumberField(AsciiDigitsMixin, forms.FloatField):
    """A number with a fraction, in 0–9 (Django already refuses "nan" and "inf")."""


class DecimalNumberField(AsciiDigitsMixin, forms.DecimalField):
    """A decimal number in 0–9."""


class RecordChoiceField(AsciiDigitsMixin, forms.ModelChoiceField):
    """One record chosen by its id: "٣" is not record 3, whatever `int()` thinks."""


class DateBoundsMixin:
    """Keeps a date within `earliest()`…`latest()` (both included), naming the bound it
    crossed. The bounds are callables, read when the form is checked, since "a year from
    today" moves. The calendar's first and last days are always refused: no whole local
    day surrounds them in every time zone, so they overflow on the way to UTC."""

    default_error_messages = {
        "too_early": "Enter a date on or after %(earliest)s.",
        "too_late": "Enter a date on or before %(latest)s.",
    }

    def __init__(
        self,
        *,
        earliest: DateBound | None = None,
        latest: DateBound | None = None,
        **kwargs: Any,
    ) -> None:
        self.earliest, self.latest = earliest, latest
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)  # type: ignore[misc]
        if value is not None and _day(value) in (dt.date.min, dt.date.max):
            raise ValidationError(self.error_messages["invalid"], code="invalid")  # type: ignore[attr-defined]
        return value

    def validate(self, value: Any) -> None:
        super().validate(value)  # type: ignore[misc]
        if value in self.empty_values:  # type: ignore[attr-defined]
            return
        messages = self.error_messages  # type: ignore[attr-defined]
        if self.earliest is not None and _day(value) < (earliest := self.earliest()):
            params = {"earliest": spoken_date(earliest)}
            raise ValidationError(messages["too_early"], code="too_early", params=params)
        if self.latest is not None and _day(value) > (latest := self.latest()):
            params = {"latest": spoken_date(latest)}
            raise ValidationError(messages["too_late"], code="too_late", params=params)


def _day(value: dt.date) -> dt.date:
    """The calendar day of a date, or of a date-time in the zone it was given in."""
    return value.date() if isinstance(value, dt.datetime) else value


class DateField(AsciiDigitsMixin, DateBoundsMixin, forms.DateField):
    """A date as YYYY-MM-DD (what `<input type="date">` sends), within its bounds."""

    input_formats = ["%Y-%m-%d"]


def clock_change(wall: dt.datetime, zone: dt.tzinfo) -> dt.timedelta:
    """How far the clocks move around the wall-clock time `wall` (naive) in `zone`: more than
    nothing when it happens twice (in the hour the clocks go back, the first time round,
    fold 0, is ahead of UTC by more than the second), less when the clocks skip it, nothing
    on any other night."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() - second.utcoffset()  # type: ignore[operator]


SKIPPED_TIME = (
    "The clocks went forward that night, so %(time)s never happened on %(date)s. "
    "Enter the time the clock showed (%(gap)s later)."
)


def _duration(gap: dt.timedelta) -> str:
    """How far the clocks moved, in words ("an hour", "30 minutes")."""
    minutes = round(gap.total_seconds() / 60)
    return "an hour" if minutes == 60 else f"{minutes} minutes"


class RepeatedHourMixin:
    """Reads a time of the hour the clocks go back, which Django refuses as ambiguous, as
    its first time round: otherwise a session logged then (the log form's own default, "now")
    or dated then could not be saved. A time the clocks skip is refused, saying why."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)  # type: ignore[misc]
        except ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
            zone = timezone.get_current_timezone()
            # The wall-clock time as typed: read in UTC, where no time is ambiguous.
            with timezone.override(dt.UTC):
                wall = super().to_python(value).replace(tzinfo=None)  # type: ignore[misc]
            change = clock_change(wall, zone)
            if change < dt.timedelta(0):
                raise ValidationError(
                    SKIPPED_TIME,
                    code="skipped_time",
                    params={
                        "time": f"{wall:%H:%M}",
                        "date": format_date(wall, "j F Y"),
                        "gap": _duration(-change),
                    },
                ) from error
            if change == dt.timedelta(0):
                raise
            return wall.replace(tzinfo=zone, fold=0)


class DateTimeField(AsciiDigitsMixin, DateBoundsMixin, RepeatedHourMixin, forms.DateTimeField):
    """A date and time (what `<input type="datetime-local">` sends), within its bounds."""


# For a ModelAdmin's `formfield_overrides`: the same fields for every model number and
# record (each integer column's own bounds still apply). The admin's dates need nothing:
# its split date and time fields read 0–9 only already.
FORMFIELD_OVERRIDES: dict[type[models.Field], dict[str, Any]] = {
    models.IntegerField: {"form_class": WholeNumberField},
    models.FloatField: {"form_class": NumberField},
    models.DecimalField: {"form_class": DecimalNumberField},
    models.ForeignKey: {"form_class": RecordChoiceField},
}
# A plain model form's dates go through Django's ISO parser, which reads any digits.
# Date-times first: a DateTimeField is a DateField too.
_MODEL_FORM_FIELDS: list[tuple[type[models.Field], type[forms.Field]]] = [
    (models.DateTimeField, DateTimeField),
    (models.DateField, DateField),
    *((model_field, options["form_class"]) for model_field, options in FORMFIELD_OVERRIDES.items()),
]


def formfield_for(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    """A model form's `formfield_callback`: model numbers, dates and records as above."""
    for model_field, form_class in _MODEL_FORM_FIELDS:
        if isinstance(db_field, model_field):
            return db_field.formfield(**{"form_class": form_class, **kwargs})
    return db_field.formfield(**kwargs)
