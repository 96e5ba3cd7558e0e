"""The Spanish catalogue is complete and compiled."""

from __future__ import annotations

from pathlib import Path

import polib
from django.utils import translation

PO = Path(__file__).resolve().parents[2] / "locale" / "es" / "LC_MESSAGES" / "django.po"


def test_every_string_has_a_spanish_translation_and_the_catalogue_is_compiled() -> None:
    catalogue = polib.pofile(str(PO))
    entries = [entry for entry in catalogue if not entry.obsolete]
    assert len(entries) > 40
    assert [entry.msgid for entry in entries if not entry.translated()] == []
    assert [entry.msgid for entry in entries if "fuzzy" in entry.flags] == []
    with translation.override("es"):
        stale = [
            entry.msgid
            for entry in entries
            if not entry.msgid_plural and translation.gettext(entry.msgid) != entry.msgstr
        ]
    assert stale == [], "run `make messages` to compile the catalogue"
