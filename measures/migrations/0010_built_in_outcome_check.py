"""The built-in outcome check, as data: the definition in measures/definitions/."""

import json
from pathlib import Path

from django.db import migrations

# The file is the definition; a later change to its wording takes a migration of its own,
# because answers already given were given to the words of the time.
DEFINITION = json.loads(
    (Path(__file__).resolve().parent.parent / "definitions" / "outcome_check.json").read_text(
        encoding="utf-8"
    )
)


def add_check(apps, schema_editor):
    Instrument = apps.get_model("measures", "Instrument")
    if Instrument.objects.filter(clinic__isnull=True).exists():
        return
    Instrument.objects.create(clinic=None, in_use=False, **DEFINITION)


def remove_check(apps, schema_editor):
    # Leaving the row is harmless; answers may point at it (PROTECT).
    pass


class Migration(migrations.Migration):
    dependencies = [("measures", "0009_outcome_beside_alliance")]

    operations = [migrations.RunPython(add_check, remove_check)]
