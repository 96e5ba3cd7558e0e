"""`manage.py instrument_load PATH.json --clinic ID|SLUG|NAME [--use]`: add an outcome
instrument the clinic holds a licence for, from a file shaped like
measures/definitions/outcome_check.json, through the same service as the Instruments page
(the same checks, the same messages, recorded in the audit trail as the command line).
`--use` also makes it the one the clinic's clients answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from clients.models import Clinic
from measures.instruments import instrument_add, instrument_use


def clinic_named(given: str) -> Clinic:
    """The clinic with this id, slug or (case aside) name; an error if none or several."""
    if given.isascii() and given.isdigit():
        found = list(Clinic.objects.filter(pk=int(given)))
    else:
        found = list(Clinic.objects.filter(slug=given)) or list(
            Clinic.objects.filter(name__iexact=given.strip())
        )
    if not found:
        raise CommandError(f"No clinic with the id, slug or name {given!r}.")
    if len(found) > 1:
        raise CommandError(f"Several clinics are called {given!r}: give its id or slug.")
    return found[0]


def definition_in(path: Path) -> dict[str, Any]:
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"{path} is not a JSON file: {error}.") from None
    if not isinstance(definition, dict):
        raise CommandError(f"{path} must hold one JSON object, as outcome_check.json does.")
    return definition


def problems_of(error: ValidationError) -> str:
    """Each message on a line, after the field it concerns."""
    by_field = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
    lines = []
    for field, messages in by_field.items():
        prefix = "" if field in ("", NON_FIELD_ERRORS) else f"{field}: "
        lines += [f"  {prefix}{message}" for message in messages]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Add an outcome instrument to a clinic from a JSON definition (and use it: --use)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="A definition like outcome_check.json.")
        parser.add_argument("--clinic", required=True, metavar="ID|SLUG|NAME")
        parser.add_argument(
            "--use", action="store_true", help="Make it the one the clinic's clients answer."
        )

    def handle(self, *args: Any, path: Path, clinic: str, use: bool, **options: Any) -> None:
        found = clinic_named(clinic)
        definition = definition_in(path)
        try:
            # One step: an instrument loaded to be used is never left added but unused.
            with transaction.atomic():
                added = instrument_add(clinic=found, definition=definition)
                if use:
                    instrument_use(clinic=found, instrument=added)
        except ValidationError as error:
            raise CommandError(f"{path} was not loaded:\n{problems_of(error)}") from None
        state = "in use: its clients answer it from now on" if use else "not in use yet"
        self.stdout.write(f"Added {added.name} (id {added.pk}) to {found.name}, {state}.")
