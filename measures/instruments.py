"""A clinic's outcome instruments: add one it holds a licence for, choose the one its
clients answer, retire one.

An instrument is data (`measures.models.outcomes`), and a definition is the shape of
`measures/definitions/outcome_check.json`: name, text (per language: intro, items, low,
high), minimum, maximum, scoring, higher_is_better, cutoff, reliable_change, licence.
`definition_problems` judges one with plain values, so a form and a command show the same
messages; the services below are the only writes — from the Instruments page and from
`manage.py instrument_load` — and each is recorded in the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from alliance.fields import (
    direction_control_problem,
    has_control_characters,
    visible_line_problem,
)
from clients import audit
from clients.models import AuditAction, Clinic, User
from clients.scoping import is_clinic_admin_of
from measures import tracking
from measures.models import Instrument

logger = logging.getLogger(__name__)

Problems = dict[str, list[str]]

FIELDS = frozenset(
    {
        "name",
        "text",
        "minimum",
        "maximum",
        "scoring",
        "higher_is_better",
        "cutoff",
        "reliable_change",
        "licence",
    }
)
LANGUAGES = ("en", "es")  # English is required; a client's form falls back to it
PARTS = {
    "intro": "the question that introduces the items",
    "items": "the items",
    "low": "the label of the lowest answer",
    "high": "the label of the highest answer",
}
# Clients answer after every session, on a phone: the session-by-session measures in use
# are far shorter (ORS 4 items, GAD-7 7, PHQ-9 9, CORE-10 10).
MAX_ITEMS = 30
# Answer scales in use run 0–3, 1–7, 0–10, or 0–100 for a visual analogue; the bounds
# refuse a slip of the keyboard and keep any total inside the score columns (±99,999.99).
LOWEST_ANSWER, HIGHEST_ANSWER = -100, 1000
MAX_NAME = Instrument._meta.get_field("name").max_length
MAX_WORDING = 500

UNKNOWN_FIELDS = "The definition has fields Alliance does not know: {names}."
NAME_MISSING = "Give the instrument a name."
NAME_TOO_LONG = f"Keep the name to {MAX_NAME} characters."
TEXT_SHAPE = (
    'Give the wording per language: {"en": {"intro": …, "items": […], "low": …, "high": …}}.'
)
UNKNOWN_LANGUAGE = "Wording can be given in English (en) and Spanish (es) only, not in {codes}."
MISSING_EN = "Write {part} in English."
MISSING_ES = "Write {part} in Spanish too, or leave all the Spanish blank."
NOT_PLAIN_TEXT = "Use plain text on one line, without control characters."
WORDING_TOO_LONG = f"Keep each line to {MAX_WORDING} characters."
ITEMS_MISSING = "Give at least one item, in English."
ITEMS_NOT_LIST = "Give the items as a list of texts, one per item."
ITEM_BLANK = "Each item needs words."
TOO_MANY_ITEMS = f"Keep to {MAX_ITEMS} items at most."
ITEMS_COUNT_ES = (
    "Give as many items in Spanish as in English ({count}), or leave all the Spanish blank."
)
ANSWER_NOT_WHOLE = "The {end} answer must be a whole number."
ANSWER_OUT_OF_BOUNDS = f"Answers must lie between {LOWEST_ANSWER} and {HIGHEST_ANSWER}."
RANGE_EMPTY = "The highest answer must be above the lowest."
SCORING_UNKNOWN = "Choose how the items are scored: their sum or their mean."
DIRECTION_MISSING = "Say whether a higher or a lower score is better."
NOT_A_NUMBER = "{what} must be a number."
TOO_MANY_PLACES = "Give {what} to two decimal places at most."
CUTOFF_OUTSIDE = "The cut-off must lie inside the score range, between {low} and {high}."
CHANGE_NOT_POSITIVE = "Reliable change must be more than 0."
CHANGE_TOO_LARGE = "Reliable change must be smaller than the score range ({width})."
LICENCE_MISSING = "Say who holds the licence to use this instrument, and on what terms."

NOT_FOR_YOU = "Only a clinic admin of this clinic manages its outcome instruments."
ANOTHER_CLINICS = "This instrument belongs to another clinic."
RETIRED_NOT_USABLE = "A retired instrument cannot be used again; add it anew if needed."
ALREADY_RETIRED = "This instrument is already retired."
BUILT_IN_STAYS = "The built-in check is offered to every clinic and cannot be retired."


# --- The definition, judged with plain values --------------------------------------------


def definition_problems(definition: Mapping[str, Any], *, needs_licence: bool = True) -> Problems:
    """Every problem of `definition`, by the name of the form field it concerns (`intro_en`,
    `items_es`, `cutoff`…); empty when it can be an instrument. A clinic's own instrument
    `needs_licence` stated; the built-in check is Alliance's own wording."""
    found: list[tuple[str, str]] = []
    unknown = sorted(set(definition) - FIELDS)
    if unknown:
        found.append((NON_FIELD_ERRORS, UNKNOWN_FIELDS.format(names=", ".join(unknown))))
    found += _name_problems(definition.get("name"))
    items, wording = _wording_problems(definition.get("text"))
    found += wording
    found += _scale_problems(definition, items)
    if needs_licence and not _text(definition.get("licence")):
        found.append(("licence", LICENCE_MISSING))
    elif problem := direction_control_problem(_text(definition.get("licence"))):
        found.append(("licence", problem))
    problems: Problems = {}
    for field, message in found:
        problems.setdefault(field, []).append(message)
    return problems


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _name_problems(name: Any) -> list[tuple[str, str]]:
    problem = _line_problem(name, NAME_MISSING)
    if problem in (None, WORDING_TOO_LONG) and len(name.strip()) > MAX_NAME:
        problem = NAME_TOO_LONG
    return [("name", problem)] if problem else []


