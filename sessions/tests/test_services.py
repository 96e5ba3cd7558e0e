"""Logging, changing and deleting sessions."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clients.models import Client, User
from clients.services import client_discharge
from sessions.models import Session
from sessions.services import session_delete, session_log, session_update
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def an_hour_ago() -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=1)


def test_logging_numbers_a_clients_sessions_in_order(
    therapist: User, client_record: Client
) -> None:
    first = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    second = session_log(
        client=client_record,
        therapist=therapist,
        starts_at=an_hour_ago(),
        attendance=Session.Attendance.NO_SHOW,
        modality=Session.Modality.VIDEO,
    )
    assert (first.number, second.number) == (1, 2)
    assert (first.duration_minutes, first.attendance, first.modality) == (
        50,
        "attended",
        "in_person",
    )


def test_numbers_are_per_client(
    therapist: User, client_record: Client, colleague_client: Client
) -> None:
    session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    other = session_log(
        client=colleague_client, therapist=colleague_client.therapist, starts_at=an_hour_ago()
    )
    assert other.number == 1


def test_a_therapist_cannot_log_for_a_colleagues_client(
    therapist: User, colleague_client: Client
) -> None:
    with pytest.raises(PermissionDenied, match="your own caseload"):
        session_log(client=colleague_client, therapist=therapist, starts_at=an_hour_ago())
    assert not Session.objects.exists()


def test_a_session_for_a_client_in_another_clinic_is_refused(
    therapist: User, outsider_client: Client
) -> None:
    with pytest.raises(PermissionDenied, match="another clinic"):
        session_log(client=outsider_client, therapist=therapist, starts_at=an_hour_ago())
    assert not Session.objects.exists()


def test_a_session_for_a_discharged_client_is_refused(
    therapist: User, client_record: Client
) -> None:
    client_discharge(actor=therapist, client=client_record)
    with pytest.raises(ValidationError, match="discharged"):
        session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    assert not Session.objects.exists()


def test_a_session_cannot_be_logged_days_ahead(therapist: User, client_record: Client) -> None:
    with pytest.raises(ValidationError, match="more than a day ahead"):
        session_log(
            client=client_record,
            therapist=therapist,
            starts_at=timezone.now() + dt.timedelta(days=2),
        )


def test_a_duration_outside_reason_is_refused(therapist: User, client_record: Client) -> None:
    with pytest.raises(ValidationError, match="between 1 and 600 minutes"):
        session_log(
            client=client_record, therapist=therapist, starts_at=an_hour_ago(), duration_minutes=0
        )
    with pytest.raises(ValidationError) as error:
        session_log(
            client=client_record, therapist=therapist, starts_at=an_hour_ago(), attendance="late"
        )
    assert "attendance" in error.value.message_dict
    assert not Session.objects.exists()


def test_the_database_keeps_numbers_unique_per_client(client_record: Client) -> None:
    SessionFactory(client=client_record, number=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.create(
            client=client_record,
            therapist=client_record.therapist,
            number=1,
            starts_at=an_hour_ago(),
        )


def test_only_the_author_changes_a_session(
    therapist: User, clinic_admin: User, client_record: Client
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    fields = dict(
        starts_at=session.starts_at,
        duration_minutes=45,
        attendance="cancelled",
        modality="phone",
        notes="Rescheduled",
    )
    with pytest.raises(PermissionDenied, match="Only the therapist who logged"):
        session_update(actor=clinic_admin, session=session, **fields)
    session_update(actor=therapist, session=session, **fields)
    session.refresh_from_db()
    assert (session.duration_minutes, session.attendance, session.notes) == (
        45,
        "cancelled",
        "Rescheduled",
    )


def test_only_the_author_deletes_a_session(
    therapist: User, colleague: User, client_record: Client
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    with pytest.raises(PermissionDenied):
        session_delete(actor=colleague, session=session)
    session_delete(actor=therapist, session=session)
    assert not Session.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sessions_logged_at_once_get_distinct_numbers(postgresql: None, client_record: Any) -> None:
    """Two therapists' tabs saving together: the client row lock serialises numbering."""
    barrier = threading.Barrier(4)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def log() -> None:
        try:
            barrier.wait()
            session = session_log(
                client=client_record, therapist=client_record.therapist, starts_at=an_hour_ago()
            )
            numbers.append(session.number)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=log) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [1, 2, 3, 4]
