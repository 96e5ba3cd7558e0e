"""Logging and changing a session leave an audit entry naming the fields, never the notes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clients.models import AuditEntry, Client, User
from sessions.models import Session
from sessions.services import session_log, session_update
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

WHAT = ("actor_name", "action", "model", "object_id", "client_id", "clinic_id", "fields")


def entries() -> list[tuple[Any, ...]]:
    return list(AuditEntry.objects.order_by("pk").values_list(*WHAT))


def test_logging_a_session_records_it_for_the_client_and_clinic(
    therapist: User, client_record: Client
) -> None:
    session = session_log(
        client=client_record,
        therapist=therapist,
        starts_at=timezone.now() - dt.timedelta(hours=2),
        notes="Spoke of her brother's illness",
    )
    assert entries() == [
        (
            "tara",
            "created",
            "therapy_sessions.session",
            str(session.pk),
            client_record.pk,
            client_record.clinic_id,
            [],
        )
    ]
    assert "brother" not in repr(list(AuditEntry.objects.values()))


def test_changing_a_session_names_the_fields_changed_not_the_notes(
    therapist: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record, notes="First note")
    session_update(
        actor=therapist,
        session=session,
        starts_at=session.starts_at,
        duration_minutes=session.duration_minutes,
        attendance=Session.Attendance.NO_SHOW,
        modality=session.modality,
        notes="The private second note",
    )
    assert entries() == [
        (
            "tara",
            "changed",
            "therapy_sessions.session",
            str(session.pk),
            client_record.pk,
            client_record.clinic_id,
            ["attendance", "notes"],
        )
    ]
    assert "private" not in repr(list(AuditEntry.objects.values()))


def test_a_refused_session_write_records_nothing(
    therapist: User, colleague: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    with pytest.raises(PermissionDenied):
        session_log(client=client_record, therapist=colleague, starts_at=timezone.now())
    with pytest.raises(PermissionDenied):
        session_update(
            actor=colleague,
            session=session,
            starts_at=session.starts_at,
            duration_minutes=30,
            attendance=session.attendance,
            modality=session.modality,
            notes="",
        )
    with pytest.raises(ValidationError):
        session_log(
            client=client_record,
            therapist=therapist,
            starts_at=timezone.now() + dt.timedelta(days=5),
        )
    assert entries() == []
