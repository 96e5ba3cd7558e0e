"""Outcome instruments as data: the definition's checks, the services that add, choose and
retire a clinic's instruments (every write recorded), the Instruments page (clinic admins
only) and the `instrument_load` command."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alliance.fields import NOTHING_VISIBLE
from clients.models import AuditEntry, Clinic, User
from conftest import visible_text
from measures import instruments as m
from measures.instruments import (
    definition_problems,
    instrument_add,
    instrument_retire,
    instrument_use,
)
from measures.models import Instrument, OutcomeAnswer, instrument_for
from measures.tests.factories import instrument_definition
from sessions.tests.factories import SessionFactory

BUILT_IN_FILE = Path(m.__file__).parent / "definitions" / "outcome_check.json"
PAGE = reverse("measures:instruments")
AUDITED = ("actor_name", "action", "model", "object_id", "clinic_id", "fields")


def english(**changes: Any) -> dict[str, Any]:
    """The test definition's text with its English wording changed."""
    wording = instrument_definition()["text"]["en"] | changes  # type: ignore[index]
    return {"en": wording}


SPANISH = {
    "intro": "Durante la última semana, con qué frecuencia…",
    "items": ["se ha sentido tenso", "se ha sentido decaído", "le ha costado dormir"],
    "low": "0 = nunca",
    "high": "4 = casi siempre",
}


def use_url(instrument: Instrument) -> str:
    return reverse("measures:instrument-use", args=[instrument.pk])


def retire_url(instrument: Instrument) -> str:
    return reverse("measures:instrument-retire", args=[instrument.pk])


def audited() -> list[tuple[Any, ...]]:
    return list(AuditEntry.objects.order_by("pk").values_list(*AUDITED))


def built_in() -> Instrument:
    return Instrument.objects.get(clinic__isnull=True)


# --- The definition ----------------------------------------------------------------------

