"""The Spanish catalogue is complete and compiled."""

from __future__ import annotations

from pathlib import Path

from django.utils import translation

from scripts.translations_es import ENTRY, _text

PO = Path(__file__).resolve().parents[2] / "locale" / "es" / "LC_MESSAGES" / "django.po"


def test_every_string_has_a_spanish_translation_and_the_catalogue_is_compiled() -> None:
    entries = [(_text(m.group(2)), _text(m.group(3))) for m in ENTRY.finditer(PO.read_text())]
    entries = [(english, spanish) for english, spanish in entries if english]
    assert len(entries) > 40
    untranslated = [english for english, spanish in entries if not spanish]
    assert untranslated == []
    with translation.override("es"):
        stale = [english for english, spanish in entries if translation.gettext(english) != spanish]
    assert stale == [], "run `make messages` to compile the catalogue"
