"""A username is the same in capitals and small letters: nobody can hold "Ann" beside
"ann" (not by the invitation, the Django admin, createsuperuser, nor two requests at the same
moment), and the log-in, with its throttle, takes it in any case."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.test import Client as Browser
from django.urls import reverse

from accounts import services as account_services
from accounts import staff
from accounts.tests.steps import log_in, signed_in_as
from alliance.tests.migrating import migrate, migrated_back
from clients import services
from clients.models import User
from clients.tests.factories import ClinicAdminFactory, TherapistFactory
from clients.tests.test_admin_services import change_url, form_errors, user_form
from measures.tests.racing import meanwhile

pytestmark = pytest.mark.django_db

TAKEN = "Someone already has this username, as \u201ctara\u201d"
NEW = {"first_name": "Nia", "last_name": "Okafor", "email": "nia@example.org", "is_therapist": True}


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(username="root", password="x")


# --- Nobody holds a username in another case ------------------------------------------------


def test_the_database_refuses_a_username_someone_has_in_other_capitals(therapist: User) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="Tara", clinic=therapist.clinic, is_therapist=True)


def test_a_colleague_added_in_the_django_admin_with_a_username_in_other_capitals_is_refused(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_user_add"),
        {"username": "TARA", "clinic": clinic_admin.clinic_id, "is_therapist": "on"},
    )
    errors = form_errors(response)
    assert list(errors) == ["username"] and errors["username"][0].startswith(TAKEN)
    assert User.objects.filter(username__iexact="tara").count() == 1


def test_a_colleague_renamed_in_the_django_admin_to_someone_elses_username_is_refused(
    client: Any, superuser: User, therapist: User, colleague: User
) -> None:
    client.force_login(superuser)
    response = client.post(change_url(colleague), user_form(colleague, username="Tara"))
    errors = form_errors(response)
    assert list(errors) == ["username"] and errors["username"][0].startswith(TAKEN)
    colleague.refresh_from_db()
    assert colleague.username == "colin"


def test_a_colleague_may_be_renamed_in_other_capitals_of_their_own_username(
    client: Any, superuser: User, therapist: User
) -> None:
    client.force_login(superuser)
    response = client.post(change_url(therapist), user_form(therapist, username="Tara"))
    assert response.status_code == 302
    therapist.refresh_from_db()
    assert therapist.username == "Tara"


def test_the_same_username_in_the_same_case_is_said_once(
    clinic_admin: User, therapist: User
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.staff_create(
            actor=clinic_admin, clinic=clinic_admin.clinic, username="tara", password=None
        )
    assert refused.value.message_dict == {"username": ["A user with that username already exists."]}


def test_the_invitation_names_the_username_it_clashes_with(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    client.force_login(clinic_admin)
    html = client.post(reverse("staff:invite"), {**NEW, "username": "Tara"}).content.decode()
    assert "Someone already has this username, as \u201ctara\u201d" in html
    assert not User.objects.filter(username="Tara").exists()


def test_createsuperuser_refuses_a_username_someone_has_in_other_capitals(
    therapist: User, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long and quiet river")
    with pytest.raises(CommandError, match="That username is already taken"):
        call_command(
            "createsuperuser", username="TARA", email="root@example.org", interactive=False
        )
    assert User.objects.filter(username__iexact="tara").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_two_invitations_at_the_same_moment_cannot_both_take_a_username(clinic: Any) -> None:
    """Each checked before the other's row was there: both were saved, "nia" and "NIA", and
    one of the two could never sign in with the password she chose."""
    admin, other_admin = ClinicAdminFactory(clinic=clinic), ClinicAdminFactory(clinic=clinic)

    def first() -> None:
        staff.staff_invite(actor=admin, username="nia", **NEW)

    with (
        meanwhile(first, at=lambda sql: sql.startswith('INSERT INTO "clients_user"')),
        pytest.raises(ValidationError) as refused,
    ):
        staff.staff_invite(
            actor=other_admin, username="NIA", **{**NEW, "email": "nia.o@example.org"}
        )
    assert refused.value.message_dict["username"] == [
        "Someone already has this username, as \u201cnia\u201d (capitals and small letters "
        "count as the same); choose another."
    ]
    assert list(User.objects.filter(username__iexact="nia").values_list("username")) == [("nia",)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_the_same_invitation_sent_twice_at_the_same_moment_is_the_first_one(clinic: Any) -> None:
    admin = ClinicAdminFactory(clinic=clinic)

    def first() -> None:
        staff.staff_invite(actor=admin, username="nia", **NEW)

    with (
        meanwhile(first, at=lambda sql: sql.startswith('INSERT INTO "clients_user"')),
        pytest.raises(staff.InvitedAlready) as already,
    ):
        staff.staff_invite(actor=admin, username="Nia", **NEW)
    assert already.value.member.username == "nia"
    assert User.objects.filter(username__iexact="nia").count() == 1


# --- The log-in takes it in any case --------------------------------------------------------


@pytest.mark.parametrize("typed", ["TARA", "Tara", "tara"])
def test_a_therapist_signs_in_typing_their_username_in_any_case(
    client: Any, therapist: User, typed: str
) -> None:
    assert log_in(client, typed).status_code == 302
    assert signed_in_as(client) == therapist.pk


def test_a_wrong_password_in_any_case_is_still_wrong(client: Any, therapist: User) -> None:
    assert log_in(client, "TARA", "not it").status_code == 200
    assert signed_in_as(client) is None


def test_a_wrong_password_says_the_password_is_exact_and_the_username_is_not(
    client: Any, therapist: User
) -> None:
    """Django's own message said both fields "may be case-sensitive": a colleague who typed
    "TARA" went looking for the capitals of a username that has none that count."""
    page = log_in(client, "TARA", "not it").content.decode()
    assert "both fields may be case-sensitive" not in page
    assert "The password is case-sensitive; the username is not." in page


def test_wrong_passwords_in_any_case_count_against_the_one_username(
    client: Any, therapist: User, settings: Any
) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    for number, typed in enumerate(["TARA", "Tara", "tara", "tArA", "TARA"]):
        assert log_in(client, typed, f"guess-{number}").status_code in (200, 429)
    assert log_in(client, "tara").status_code == 429
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["tara"]
    # The admin's unlock lifts the username as stored, which is all of them.
    assert account_services.unlock_sign_in(therapist) == 1
    assert log_in(client, "TARA").status_code == 302


def test_a_username_nobody_has_is_counted_in_one_case_too(client: Any, settings: Any) -> None:
    """Else trying it in other capitals told a guesser whether someone has it: a username
    someone has is locked in all its cases at once."""
    settings.AXES_FAILURE_LIMIT = 3
    for typed in ["NOBODY", "Nobody", "nobody"]:
        log_in(client, typed, "guess")
    assert log_in(client, "noBody", "guess").status_code == 429
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["nobody"]


# Spellings of one username the database's LOWER folds together, or not, beyond A-Z: the
# final sigma (Python folds "Σ" at a word's end to "ς"), the Turkish dotted capital (Python
# makes "i" and a combining dot of it), and letters with accents (SQLite folds A-Z alone).
SPELLINGS = [
    ("σοφοσ", ["ΣΟΦΟΣ", "σοφοσ", "Σοφοσ"]),
    ("istanbul", ["İSTANBUL", "istanbul", "Istanbul"]),
    ("Ärzte", ["ÄRZTE", "ärzte", "Ärzte"]),
]


@pytest.mark.parametrize(("username", "spellings"), SPELLINGS)
def test_a_username_nobody_has_is_counted_as_one_someone_has_would_be(
    client: Any, settings: Any, clinic: Any, username: str, spellings: list[str]
) -> None:
    """Counted in Python's small letters, a name nobody has had its tries split where the
    database (whose LOWER finds the person signing in) joins them, or joined where it
    splits them: trying its spellings told a guesser whether someone has it."""
    settings.AXES_FAILURE_LIMIT = 10

    def tries_counted() -> list[int]:
        for typed in spellings:
            log_in(client, typed, "guess")
        counted = sorted(AccessAttempt.objects.values_list("failures_since_start", flat=True))
        AccessAttempt.objects.all().delete()
        return counted

    nobodys = tries_counted()
    TherapistFactory(clinic=clinic, username=username)
    assert nobodys == tries_counted()


def test_the_password_asked_again_counts_with_the_log_in(
    client: Any, therapist: User, settings: Any
) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    for number in range(4):
        log_in(Browser(), "TARA", f"guess-{number}")
    client.force_login(therapist)
    client.post(reverse("reauthenticate"), {"password": "wrong again"})
    assert log_in(Browser(), "Tara").status_code == 429


# --- The migration that adds the index ------------------------------------------------------

BEFORE = [("clients", "0013_audit_colleague_changes")]
AFTER = [("clients", "0014_usernames_unique_in_any_case")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_stops_naming_the_people_who_share_a_username(clinic: Any) -> None:
    with migrated_back(BEFORE) as apps:
        OldUser = apps.get_model("clients", "User")
        ann = OldUser.objects.create(username="Ann", clinic_id=clinic.pk)
        other = OldUser.objects.create(username="ann", clinic_id=clinic.pk)
        OldUser.objects.create(username="bob", clinic_id=clinic.pk)
        with pytest.raises(CommandError) as stopped:
            migrate(AFTER)
        assert f"id {ann.pk} \u201cAnn\u201d and id {other.pk} \u201cann\u201d" in str(
            stopped.value
        )
        assert "bob" not in str(stopped.value)
        OldUser.objects.filter(pk=other.pk).update(username="ann.b")
        migrate(AFTER)  # renamed: it goes through
        migrate(BEFORE)  # and back: the index is gone
        OldUser.objects.create(username="ANN.B", clinic_id=clinic.pk).delete()
