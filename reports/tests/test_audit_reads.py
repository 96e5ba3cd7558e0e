"""Reads recorded in the audit trail: each page and export of a client's record, and the
admin's record pages, leave one entry naming who, what, the client and the address."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import AuditAction, AuditEntry, Client, Supervision, User
from measures.tests.factories import RatingFactory, concern_with_signal
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.23"


def entry_fields(entry: AuditEntry) -> tuple[Any, ...]:
    return (entry.actor_id, entry.action, entry.model, entry.object_id, entry.client_id)


def only_entry() -> AuditEntry:
    (entry,) = AuditEntry.objects.all()
    return entry


def test_a_supervisor_opening_a_clients_page_is_recorded(
    client: Any, supervisor: User, client_record: Client
) -> None:
    client.force_login(supervisor)
    url = reverse("reports:client-detail", args=[client_record.pk])
    assert client.get(url, REMOTE_ADDR=ADDRESS).status_code == 200
    entry = only_entry()
    assert entry_fields(entry) == (
        supervisor.pk,
        AuditAction.VIEWED,
        "clients.client",
        str(client_record.pk),
        client_record.pk,
    )
    assert (entry.address, entry.place, entry.clinic_id) == (
        ADDRESS,
        "client page",
        client_record.clinic_id,
    )
    assert entry.actor_name == "sue" and entry.fields == []


def test_an_outsiders_404_records_nothing(
    client: Any, outsider: User, colleague: User, client_record: Client
) -> None:
    # Nothing was shown, so nothing was read; an entry would also put another clinic's
    # probe into this clinic's trail, with the outsider's name on it.
    for someone in (outsider, colleague):
        client.force_login(someone)
        url = reverse("reports:client-detail", args=[client_record.pk])
        assert client.get(url).status_code == 404
        assert (
            client.get(reverse("reports:client-ratings-csv", args=[client_record.pk])).status_code
            == 404
        )
    assert not AuditEntry.objects.exists()


def test_opening_a_session_page_is_recorded_against_its_client(
    client: Any, therapist: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    client.force_login(therapist)
    assert client.get(reverse("reports:session-detail", args=[session.pk])).status_code == 200
    entry = only_entry()
    assert entry_fields(entry) == (
        therapist.pk,
        AuditAction.VIEWED,
        "therapy_sessions.session",
        str(session.pk),
        client_record.pk,
    )
    assert entry.place == "session page"


def test_opening_a_concern_page_is_recorded_against_its_client(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    concern = concern_with_signal(client_record)
    client.force_login(clinic_admin)
    assert client.get(reverse("measures:concern-detail", args=[concern.pk])).status_code == 200
    entry = only_entry()
    assert entry_fields(entry) == (
        clinic_admin.pk,
        AuditAction.VIEWED,
        "measures.concern",
        str(concern.pk),
        client_record.pk,
    )
    assert entry.place == "concern page"


def test_opening_a_sessions_edit_form_which_shows_its_private_notes_is_recorded(
    client: Any, therapist: User, client_record: Client
) -> None:
    """The form holds the session as stored, its private notes included: a read of the
    record as much as its page is. A refused save shows what was typed, and reads nothing."""
    session = SessionFactory(client=client_record, therapist=therapist, notes="Private.")
    client.force_login(therapist)
    url = reverse("sessions:session-edit", args=[session.pk])
    response = client.get(url, REMOTE_ADDR=ADDRESS)
    assert "Private." in response.content.decode()
    entry = only_entry()
    assert entry_fields(entry) == (
        therapist.pk,
        AuditAction.VIEWED,
        "therapy_sessions.session",
        str(session.pk),
        client_record.pk,
    )
    assert (entry.address, entry.place) == (ADDRESS, "session edit form")


def test_opening_the_therapists_rating_form_of_a_rated_session_is_recorded(
    client: Any, therapist: User, client_record: Client
) -> None:
    """The form holds the therapist's rating as given, to revise it."""
    session = SessionFactory(client=client_record, therapist=therapist)
    rating = RatingFactory(session=session, rater="therapist")
    client.force_login(therapist)
    assert client.get(reverse("measures:therapist-rating", args=[session.pk])).status_code == 200
    entry = only_entry()
    assert entry_fields(entry) == (
        therapist.pk,
        AuditAction.VIEWED,
        "measures.rating",
        str(rating.pk),
        client_record.pk,
    )
    assert entry.place == "therapist rating form"