REFUSED = [
    ("no name", {"name": "  "}, "name", m.NAME_MISSING),
    ("a name too long", {"name": "x" * 121}, "name", m.NAME_TOO_LONG),
    ("a name far too long", {"name": "x" * 600}, "name", m.NAME_TOO_LONG),
    ("no items", {"text": english(items=[])}, "items_en", m.ITEMS_MISSING),
    ("31 items", {"text": english(items=["often"] * 31)}, "items_en", m.TOO_MANY_ITEMS),
    ("a blank item", {"text": english(items=["felt low", " "])}, "items_en", m.ITEM_BLANK),
    ("items as text", {"text": english(items="felt low")}, "items_en", m.ITEMS_NOT_LIST),
    (
        "an item with a tab",
        {"text": english(items=["felt on edge", "felt\tlow", "sleepless"])},
        "items_en",
        m.NOT_PLAIN_TEXT,
    ),
    ("a line too long", {"text": english(intro="x" * 501)}, "intro_en", m.WORDING_TOO_LONG),
    (
        "a name with a zero-width space",
        {"name": "CORE\u200b-10"},
        "name",
        "Remove the invisible character U+200B ZERO WIDTH SPACE: it shows as nothing or turns "
        "the text around, so others would not read what was typed.",
    ),
    ("a name of nothing visible", {"name": "\u3164"}, "name", NOTHING_VISIBLE),
    (
        "an item turned around",
        {"text": english(items=["felt on edge", "\u202ewol tlef"])},
        "items_en",
        "Remove the invisible character U+202E RIGHT-TO-LEFT OVERRIDE: it shows as nothing or "
        "turns the text around, so others would not read what was typed.",
    ),
    (
        "no English question",
        {"text": english(intro="")},
        "intro_en",
        "Write the question that introduces the items in English.",
    ),
    (
        "no English low label",
        {"text": english(low=None)},
        "low_en",
        "Write the label of the lowest answer in English.",
    ),
    (
        "no English high label",
        {"text": english(high="")},
        "high_en",
        "Write the label of the highest answer in English.",
    ),
    (
        "fewer Spanish items",
        {"text": english() | {"es": SPANISH | {"items": ["se ha sentido tenso"]}}},
        "items_es",
        "Give as many items in Spanish as in English (3), or leave all the Spanish blank.",
    ),
    (
        "half a Spanish wording",
        {"text": english() | {"es": SPANISH | {"high": ""}}},
        "high_es",
        "Write the label of the highest answer in Spanish too, or leave all the Spanish blank.",
    ),
    ("wording as a list", {"text": ["felt low"]}, "text", m.TEXT_SHAPE),
    (
        "French",
        {"text": english() | {"fr": SPANISH}},
        "text",
        "Wording can be given in English (en) and Spanish (es) only, not in fr.",
    ),
    ("an empty range", {"maximum": 0}, "maximum", m.RANGE_EMPTY),
    ("a range upside down", {"minimum": 5}, "maximum", m.RANGE_EMPTY),
    ("an answer below -100", {"minimum": -101}, "minimum", m.ANSWER_OUT_OF_BOUNDS),
    ("an answer above 1000", {"maximum": 1001}, "maximum", m.ANSWER_OUT_OF_BOUNDS),
    ("an answer as text", {"minimum": "0"}, "minimum", "The lowest answer must be a whole number."),
    (
        "an answer of true",
        {"maximum": True},
        "maximum",
        "The highest answer must be a whole number.",
    ),
    (
        "a fraction of an answer",
        {"maximum": 4.5},
        "maximum",
        "The highest answer must be a whole number.",
    ),
    ("scored by median", {"scoring": "median"}, "scoring", m.SCORING_UNKNOWN),
    ("no direction", {"higher_is_better": None}, "higher_is_better", m.DIRECTION_MISSING),
    ("a direction as text", {"higher_is_better": "yes"}, "higher_is_better", m.DIRECTION_MISSING),
    ("a cut-off in words", {"cutoff": "high"}, "cutoff", "The cut-off must be a number."),
    ("a cut-off of NaN", {"cutoff": "NaN"}, "cutoff", "The cut-off must be a number."),
    (
        "three decimals",
        {"cutoff": "5.555"},
        "cutoff",
        "Give the cut-off to two decimal places at most.",
    ),
    (
        "a cut-off at the bottom",
        {"cutoff": 0},
        "cutoff",
        "The cut-off must lie inside the score range, between 0 and 12.",
    ),
    (
        "a cut-off above the sum",
        {"cutoff": "12.5"},
        "cutoff",
        "The cut-off must lie inside the score range, between 0 and 12.",
    ),
    (
        "a cut-off above the mean",
        {"scoring": "mean"},
        "cutoff",
        "The cut-off must lie inside the score range, between 0 and 4.",
    ),
    ("no reliable change", {"reliable_change": "0"}, "reliable_change", m.CHANGE_NOT_POSITIVE),
    (
        "a negative reliable change",
        {"reliable_change": -2},
        "reliable_change",
        m.CHANGE_NOT_POSITIVE,
    ),
    (
        "a reliable change as wide as the range",
        {"reliable_change": 12},
        "reliable_change",
        "Reliable change must be smaller than the score range (12).",
    ),
    ("no licence", {"licence": " "}, "licence", m.LICENCE_MISSING),
    (
        "a licence turned around",
        {"licence": "Licensed \u2067until 2030\u2069."},
        "licence",
        "Remove the direction control U+2067 RIGHT-TO-LEFT ISOLATE: it turns the text after it "
        "around, so others would not read what was written.",
    ),
    (
        "a misspelt field",
        {"cut_off": "5"},
        NON_FIELD_ERRORS,
        "The definition has fields Alliance does not know: cut_off.",
    ),
]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_a_definition_is_refused_with_one_clear_message(
    changes: dict[str, Any], field: str, message: str
) -> None:
    assert definition_problems(instrument_definition(**changes)) == {field: [message]}


ACCEPTED = [
    ("the test scale", {}),
    ("with its Spanish", {"text": english() | {"es": SPANISH}}),
    ("with a blank Spanish", {"text": english() | {"es": dict.fromkeys(SPANISH, "")}}),
    ("a cut-off just inside", {"cutoff": "0.01"}),
    ("numbers as JSON numbers", {"cutoff": 11.99, "reliable_change": 11}),
    ("thirty items", {"text": english(items=["often"] * 30)}),
    ("a range across zero", {"minimum": -3, "maximum": 3, "cutoff": "-1.5"}),
    ("the widest range", {"minimum": -100, "maximum": 1000, "cutoff": 100}),
]


