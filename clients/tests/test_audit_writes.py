"""Writes to clients, staff, supervision, clinics and accounts leave an audit entry: who,
what (model, id, the names of the fields changed), for which client and clinic, from
which address — never a value. A refused write leaves none."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client as Browser
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services as accounts_services
from clients import services
from clients.models import AuditEntry, Client, Clinic, Supervision, User

pytestmark = pytest.mark.django_db

WHAT = ("actor_name", "action", "model", "object_id", "client_id", "clinic_id", "fields")


def entries() -> list[tuple[Any, ...]]:
    """Every entry, oldest first, as (who, action, model, id, client, clinic, fields)."""
    return list(AuditEntry.objects.order_by("pk").values_list(*WHAT))


def the_entry() -> dict[str, Any]:
    rows = list(AuditEntry.objects.values())
    assert len(rows) == 1, rows
    return rows[0]


def test_adding_a_client_records_who_added_whom_in_which_clinic(therapist: User) -> None:
    client = services.client_create(actor=therapist, therapist=therapist, label="A.B.")
    assert entries() == [
        ("tara", "created", "clients.client", str(client.pk), client.pk, therapist.clinic_id, [])
    ]
    entry = the_entry()
    assert entry["actor_id"] == therapist.pk
    assert entry["address"] is None  # no request: a command or a task would look the same


def test_editing_a_client_names_the_fields_changed_and_a_move(
    clinic_admin: User, colleague: User, client_record: Client
) -> None:
    services.client_update(
        actor=clinic_admin,
        client=client_record,
        label="N.N.",
        email=client_record.email,
        language=client_record.language,
        therapist=colleague,
    )
    assert entries() == [
        (
            "ada",
            "changed",
            "clients.client",
            str(client_record.pk),
            client_record.pk,
            client_record.clinic_id,
            ["label", "therapist"],
        )
    ]


def test_an_edit_that_changes_nothing_records_nothing(
    therapist: User, client_record: Client
) -> None:
    services.client_update(
        actor=therapist,
        client=client_record,
        label=f"  {client_record.label} ",
        language=client_record.language,
    )
    assert entries() == []


def test_discharging_and_reopening_name_the_status_and_the_date(
    therapist: User, client_record: Client
) -> None:
    services.client_discharge(actor=therapist, client=client_record)
    services.client_reopen(actor=therapist, client=client_record)
    row = ("clients.client", str(client_record.pk), client_record.pk, client_record.clinic_id)
    assert entries() == [
        ("tara", "changed", *row, ["discharged_at", "status"]),
        ("tara", "changed", *row, ["discharged_at", "status"]),
    ]


def test_a_refused_write_records_nothing(
    therapist: User,
    colleague: User,
    supervisor: User,
    outsider: User,
    client_record: Client,
    colleague_client: Client,
) -> None:
    colleague_client.external_id = "EXT-1"
    colleague_client.save()
    with pytest.raises(PermissionDenied):
        services.client_update(actor=outsider, client=client_record, label="X.X.")
    with pytest.raises(PermissionDenied):
        services.client_update(
            actor=therapist, client=client_record, label="Y.", therapist=colleague
        )
    with pytest.raises(ValidationError):
        services.client_create(
            actor=therapist, therapist=therapist, label="Z.", external_id="EXT-1"
        )
    with pytest.raises(ValidationError):
        services.client_reopen(actor=therapist, client=client_record)
    with pytest.raises(PermissionDenied):
        services.staff_update(actor=therapist, member=colleague, data={"is_active": False})
    with pytest.raises(PermissionDenied):
        services.supervision_end(actor=therapist, supervision=Supervision.objects.get())
    with pytest.raises(PermissionDenied):
        services.clinic_rename(actor=supervisor, clinic=therapist.clinic, name="Elsewhere")
    assert entries() == []


def test_the_edit_page_records_the_requests_address_and_page(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.post(
        reverse("clients:client-edit", args=[client_record.pk]),
        {
            "label": "R.K.",
            "email": "rk@example.org",
            "language": client_record.language,
            "asks_outcome": "on",  # as the form shows it: left on
        },
        REMOTE_ADDR="198.51.100.23",
    )
    assert response.status_code == 302
    entry = the_entry()
    assert (entry["actor_name"], entry["action"], entry["fields"]) == ("tara", "changed", ["email"])
    assert entry["address"] == "198.51.100.23"
    assert entry["place"] == "clients:client-edit"


def test_no_entry_holds_a_value_written(therapist: User) -> None:
    client = services.client_create(
        actor=therapist,
        therapist=therapist,
        label="Secret Label",
        external_id="EXT-93117",
        email="hidden.person@example.org",
    )
    services.client_update(
        actor=therapist, client=client, label="Other Secret", email="moved.away@example.org"
    )
    stored = repr(list(AuditEntry.objects.values()))
    for value in ("Secret", "93117", "hidden.person", "moved.away"):
        assert value not in stored
    assert len(entries()) == 2


def test_adding_and_changing_a_colleague_names_fields_never_a_password(
    clinic: Clinic, clinic_admin: User, colleague: User
) -> None:
    member = services.staff_create(
        actor=clinic_admin,
        clinic=clinic,
        username="newcomer",
        password="a long secret passphrase",
        email="newcomer@example.org",
        is_therapist=True,
    )
    services.staff_update(
        actor=clinic_admin,
        member=colleague,
        data={"first_name": "Colin", "is_supervisor": True, "is_active": False},
    )
    assert entries() == [
        ("ada", "created", "clients.user", str(member.pk), None, clinic.pk, []),
        (
            "ada",
            "changed",
            "clients.user",
            str(colleague.pk),
            None,
            clinic.pk,
            ["first_name", "is_active", "is_supervisor"],
        ),
    ]
    stored = repr(list(AuditEntry.objects.values()))
    assert "pbkdf2" not in stored and "passphrase" not in stored and "newcomer@" not in stored


def test_linking_and_ending_supervision_are_recorded_in_the_clinic(
    clinic: Clinic, clinic_admin: User, colleague: User, supervisor: User
) -> None:
    link = services.supervision_create(
        supervisor=supervisor, therapist=colleague, actor=clinic_admin
    )
    link_id = str(link.pk)
    services.supervision_end(actor=clinic_admin, supervision=link)
    row = ("clients.supervision", link_id, None, clinic.pk, [])
    # Ending deletes the link (between two colleagues; nothing clinical): "ended".
    assert entries() == [("ada", "created", *row), ("ada", "ended", *row)]


def test_the_demo_seeder_and_commands_are_recorded_as_the_system(clinic: Clinic) -> None:
    member = services.staff_create(clinic=clinic, username="seeded", password=None)
    assert entries() == [("system", "created", "clients.user", str(member.pk), None, clinic.pk, [])]
    assert the_entry()["actor_id"] is None


def test_renaming_a_clinic_names_the_name(clinic: Clinic, clinic_admin: User) -> None:
    services.clinic_rename(actor=clinic_admin, clinic=clinic, name="Riverside North")
    fields = ["name", "notice_version"]  # the default notice names the clinic
    assert entries() == [
        ("ada", "changed", "clients.clinic", str(clinic.pk), None, clinic.pk, fields)
    ]
    assert "North" not in repr(list(AuditEntry.objects.values()))


def test_removing_two_factor_and_ending_sessions_are_recorded(
    clinic_admin: User, colleague: User
) -> None:
    TOTPDevice.objects.create(user=colleague, name="phone", confirmed=True)
    Browser().force_login(colleague)
    accounts_services.remove_two_factor(colleague, actor=clinic_admin)
    Browser().force_login(colleague)
    accounts_services.end_sessions(colleague, actor=clinic_admin)
    accounts_services.end_sessions(colleague, actor=clinic_admin)  # none left: nothing to say
    row = ("clients.user", str(colleague.pk), None, colleague.clinic_id)
    assert entries() == [
        ("ada", "changed", *row, ["sessions", "two_factor"]),
        ("ada", "changed", *row, ["sessions"]),
    ]


def lock_out(user: User) -> None:
    AccessAttempt.objects.create(
        username=user.username,
        ip_address="203.0.113.9",
        user_agent="",
        http_accept="",
        path_info="/accounts/login/",
        get_data="",
        post_data="",
        failures_since_start=5,
    )


def test_unlocking_sign_in_from_the_admin_records_the_admins_address(
    client: Any, clinic_admin: User, therapist: User, colleague: User
) -> None:
    lock_out(therapist)
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_user_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [therapist.pk, colleague.pk]},
        REMOTE_ADDR="198.51.100.40",
    )
    assert response.status_code == 302
    # Only the colleague who was locked out changed.
    entry = the_entry()
    assert (entry["actor_name"], entry["object_id"], entry["fields"]) == (
        "ada",
        str(therapist.pk),
        ["sign_in_lock"],
    )
    assert (entry["address"], entry["place"]) == ("198.51.100.40", "admin")