def test_downloading_a_clients_ratings_is_recorded_as_an_export(
    client: Any, supervisor: User, client_record: Client
) -> None:
    RatingFactory(session=SessionFactory(client=client_record))
    client.force_login(supervisor)
    response = client.get(reverse("reports:client-ratings-csv", args=[client_record.pk]))
    assert b"".join(response.streaming_content)
    entry = only_entry()
    assert entry_fields(entry) == (
        supervisor.pk,
        AuditAction.EXPORTED,
        "clients.client",
        str(client_record.pk),
        client_record.pk,
    )
    assert entry.place == "ratings CSV"


def test_downloading_the_dashboard_is_recorded_against_the_clinic(
    client: Any, supervisor: User, client_record: Client
) -> None:
    client.force_login(supervisor)
    response = client.get(reverse("reports:dashboard-csv"))
    assert b"".join(response.streaming_content)
    entry = only_entry()
    assert entry_fields(entry) == (
        supervisor.pk,
        AuditAction.EXPORTED,
        "clients.clinic",
        str(supervisor.clinic_id),
        None,
    )
    assert (entry.clinic_id, entry.place) == (supervisor.clinic_id, "dashboard CSV")


def test_a_head_request_for_a_page_or_an_export_records_nothing(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    """The headers alone are sent: nothing was viewed or exported."""
    session = SessionFactory(client=client_record)
    RatingFactory(session=session)
    client.force_login(clinic_admin)
    addresses = [
        reverse("reports:client-detail", args=[client_record.pk]),
        reverse("reports:session-detail", args=[session.pk]),
        reverse("reports:client-ratings-csv", args=[client_record.pk]),
        reverse("reports:dashboard-csv"),
        reverse("reports:audit-csv"),
        reverse("measures:client-fhir", args=[client_record.pk]),
    ]
    for address in addresses:
        assert client.head(address).status_code == 200, address
    assert not AuditEntry.objects.exists()
    client.get(addresses[0])
    assert only_entry().action == AuditAction.VIEWED


def staff(user: User) -> User:
    user.is_staff = True
    user.save()
    return user


def test_opening_a_clinical_record_in_the_admin_is_recorded(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    client.force_login(staff(clinic_admin))
    for url in (
        reverse("admin:clients_client_change", args=[client_record.pk]),
        reverse("admin:therapy_sessions_session_change", args=[session.pk]),
        reverse("admin:clients_client_history", args=[client_record.pk]),
    ):
        assert client.get(url, REMOTE_ADDR=ADDRESS).status_code == 200
    entries = AuditEntry.objects.order_by("pk")
    assert [(entry.model, entry.object_id) for entry in entries] == [
        ("clients.client", str(client_record.pk)),
        ("therapy_sessions.session", str(session.pk)),
        ("clients.client", str(client_record.pk)),
    ]
    assert {(e.action, e.client_id, e.place, e.address) for e in entries} == {
        (AuditAction.VIEWED, client_record.pk, "admin", ADDRESS)
    }


def test_the_admin_records_nothing_for_a_list_a_record_out_of_scope_or_a_supervision_link(
    client: Any, therapist: User, supervisor: User, outsider_client: Client
) -> None:
    client.force_login(staff(therapist))
    link = Supervision.objects.get(supervisor=supervisor, therapist=therapist)
    for url in (
        reverse("admin:clients_client_changelist"),
        reverse("admin:clients_client_change", args=[outsider_client.pk]),
        reverse("admin:clients_supervision_change", args=[link.pk]),
    ):
        assert client.get(url).status_code in (200, 302)
    assert not AuditEntry.objects.exists()