def _blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _line_problem(value: Any, missing: str) -> str | None:
    """What is wrong with one line of wording (`missing` when there is none), or None."""
    if _blank(value):
        return missing
    if not isinstance(value, str) or has_control_characters(value):
        return NOT_PLAIN_TEXT
    # Clients read the wording and everyone the name: an invisible or direction-changing
    # character, or a line of nothing visible, is refused as in every label.
    if problem := visible_line_problem(value.strip()):
        return problem
    return WORDING_TOO_LONG if len(value.strip()) > MAX_WORDING else None


def _wording_problems(text: Any) -> tuple[int, list[tuple[str, str]]]:
    """How many English items there are, and the problems of the wording."""
    text = {} if text is None else text
    if not isinstance(text, Mapping) or not all(isinstance(w, Mapping) for w in text.values()):
        return 0, [("text", TEXT_SHAPE)]
    found = []
    if others := sorted(set(text) - set(LANGUAGES)):
        found.append(("text", UNKNOWN_LANGUAGE.format(codes=", ".join(others))))
    count, english = _language_problems("en", text.get("en") or {}, MISSING_EN)
    found += english
    spanish = text.get("es") or {}
    # Spanish is optional, but half a translation would show clients a mix of languages.
    if any(not _blank(spanish.get(part)) for part in PARTS):
        spanish_count, problems = _language_problems("es", spanish, MISSING_ES)
        found += problems
        if count and spanish_count and spanish_count != count:
            found.append(("items_es", ITEMS_COUNT_ES.format(count=count)))
    return count, found


def _language_problems(
    code: str, wording: Mapping[str, Any], missing: str
) -> tuple[int, list[tuple[str, str]]]:
    """One language's lines and items: how many items, and the problems."""
    found = []
    for part in ("intro", "low", "high"):
        if problem := _line_problem(wording.get(part), missing.format(part=PARTS[part])):
            found.append((f"{part}_{code}", problem))
    items = wording.get("items")
    if not isinstance(items, list | None):
        return 0, [*found, (f"items_{code}", ITEMS_NOT_LIST)]
    items = items or []
    none_given = ITEMS_MISSING if code == "en" else missing.format(part=PARTS["items"])
    problems = [] if items else [none_given]
    if len(items) > MAX_ITEMS:
        problems.append(TOO_MANY_ITEMS)
    for item in items:
        problem = _line_problem(item, ITEM_BLANK)
        if problem and problem not in problems:
            problems.append(problem)
    return len(items), [*found, *((f"items_{code}", problem) for problem in problems)]


