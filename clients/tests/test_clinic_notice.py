"""The privacy notice on the client's form: its default wording, a clinic's own, and
`clinic_notice_update`, which only the clinic's admins may call."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from clients.models import NOTICE_MAX_LENGTH, AuditEntry, Clinic, User
from clients.notice import clinic_notice, is_known_version
from clients.services import clinic_notice_update, clinic_rename

pytestmark = pytest.mark.django_db


def notice(clinic: Clinic, language: str) -> str:
    with translation.override(language):
        return clinic_notice(clinic, language)


def stored(clinic: Clinic) -> tuple[str, str, int]:
    clinic.refresh_from_db()
    return (clinic.notice_en, clinic.notice_es, clinic.notice_version)


def test_the_default_names_every_reader_and_nobody_outside_the_clinic(clinic: Clinic) -> None:
    assert notice(clinic, "en") == (
        "Your therapist sees your answers. At Riverside, your therapist's supervisor and the "
        "clinic's administrators may see them too. They are not shared with anyone outside "
        "Riverside."
    )


def test_the_default_in_spanish(clinic: Clinic) -> None:
    assert notice(clinic, "es") == (
        "Su terapeuta ve sus respuestas. En Riverside, también pueden verlas la persona que "
        "supervisa a su terapeuta y la administración de la clínica. No se comparten con nadie "
        "fuera de Riverside."
    )


def test_a_clinic_starts_on_version_1_of_the_default(clinic: Clinic) -> None:
    assert (clinic.notice_en, clinic.notice_es, clinic.notice_version) == ("", "", 1)
    assert is_known_version(clinic, 1) and not is_known_version(clinic, 2)
    assert not is_known_version(clinic, 0)


def test_a_clinic_admin_sets_the_clinics_own_wording_and_the_version_goes_up(
    clinic: Clinic, clinic_admin: User
) -> None:
    clinic_notice_update(
        actor=clinic_admin,
        clinic=clinic,
        notice_en="  Your therapist reads these.\r\nSo may their supervisor.  ",
        notice_es="",
    )
    assert stored(clinic) == ("Your therapist reads these.\nSo may their supervisor.", "", 2)
    assert notice(clinic, "en") == "Your therapist reads these.\nSo may their supervisor."
    # A language left blank keeps the default.
    assert notice(clinic, "es").startswith("Su terapeuta ve sus respuestas.")
    assert is_known_version(clinic, 1) and is_known_version(clinic, 2)


def test_the_change_is_in_the_audit_trail_by_field_name_only(
    clinic: Clinic, clinic_admin: User
) -> None:
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="", notice_es="Hola.")
    entry = AuditEntry.objects.get(model="clients.clinic")
    assert (entry.actor, entry.action, entry.object_id, entry.fields) == (
        clinic_admin,
        "changed",
        str(clinic.pk),
        ["notice_es", "notice_version"],
    )


def test_saving_the_same_words_changes_nothing(clinic: Clinic, clinic_admin: User) -> None:
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="Ours.", notice_es="")
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en=" Ours. ", notice_es="")
    assert stored(clinic) == ("Ours.", "", 2)
    assert AuditEntry.objects.filter(model="clients.clinic").count() == 1


def test_going_back_to_the_default_is_a_new_version(clinic: Clinic, clinic_admin: User) -> None:
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="Ours.", notice_es="")
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="", notice_es="")
    assert stored(clinic) == ("", "", 3)


def test_a_notice_of_nothing_showing_is_the_default(clinic: Clinic, clinic_admin: User) -> None:
    """A zero-width space saved as the notice left the client's 'Who sees your answers' box
    empty on their phone, and each rating named that version as the one consented to."""
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="\u200b", notice_es="")
    assert stored(clinic) == ("", "", 1)
    assert "Your therapist sees your answers" in notice(clinic, "en")


def test_renaming_the_clinic_is_a_new_version_of_the_default_that_names_it(
    clinic: Clinic, clinic_admin: User
) -> None:
    clinic_rename(actor=clinic_admin, clinic=clinic, name="Riverside East")
    assert stored(clinic) == ("", "", 2)
    assert "outside Riverside East." in notice(clinic, "en")
    entry = AuditEntry.objects.get(model="clients.clinic")
    assert entry.fields == ["name", "notice_version"]
    clinic_rename(actor=clinic_admin, clinic=clinic, name=" Riverside East ")  # the same name
    assert stored(clinic)[2] == 2


def test_renaming_the_clinic_is_a_new_version_while_one_language_shows_the_default(
    clinic: Clinic, clinic_admin: User
) -> None:
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="Ours.", notice_es="")
    clinic_rename(actor=clinic_admin, clinic=clinic, name="Riverside East")
    assert stored(clinic) == ("Ours.", "", 3)


def test_renaming_a_clinic_with_its_own_words_in_every_language_keeps_the_version(
    clinic: Clinic, clinic_admin: User
) -> None:
    clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="Ours.", notice_es="Hola.")
    clinic_rename(actor=clinic_admin, clinic=clinic, name="Riverside East")
    assert stored(clinic) == ("Ours.", "Hola.", 2)


@pytest.mark.parametrize("who", ["therapist", "supervisor", "outsider"])
def test_nobody_but_the_clinics_admins_changes_it(
    clinic: Clinic, who: str, request: pytest.FixtureRequest
) -> None:
    actor = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        clinic_notice_update(actor=actor, clinic=clinic, notice_en="Nobody.", notice_es="")
    assert stored(clinic) == ("", "", 1)


def test_another_clinics_admin_is_refused(clinic: Clinic, other_clinic: Clinic) -> None:
    from clients.tests.factories import ClinicAdminFactory

    their_admin = ClinicAdminFactory(clinic=other_clinic)
    with pytest.raises(PermissionDenied):
        clinic_notice_update(actor=their_admin, clinic=clinic, notice_en="Ours.", notice_es="")
    assert stored(clinic) == ("", "", 1)


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("x" * (NOTICE_MAX_LENGTH + 1), "Keep the notice to 1000 characters."),
        ("Tab\there", "Use plain text: line breaks are fine, other control characters are not."),
        (
            "Escape\x1b[31m",
            "Use plain text: line breaks are fine, other control characters are not.",
        ),
        (
            "Sus respuestas \u202eon\u202c se comparten.",
            "Remove the direction control U+202E RIGHT-TO-LEFT OVERRIDE: it turns the text "
            "after it around, so others would not read what was written.",
        ),
    ],
)
def test_bad_wording_is_refused_with_a_clear_message(
    clinic: Clinic, clinic_admin: User, words: str, message: Any
) -> None:
    with pytest.raises(ValidationError) as refused:
        clinic_notice_update(actor=clinic_admin, clinic=clinic, notice_en="", notice_es=words)
    assert refused.value.message_dict == {"notice_es": [message]}
    assert stored(clinic) == ("", "", 1)
    assert not AuditEntry.objects.filter(model="clients.clinic").exists()