@pytest.mark.parametrize(
    "changes", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED]
)
def test_a_sound_definition_has_no_problems(changes: dict[str, Any]) -> None:
    assert definition_problems(instrument_definition(**changes)) == {}


def test_an_empty_definition_names_every_missing_part() -> None:
    problems = definition_problems({})
    assert set(problems) == {
        "name",
        "intro_en",
        "items_en",
        "low_en",
        "high_en",
        "minimum",
        "maximum",
        "scoring",
        "higher_is_better",
        "cutoff",
        "reliable_change",
        "licence",
    }


def test_the_built_in_check_is_one_such_definition() -> None:
    definition = json.loads(BUILT_IN_FILE.read_text(encoding="utf-8"))
    assert definition_problems(definition) == {}


# --- The services (every test from here asks for the database through its cast) ---------


def test_adding_keeps_the_definition_and_does_not_use_it_yet(
    clinic: Clinic, clinic_admin: User
) -> None:
    definition = instrument_definition(name=" Weekly distress scale ")
    definition["text"] = english() | {"es": dict.fromkeys(SPANISH, "") | {"items": []}}
    added = instrument_add(clinic=clinic, definition=definition, actor=clinic_admin)
    added.refresh_from_db()
    assert (added.clinic, added.created_by, added.in_use) == (clinic, clinic_admin, False)
    assert added.name == "Weekly distress scale" and set(added.text) == {"en"}
    assert (added.cutoff, added.reliable_change) == (Decimal("5.5"), Decimal("3"))
    assert added.score_range == (0, 12) and not added.higher_is_better
    assert instrument_for(clinic.pk) == built_in()
    assert audited() == [
        ("ada", "created", "measures.instrument", str(added.pk), clinic.pk, []),
    ]


def test_a_refused_definition_saves_nothing(clinic: Clinic, clinic_admin: User) -> None:
    with pytest.raises(ValidationError) as refused:
        instrument_add(
            clinic=clinic, definition=instrument_definition(maximum=0), actor=clinic_admin
        )
    assert refused.value.message_dict == {"maximum": [m.RANGE_EMPTY]}
    assert not Instrument.objects.filter(clinic=clinic).exists() and not audited()


@pytest.mark.parametrize("someone", ["therapist", "supervisor", "outsider"])
def test_only_the_clinics_admins_manage_its_instruments(
    someone: str, clinic: Clinic, clinic_admin: User, request: Any
) -> None:
    actor = request.getfixturevalue(someone)
    own = instrument_add(clinic=clinic, definition=instrument_definition(), actor=clinic_admin)
    with pytest.raises(PermissionDenied):
        instrument_add(clinic=clinic, definition=instrument_definition(), actor=actor)
    with pytest.raises(PermissionDenied):
        instrument_use(clinic=clinic, instrument=own, actor=actor)
    with pytest.raises(PermissionDenied):
        instrument_retire(instrument=own, actor=actor)
    own.refresh_from_db()
    assert not own.in_use and own.retired_at is None
    assert Instrument.objects.filter(clinic=clinic).count() == 1


def test_using_one_then_another_keeps_one_in_use(clinic: Clinic, clinic_admin: User) -> None:
    first = instrument_add(clinic=clinic, definition=instrument_definition(), actor=clinic_admin)
    second = instrument_add(
        clinic=clinic, definition=instrument_definition(name="Second"), actor=clinic_admin
    )
    instrument_use(clinic=clinic, instrument=first, actor=clinic_admin)
    assert instrument_for(clinic.pk) == first
    instrument_use(clinic=clinic, instrument=second, actor=clinic_admin)
    assert instrument_for(clinic.pk) == second
    assert list(Instrument.objects.filter(in_use=True)) == [second]
    changes = [entry for entry in audited() if entry[1] == "changed"]
    assert changes == [
        ("ada", "changed", "measures.instrument", str(first.pk), clinic.pk, ["in_use"]),
        ("ada", "changed", "measures.instrument", str(first.pk), clinic.pk, ["in_use"]),
        ("ada", "changed", "measures.instrument", str(second.pk), clinic.pk, ["in_use"]),
    ]