def _whole(value: Any) -> int | None:
    # A JSON true is an int to Python; it is no answer.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _decimal(value: Any) -> Decimal | None:
    """A number given as a number or as text ("6.25", as in the JSON files), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _shown(number: float) -> str:
    return f"{number:g}"


def _number_problems(value: Any, field: str, what: str) -> list[tuple[str, str]]:
    number = _decimal(value)
    if number is None:
        return [(field, NOT_A_NUMBER.format(what=what))]
    # Checked only for a number the score columns could hold; a larger one is refused by
    # its range (and quantize() would overflow on it).
    if abs(number) < 10**6 and number != number.quantize(Decimal("0.01")):
        return [(field, TOO_MANY_PLACES.format(what=what.lower()))]
    return []


def _answer_problems(definition: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for field, end in (("minimum", "lowest"), ("maximum", "highest")):
        value = _whole(definition.get(field))
        if value is None:
            found.append((field, ANSWER_NOT_WHOLE.format(end=end)))
        elif not LOWEST_ANSWER <= value <= HIGHEST_ANSWER:
            found.append((field, ANSWER_OUT_OF_BOUNDS))
    if not found and definition["maximum"] <= definition["minimum"]:
        found.append(("maximum", RANGE_EMPTY))
    if definition.get("scoring") not in (tracking.SUM, tracking.MEAN):
        found.append(("scoring", SCORING_UNKNOWN))
    if not isinstance(definition.get("higher_is_better"), bool):
        found.append(("higher_is_better", DIRECTION_MISSING))
    return found


def _scale_problems(definition: Mapping[str, Any], items: int) -> list[tuple[str, str]]:
    """The answers, scoring and direction; the cut-off and reliable change within the
    score range, once that range is known."""
    answers = _answer_problems(definition)
    cutoff = _number_problems(definition.get("cutoff"), "cutoff", "The cut-off")
    change = _number_problems(
        definition.get("reliable_change"), "reliable_change", "Reliable change"
    )
    found = [*answers, *cutoff, *change]
    if not change and _decimal(definition["reliable_change"]) <= 0:
        found.append(("reliable_change", CHANGE_NOT_POSITIVE))
    if {"minimum", "maximum", "scoring"} & {field for field, _ in answers} or not items:
        return found
    low, high = tracking.score_range(
        definition["minimum"], definition["maximum"], definition["scoring"], items
    )
    if not cutoff and not low < _decimal(definition["cutoff"]) < high:
        found.append(("cutoff", CUTOFF_OUTSIDE.format(low=_shown(low), high=_shown(high))))
    if not change and _decimal(definition["reliable_change"]) >= high - low:
        found.append(("reliable_change", CHANGE_TOO_LARGE.format(width=_shown(high - low))))
    return found


def _wording(wording: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "intro": wording["intro"].strip(),
        "items": [item.strip() for item in wording["items"]],
        "low": wording["low"].strip(),
        "high": wording["high"].strip(),
    }


def instrument_fields(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The model's values for a definition without problems: its lines stripped, Spanish
    only where given, the cut-off and reliable change as decimals."""
    text = definition["text"]
    spanish = text.get("es") or {}
    wording = {"en": _wording(text["en"])}
    if any(not _blank(spanish.get(part)) for part in PARTS):
        wording["es"] = _wording(spanish)
    return {
        "name": definition["name"].strip(),
        "text": wording,
        "minimum": definition["minimum"],
        "maximum": definition["maximum"],
        "scoring": definition["scoring"],
        "higher_is_better": definition["higher_is_better"],
        "cutoff": _decimal(definition["cutoff"]),
        "reliable_change": _decimal(definition["reliable_change"]),
        "licence": _text(definition.get("licence")),
    }


# --- Writes ------------------------------------------------------------------------------


def _check_may_manage(actor: User | None, clinic_id: int | None) -> None:
    """A clinic's admins manage its instruments; `actor` None is the command line."""
    if actor is not None and not is_clinic_admin_of(actor, clinic_id):
        raise PermissionDenied(NOT_FOR_YOU)


