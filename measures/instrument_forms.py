"""The form that adds an outcome instrument: it parses what was typed into a definition
(the shape of measures/definitions/outcome_check.json); `measures.instruments` judges it.

Nothing here is `required` but the licence checkbox: every other message comes from
`definition_problems`, run in `clean()` so the form shows them all at once, in the same
words the `instrument_load` command prints.
"""

from __future__ import annotations

from typing import Any

from django import forms

from alliance.fields import DecimalNumberField, ParagraphsField, SingleLineField, WholeNumberField
from alliance.forms import ServiceForm
from measures.instruments import LANGUAGES, MAX_ITEMS, definition_problems
from measures.models import Instrument

LICENCE_NOT_CONFIRMED = "Confirm that the clinic holds a licence to use this instrument."
HIGHER, LOWER = "higher", "lower"
DIRECTIONS = {HIGHER: True, LOWER: False}


def _line(label: str, help_text: str = "") -> SingleLineField:
    return SingleLineField(label=label, help_text=help_text, required=False)


def _items(label: str, help_text: str) -> ParagraphsField:
    return ParagraphsField(
        label=label,
        help_text=help_text,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


def _lines(text: str) -> list[str]:
    """One item per line; blank lines (a trailing return, a gap) are not items."""
    return [line.strip() for line in text.splitlines() if line.strip()]


class InstrumentForm(ServiceForm):
    name = _line("Name", "As the clinic calls it, e.g. “CORE-10”.")
    intro_en = _line("Question before the items", "e.g. “Over the last week…”")
    items_en = _items("Items, one per line", f"At least one, at most {MAX_ITEMS}.")
    low_en = _line("Label of the lowest answer", "e.g. “0 = not at all”")
    high_en = _line("Label of the highest answer", "e.g. “4 = most or all of the time”")
    intro_es = _line("Question before the items, in Spanish")
    items_es = _items("Items in Spanish, one per line", "As many as in English, in the same order.")
    low_es = _line("Label of the lowest answer, in Spanish")
    high_es = _line("Label of the highest answer, in Spanish")
    minimum = WholeNumberField(label="Lowest answer", required=False)
    maximum = WholeNumberField(label="Highest answer", required=False)
    scoring = forms.ChoiceField(
        label="Score",
        choices=[("", "Choose…"), *Instrument.Scoring.choices],
        required=False,
        help_text="Cut-off and reliable change are in the units of this score.",
    )
    # Asked, never defaulted: a scale read the wrong way round would call improvement
    # deterioration.
    higher_is_better = forms.ChoiceField(
        label="Which way is better?",
        choices=[(HIGHER, "Higher scores are better"), (LOWER, "Lower scores are better")],
        widget=forms.RadioSelect,
        required=False,
    )
    cutoff = DecimalNumberField(label="Clinical cut-off", required=False)
    reliable_change = DecimalNumberField(
        label="Reliable change",
        required=False,
        help_text="The smallest change in the score that is unlikely to be chance.",
    )
    licence = ParagraphsField(
        label="Licence",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Who holds the licence to use it, and on what terms.",
    )
    licence_held = forms.BooleanField(
        label="The clinic holds a licence to use this instrument",
        error_messages={"required": LICENCE_NOT_CONFIRMED},
    )

    def definition(self) -> dict[str, Any]:
        """What was typed, as a definition (parts that did not parse are None)."""
        data = self.cleaned_data
        return {
            "name": data.get("name"),
            "text": {code: self._wording(code) for code in LANGUAGES},
            "minimum": data.get("minimum"),
            "maximum": data.get("maximum"),
            "scoring": data.get("scoring"),
            "higher_is_better": DIRECTIONS.get(data.get("higher_is_better") or ""),
            "cutoff": data.get("cutoff"),
            "reliable_change": data.get("reliable_change"),
            "licence": data.get("licence"),
        }

    def _wording(self, code: str) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "intro": data.get(f"intro_{code}"),
            "items": _lines(data.get(f"items_{code}") or ""),
            "low": data.get(f"low_{code}"),
            "high": data.get(f"high_{code}"),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for field, messages in definition_problems(self.definition()).items():
            # A field that did not parse already says why; one message each is enough.
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, messages)
        return cleaned