def test_using_the_one_in_use_again_changes_nothing(clinic: Clinic, clinic_admin: User) -> None:
    own = instrument_add(clinic=clinic, definition=instrument_definition(), actor=clinic_admin)
    instrument_use(clinic=clinic, instrument=own, actor=clinic_admin)
    before = audited()
    instrument_use(clinic=clinic, instrument=own, actor=clinic_admin)
    assert audited() == before


@pytest.mark.parametrize("back_to", ["None", "the built-in"])
def test_going_back_to_the_built_in_check(clinic: Clinic, clinic_admin: User, back_to: str) -> None:
    own = instrument_add(clinic=clinic, definition=instrument_definition(), actor=clinic_admin)
    instrument_use(clinic=clinic, instrument=own, actor=clinic_admin)
    choice = None if back_to == "None" else built_in()
    assert instrument_use(clinic=clinic, instrument=choice, actor=clinic_admin) is None
    assert instrument_for(clinic.pk) == built_in()
    assert not Instrument.objects.filter(in_use=True).exists()


def test_another_clinics_instrument_cannot_be_used(
    clinic: Clinic, other_clinic: Clinic, clinic_admin: User
) -> None:
    theirs = instrument_add(clinic=other_clinic, definition=instrument_definition())
    with pytest.raises(PermissionDenied):
        instrument_use(clinic=clinic, instrument=theirs, actor=clinic_admin)
    assert not Instrument.objects.filter(in_use=True).exists()


def test_retiring_keeps_the_instrument_and_its_answers(
    clinic: Clinic, clinic_admin: User, client_record: Any
) -> None:
    own = instrument_add(clinic=clinic, definition=instrument_definition(), actor=clinic_admin)
    instrument_use(clinic=clinic, instrument=own, actor=clinic_admin)
    answer = OutcomeAnswer.objects.create(
        session=SessionFactory(client=client_record), instrument=own, answers=[1, 2, 3], score=6
    )
    instrument_retire(instrument=own, actor=clinic_admin)
    own.refresh_from_db()
    assert own.retired_at is not None and not own.in_use
    assert instrument_for(clinic.pk) == built_in()  # retiring the one in use goes back
    assert OutcomeAnswer.objects.get(pk=answer.pk).instrument == own
    assert audited()[-1] == (
        "ada",
        "changed",
        "measures.instrument",
        str(own.pk),
        clinic.pk,
        ["in_use", "retired_at"],
    )


def test_a_retired_instrument_cannot_be_used_or_retired_again(
    clinic: Clinic, clinic_admin: User
) -> None:
    own = instrument_add(clinic=clinic, definition=instrument_definition(), actor=clinic_admin)
    instrument_retire(instrument=own, actor=clinic_admin)
    with pytest.raises(ValidationError, match="retired instrument cannot be used"):
        instrument_use(clinic=clinic, instrument=own, actor=clinic_admin)
    with pytest.raises(ValidationError, match="already retired"):
        instrument_retire(instrument=own, actor=clinic_admin)
    assert not Instrument.objects.filter(in_use=True).exists()


def test_the_built_in_check_cannot_be_retired(clinic_admin: User) -> None:
    with pytest.raises(ValidationError, match="cannot be retired"):
        instrument_retire(instrument=built_in(), actor=clinic_admin)
    assert built_in().retired_at is None


# --- The page ----------------------------------------------------------------------------


def form_data(**changes: str) -> dict[str, str]:
    """The add form filled in with the test scale."""
    return {
        "name": "Weekly distress scale",
        "intro_en": "Over the last week, how often have you…",
        "items_en": "felt on edge\r\nfelt low\r\n\r\nstruggled to sleep\r\n",
        "low_en": "0 = not at all",
        "high_en": "4 = most or all of the time",
        "minimum": "0",
        "maximum": "4",
        "scoring": "sum",
        "higher_is_better": "lower",
        "cutoff": "5.5",
        "reliable_change": "3",
        "licence": "Licensed to the clinic by its publisher until 2030.",
        "licence_held": "on",
    } | changes


@pytest.fixture
def own(clinic: Clinic, clinic_admin: User) -> Instrument:
    return instrument_add(clinic=clinic, definition=instrument_definition(), actor=clinic_admin)