@transaction.atomic
def instrument_add(
    *, clinic: Clinic, definition: Mapping[str, Any], actor: User | None = None
) -> Instrument:
    """Add an instrument the clinic holds a licence for; not in use until chosen."""
    _check_may_manage(actor, clinic.pk)
    problems = definition_problems(definition)
    if problems:
        raise ValidationError(problems)
    instrument = Instrument(
        clinic=clinic, created_by=actor, in_use=False, **instrument_fields(definition)
    )
    instrument.full_clean()
    instrument.save()
    audit.written(actor, AuditAction.CREATED, instrument)
    return instrument


@transaction.atomic
def instrument_use(
    *, clinic: Clinic, instrument: Instrument | None, actor: User | None = None
) -> Instrument | None:
    """From now on the clinic's clients answer `instrument`; None (or the built-in check)
    goes back to the built-in check. Answers already given stay with their instrument."""
    _check_may_manage(actor, clinic.pk)
    if instrument is not None and instrument.is_built_in:
        instrument = None
    if instrument is not None and instrument.clinic_id != clinic.pk:
        raise PermissionDenied(ANOTHER_CLINICS)
    # Locked (in one order), so two admins choosing at once end with one in use, the
    # later choice; the partial unique constraint is the backstop.
    rows = {
        row.pk: row
        for row in Instrument.objects.select_for_update().filter(clinic_id=clinic.pk).order_by("pk")
    }
    chosen = rows[instrument.pk] if instrument is not None else None
    if chosen is not None and chosen.retired_at is not None:
        raise ValidationError(RETIRED_NOT_USABLE)
    changed = [row for row in rows.values() if row.in_use and row is not chosen]
    if chosen is not None and not chosen.in_use:
        changed.append(chosen)
    for row in changed:
        _set_in_use(row, row is chosen, actor)
    if changed:
        _tracks_copy_on_commit(clinic.pk)
    return chosen


def _set_in_use(instrument: Instrument, in_use: bool, actor: User | None) -> None:
    instrument.in_use = in_use
    instrument.save(update_fields=["in_use"])
    audit.written(actor, AuditAction.CHANGED, instrument, fields=["in_use"])


def _tracks_copy_on_commit(clinic_id: int) -> None:
    """Once the change commits, have the clinic's clients' copies of their track (which the
    dashboard counts) follow the instrument now in use, as the caseload and detection do
    at once. Queued: a clinic of thousands is not written in the admin's request."""
    transaction.on_commit(lambda: _tracks_copy_enqueue(clinic_id))


def _tracks_copy_enqueue(clinic_id: int) -> None:
    from measures.tasks import clinic_tracks_copy

    try:
        clinic_tracks_copy.delay(clinic_id)
    except Exception:
        # The nightly sweep writes every client's copies again (measures.sweeps).
        logger.warning("Could not queue the track copies of clinic %s; the sweep will.", clinic_id)


@transaction.atomic
def instrument_retire(*, instrument: Instrument, actor: User | None = None) -> Instrument:
    """No longer offered: never deleted, since answers point at it and stay. Retiring the
    one in use sends the clinic back to the built-in check."""
    if instrument.is_built_in:
        raise ValidationError(BUILT_IN_STAYS)
    _check_may_manage(actor, instrument.clinic_id)
    instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
    if instrument.retired_at is not None:
        raise ValidationError(ALREADY_RETIRED)
    fields = ["retired_at", *(["in_use"] if instrument.in_use else [])]
    was_in_use = instrument.in_use
    instrument.retired_at, instrument.in_use = timezone.now(), False
    instrument.save(update_fields=fields)
    audit.written(actor, AuditAction.CHANGED, instrument, fields=fields)
    if was_in_use and instrument.clinic_id is not None:
        _tracks_copy_on_commit(instrument.clinic_id)
    return instrument


# --- Reads -------------------------------------------------------------------------------


def in_use_among(instruments: Iterable[Instrument]) -> Instrument | None:
    """Of one clinic's instruments and the built-in check, already read: the one its
    clients answer — the same choice as `instrument_for`, without asking the database."""
    rows = sorted(instruments, key=lambda row: row.pk)
    own = [row for row in rows if row.in_use and row.retired_at is None and not row.is_built_in]
    built_in = [row for row in rows if row.is_built_in and row.retired_at is None]
    return (own or built_in or [None])[0]