def test_anonymous_is_sent_to_log_in(client: Any, own: Instrument) -> None:
    for response in (client.get(PAGE), client.post(use_url(own)), client.post(retire_url(own))):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("someone", ["therapist", "supervisor", "outsider"])
def test_only_clinic_admins_may_come_in(
    client: Any, someone: str, own: Instrument, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, form_data(name="Theirs")).status_code == 403
    assert client.post(use_url(own)).status_code == 403
    assert client.post(retire_url(own)).status_code == 403
    own.refresh_from_db()
    assert not own.in_use and own.retired_at is None
    assert Instrument.objects.filter(clinic__isnull=False).count() == 1


def test_another_clinics_admin_finds_no_such_instrument(
    client: Any, other_clinic: Clinic, own: Instrument
) -> None:
    from clients.tests.factories import ClinicAdminFactory

    client.force_login(ClinicAdminFactory(clinic=other_clinic, username="olga"))
    assert client.post(use_url(own)).status_code == 404
    assert client.post(retire_url(own)).status_code == 404
    assert "Weekly distress scale" not in client.get(PAGE).content.decode()
    own.refresh_from_db()
    assert not own.in_use and own.retired_at is None


def test_the_page_lists_the_built_in_check_and_the_clinics_own(
    client: Any, clinic_admin: User, own: Instrument
) -> None:
    client.force_login(clinic_admin)
    html = client.get(PAGE).content.decode()
    text = " ".join(visible_text(html).split())
    assert "Outcome check (built in) built in" in text
    assert "Weekly distress scale" in text and "Licensed to the clinic" in text
    assert "3 0–4 Sum of the items, 0–12 Lower 5.50 3 Use Retire" in text
    assert "4 0–10 Mean of the items, 0–10 Higher 6.25 1.25 In use" in text
    assert f'action="{use_url(own)}"' in html and f'action="{retire_url(own)}"' in html
    assert f'href="{PAGE}"' in html  # in the navigation


def test_adding_from_the_page(client: Any, clinic: Clinic, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(PAGE, form_data(), follow=True)
    assert response.redirect_chain[-1][0] == PAGE
    added = Instrument.objects.get(clinic=clinic)
    assert added.text["en"]["items"] == ["felt on edge", "felt low", "struggled to sleep"]
    assert (added.scoring, added.higher_is_better, added.in_use) == ("sum", False, False)
    assert "Weekly distress scale added" in response.content.decode()
    assert [entry[:3] for entry in audited()] == [("ada", "created", "measures.instrument")]


def test_a_refused_form_keeps_what_was_typed_and_saves_nothing(
    client: Any, clinic: Clinic, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    typed = form_data(
        maximum="0",
        items_es="se ha sentido tenso",
        intro_es="Durante la última semana",
        low_es="0 = nunca",
        high_es="4 = casi siempre",
        higher_is_better="",
        licence_held="",
    )
    response = client.post(PAGE, typed)
    assert response.status_code == 200
    html = response.content.decode()
    for message in (
        m.RANGE_EMPTY,
        m.DIRECTION_MISSING,
        "Confirm that the clinic holds a licence to use this instrument.",
        "Give as many items in Spanish as in English (3), or leave all the Spanish blank.",
    ):
        assert message in visible_text(html)
    assert 'value="Weekly distress scale"' in html and 'value="5.5"' in html
    assert ">\nfelt on edge\r\nfelt low\r\n\r\nstruggled to sleep\r\n</textarea>" in html
    assert "se ha sentido tenso</textarea>" in html
    assert not Instrument.objects.filter(clinic=clinic).exists() and not audited()


def test_a_number_that_does_not_parse_is_said_once(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    html = visible_text(client.post(PAGE, form_data(cutoff="five")).content.decode())
    assert "Enter a number." in html and "The cut-off must be a number." not in html


def test_use_and_go_back_from_the_page(
    client: Any, clinic: Clinic, clinic_admin: User, own: Instrument
) -> None:
    client.force_login(clinic_admin)
    response = client.post(use_url(own), follow=True)
    assert "Your clients now answer Weekly distress scale." in response.content.decode()
    assert instrument_for(clinic.pk) == own
    assert "Go back to the built-in check" in response.content.decode()
    client.post(use_url(built_in()))
    assert instrument_for(clinic.pk) == built_in()


def test_retire_from_the_page(
    client: Any, clinic: Clinic, clinic_admin: User, own: Instrument
) -> None:
    instrument_use(clinic=clinic, instrument=own, actor=clinic_admin)
    client.force_login(clinic_admin)
    html = client.post(retire_url(own), follow=True).content.decode()
    assert "its answers are kept. Your clients now answer the built-in check." in html
    assert "Retired" in visible_text(html) and f'action="{retire_url(own)}"' not in html
    again = client.post(use_url(own), follow=True).content.decode()
    assert m.RETIRED_NOT_USABLE in again and instrument_for(clinic.pk) == built_in()


def test_retiring_the_built_in_check_is_refused_with_a_message(
    client: Any, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    assert m.BUILT_IN_STAYS in client.post(retire_url(built_in()), follow=True).content.decode()


def test_the_page_costs_the_same_queries_with_more_instruments(
    client: Any, clinic: Clinic, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    counts = []
    for more in (1, 6):
        for number in range(more - Instrument.objects.filter(clinic=clinic).count()):
            instrument_add(clinic=clinic, definition=instrument_definition(name=f"Scale {number}"))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(PAGE).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_clinic_settings_and_thresholds_pages_link_here(
    client: Any, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    for page in ("clients:clinic-settings", "measures:thresholds"):
        html = client.get(reverse(page)).content.decode()
        assert html.count(f'href="{PAGE}"') >= 2, page  # the page, and the navigation


# --- The command -------------------------------------------------------------------------


def load(path: Path, *options: str) -> str:
    out = StringIO()
    call_command("instrument_load", str(path), *options, stdout=out)
    return out.getvalue()


@pytest.fixture
def definition_file(tmp_path: Path) -> Path:
    path = tmp_path / "distress.json"
    path.write_text(json.dumps(instrument_definition()), encoding="utf-8")
    return path


@pytest.mark.parametrize("named_by", ["id", "slug", "name"])
def test_the_command_adds_an_instrument_to_a_clinic(
    definition_file: Path, clinic: Clinic, named_by: str
) -> None:
    given = {"id": str(clinic.pk), "slug": "riverside", "name": "RIVERSIDE"}[named_by]
    out = load(definition_file, "--clinic", given)
    added = Instrument.objects.get(clinic=clinic)
    assert f"Added Weekly distress scale (id {added.pk}) to Riverside, not in use yet." in out
    assert not added.in_use and added.created_by is None
    assert audited() == [
        ("system", "created", "measures.instrument", str(added.pk), clinic.pk, []),
    ]


def test_the_command_can_load_the_built_in_file_and_use_it(clinic: Clinic) -> None:
    out = load(BUILT_IN_FILE, "--clinic", "riverside", "--use")
    assert "in use: its clients answer it from now on" in out
    own = instrument_for(clinic.pk)
    assert own is not None and own.clinic == clinic
    assert own.text == built_in().text and own.cutoff == built_in().cutoff


def test_the_command_says_what_is_wrong_and_loads_nothing(tmp_path: Path, clinic: Clinic) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(instrument_definition(cutoff="40", licence="")), encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        load(path, "--clinic", "riverside", "--use")
    assert str(refused.value) == (
        f"{path} was not loaded:\n"
        "  cutoff: The cut-off must lie inside the score range, between 0 and 12.\n"
        f"  licence: {m.LICENCE_MISSING}"
    )
    assert not Instrument.objects.filter(clinic=clinic).exists() and not audited()


@pytest.mark.parametrize(
    ("content", "clinic_given", "message"),
    [
        (None, "riverside", "Cannot read"),
        ("{not json", "riverside", "is not a JSON file"),
        ("[1, 2]", "riverside", "must hold one JSON object"),
        ("{}", "nowhere", "No clinic with the id, slug or name 'nowhere'."),
        ("{}", "999999", "No clinic with the id, slug or name '999999'."),
    ],
)
def test_the_command_refuses_a_bad_file_or_clinic(
    tmp_path: Path, clinic: Clinic, content: str | None, clinic_given: str, message: str
) -> None:
    path = tmp_path / "instrument.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        load(path, "--clinic", clinic_given)
    assert not Instrument.objects.filter(clinic=clinic).exists()
