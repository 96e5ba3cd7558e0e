"""Logging, changing and voiding sessions."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clients.models import AuditAction, AuditEntry, Client, User
from clients.services import client_discharge
from measures.tests.factories import erased
from sessions.invitations import invitation_create
from sessions.models import RatingInvitation, Session, SessionRevision
from sessions.services import session_log, session_update, session_void
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def an_hour_ago() -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=1)


def weeks_ago(weeks: int) -> dt.datetime:
    """Another session of the client's, an hour ago that many weeks back."""
    return an_hour_ago() - dt.timedelta(weeks=weeks)


def test_logging_numbers_a_clients_sessions_in_order(
    therapist: User, client_record: Client
) -> None:
    first = session_log(client=client_record, therapist=therapist, starts_at=weeks_ago(1))
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


def test_only_the_author_voids_a_session(
    therapist: User, colleague: User, clinic_admin: User, client_record: Client
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    for someone in (colleague, clinic_admin):
        with pytest.raises(PermissionDenied):
            session_void(actor=someone, session=session, reason="Wrong client")
    session_void(actor=therapist, session=session, reason="  Wrong client \n")
    session.refresh_from_db()
    assert session.voided_at is not None
    assert (session.voided_by, session.void_reason) == (therapist, "Wrong client")
    assert list(Session.objects.all()) == [session]
    assert not Session.objects.current().exists()


@pytest.mark.parametrize("reason", ["", "  \t ", "x" * 501])
def test_voiding_needs_a_reason_of_sensible_length(
    therapist: User, client_record: Client, reason: str
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    with pytest.raises(ValidationError) as refused:
        session_void(actor=therapist, session=session, reason=reason)
    assert set(refused.value.error_dict) == {"reason"}
    session.refresh_from_db()
    assert (session.voided_at, session.void_reason) == (None, "")


def test_notes_and_a_reason_with_a_direction_control_are_refused_and_nothing_changes(
    therapist: User, client_record: Client
) -> None:
    """Whoever calls the services: notes and reasons read as they were written."""
    turned = "Talked \u202eabout\u202c work."
    with pytest.raises(ValidationError) as refused:
        session_log(client=client_record, therapist=therapist, starts_at=weeks_ago(2), notes=turned)
    assert set(refused.value.message_dict) == {"notes"}
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    with pytest.raises(ValidationError) as refused:
        session_update(
            actor=therapist,
            session=session,
            starts_at=session.starts_at,
            duration_minutes=session.duration_minutes,
            attendance=session.attendance,
            modality=session.modality,
            notes=turned,
        )
    assert set(refused.value.message_dict) == {"notes"}
    with pytest.raises(ValidationError) as refused:
        session_void(actor=therapist, session=session, reason=turned)
    assert set(refused.value.message_dict) == {"reason"}
    session.refresh_from_db()
    assert (session.notes, session.voided_at) == ("", None)
    assert Session.objects.count() == 1


def test_voiding_twice_is_refused_and_keeps_the_first_reason(
    therapist: User, client_record: Client
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    session_void(actor=therapist, session=session, reason="Logged twice")
    with pytest.raises(ValidationError, match="already voided"):
        session_void(actor=therapist, session=session, reason="Something else")
    session.refresh_from_db()
    assert session.void_reason == "Logged twice"


def test_voiding_is_audited_by_field_without_the_reason(
    therapist: User, client_record: Client
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    session_void(actor=therapist, session=session, reason="Secret-ish clinical words")
    entry = AuditEntry.objects.get(action=AuditAction.VOIDED)
    assert (entry.actor, entry.model, entry.object_id, entry.client_id) == (
        therapist,
        "therapy_sessions.session",
        str(session.pk),
        client_record.pk,
    )
    assert entry.fields == ["void_reason", "voided_at"]
    # The session's logging is in the trail too; neither entry holds the reason.
    stored = " ".join(str(row) for row in AuditEntry.objects.values_list())
    assert AuditEntry.objects.count() == 2 and "Secret-ish" not in stored


def test_a_voided_session_keeps_its_number_and_the_next_one_does_not_reuse_it(
    therapist: User, client_record: Client
) -> None:
    first = session_log(client=client_record, therapist=therapist, starts_at=weeks_ago(1))
    second = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    session_void(actor=therapist, session=second, reason="Logged twice")
    third = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    second.refresh_from_db()
    assert (first.number, second.number, third.number) == (1, 2, 3)


def test_voiding_closes_the_open_rating_link_and_no_new_one_opens(
    therapist: User, client_record: Client
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    invitation, _token = invitation_create(session=session)
    session_void(actor=therapist, session=session, reason="Wrong client")
    invitation.refresh_from_db()
    assert not invitation.is_open()
    assert not RatingInvitation.objects.live().exists()
    with pytest.raises(ValidationError, match="voided"):
        invitation_create(session=session)


def test_a_voided_session_cannot_be_edited(therapist: User, client_record: Client) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    session_void(actor=therapist, session=session, reason="Wrong client")
    with pytest.raises(ValidationError, match="voided"):
        session_update(
            actor=therapist,
            session=session,
            starts_at=session.starts_at,
            duration_minutes=30,
            attendance="attended",
            modality="in_person",
            notes="",
        )
    session.refresh_from_db()
    assert session.duration_minutes == 50
    assert not SessionRevision.objects.exists()


# --- Editing keeps the history ------------------------------------------------


def test_editing_keeps_the_previous_values_of_the_changed_fields(
    therapist: User, client_record: Client
) -> None:
    starts_at = an_hour_ago().replace(microsecond=0)
    session = session_log(
        client=client_record, therapist=therapist, starts_at=starts_at, notes="First thoughts"
    )
    later = starts_at + dt.timedelta(minutes=30)
    session_update(
        actor=therapist,
        session=session,
        starts_at=later,
        duration_minutes=45,
        attendance="attended",
        modality="in_person",
        notes="Second thoughts",
    )
    revision = SessionRevision.objects.get()
    assert (revision.session, revision.revised_by) == (session, therapist)
    assert revision.previous == {
        "starts_at": starts_at.isoformat(),
        "duration_minutes": 50,
        "notes": "First thoughts",
    }
    session.refresh_from_db()
    assert (session.starts_at, session.duration_minutes, session.notes) == (
        later,
        45,
        "Second thoughts",
    )


def test_saving_a_session_unchanged_writes_no_revision(
    therapist: User, client_record: Client
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    session_update(
        actor=therapist,
        session=session,
        starts_at=session.starts_at,
        duration_minutes=50,
        attendance="attended",
        modality="in_person",
        notes="",
    )
    assert not SessionRevision.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sessions_logged_at_once_get_distinct_numbers(postgresql: None, client_record: Any) -> None:
    """Two therapists' tabs saving together: the client row lock serialises numbering."""
    barrier = threading.Barrier(4)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def log(weeks: int) -> None:
        try:
            barrier.wait()
            session = session_log(
                client=client_record,
                therapist=client_record.therapist,
                starts_at=weeks_ago(weeks),
            )
            numbers.append(session.number)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=log, args=(weeks,)) for weeks in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == [1, 2, 3, 4]


def test_the_same_session_logged_twice_is_refused_naming_the_first(
    therapist: User, client_record: Client
) -> None:
    starts_at = an_hour_ago()
    session_log(client=client_record, therapist=therapist, starts_at=starts_at)
    with pytest.raises(ValidationError) as error:
        session_log(client=client_record, therapist=therapist, starts_at=starts_at, notes="Again")
    assert "Session 1 with R.K. is already logged at this time" in str(
        error.value.message_dict["starts_at"]
    )
    assert client_record.sessions.count() == 1
    logged = AuditEntry.objects.filter(model="therapy_sessions.session", action=AuditAction.CREATED)
    assert logged.count() == 1


def test_sessions_of_different_clients_at_the_same_time_are_both_logged(
    therapist: User, client_record: Client
) -> None:
    """A couple seen together are two clients, each with their own session."""
    from clients.tests.factories import ClientFactory

    partner = ClientFactory(therapist=therapist, clinic=therapist.clinic, label="J.K.")
    starts_at = an_hour_ago()
    session_log(client=client_record, therapist=therapist, starts_at=starts_at)
    session_log(client=partner, therapist=therapist, starts_at=starts_at)
    assert Session.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_same_session_posted_twice_at_once_is_logged_once(
    postgresql: None, client_record: Any
) -> None:
    """A double click: both posts arrive together; the client row lock lets one through."""
    barrier = threading.Barrier(2)
    starts_at = an_hour_ago()
    refused: list[ValidationError] = []
    errors: list[BaseException] = []

    def log() -> None:
        try:
            barrier.wait()
            session_log(
                client=client_record, therapist=client_record.therapist, starts_at=starts_at
            )
        except ValidationError as error:
            refused.append(error)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=log) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(refused) == 1
    assert Session.objects.filter(client=client_record).count() == 1


def test_an_edit_saved_after_the_erasure_does_not_write_private_notes_back(
    client_record: Client, therapist: User, clinic_admin: User
) -> None:
    """The session form was open before the erasure (which never runs twice)."""
    session = SessionFactory(client=client_record, notes="Mentions her sister's illness.")
    erased(client_record, by=clinic_admin)
    with pytest.raises(ValidationError, match="erased"):
        session_update(
            actor=therapist,
            session=Session.objects.get(pk=session.pk),
            starts_at=session.starts_at,
            duration_minutes=session.duration_minutes,
            attendance=session.attendance,
            modality=session.modality,
            notes="Mentions her sister's illness.",
        )
    assert Session.objects.get(pk=session.pk).notes == ""
    assert not SessionRevision.objects.filter(session=session).exists()


def test_an_erased_clients_session_is_not_voided_with_a_reason_no_erasure_reaches(
    client_record: Client, therapist: User, clinic_admin: User
) -> None:
    session = SessionFactory(client=client_record)
    erased(client_record, by=clinic_admin)
    with pytest.raises(ValidationError, match="erased"):
        session_void(
            actor=therapist,
            session=Session.objects.get(pk=session.pk),
            reason="Her sister's visit.",
        )
    assert Session.objects.get(pk=session.pk).voided_at is None


def test_an_edit_from_a_form_drawn_before_another_change_is_refused(
    therapist: User, client_record: Client
) -> None:
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    drawn = Session.objects.get(pk=session.pk).updated_at
    fields = dict(
        starts_at=session.starts_at,
        duration_minutes=50,
        attendance="attended",
        modality="in_person",
    )
    session_update(actor=therapist, session=session, notes="Sleep.", last_changed=drawn, **fields)
    with pytest.raises(ValidationError, match="changed after this form was opened"):
        session_update(actor=therapist, session=session, notes="", last_changed=drawn, **fields)
    assert Session.objects.get(pk=session.pk).notes == "Sleep."
    assert SessionRevision.objects.count() == 1


def test_a_reason_or_notes_of_nothing_showing_are_nothing_written(
    therapist: User, client_record: Client
) -> None:
    """A session voided 'because' a zero-width space read 'Voided on … by …:' and nothing."""
    session = session_log(
        client=client_record, therapist=therapist, starts_at=an_hour_ago(), notes="\u200b\ufeff"
    )
    assert session.notes == ""
    with pytest.raises(ValidationError) as refused:
        session_void(actor=therapist, session=session, reason="\u200b\ufeff")
    assert set(refused.value.message_dict) == {"reason"}
    session.refresh_from_db()
    assert (session.voided_at, session.void_reason) == (None, "")


def test_private_notes_are_kept_to_a_length_a_page_can_show(
    therapist: User, client_record: Client
) -> None:
    """A 200,000-character paste drew a session page tens of thousands of pixels tall."""
    from sessions.services import NOTES_MAX_LENGTH

    with pytest.raises(ValidationError) as refused:
        session_log(
            client=client_record,
            therapist=therapist,
            starts_at=weeks_ago(2),
            notes="x" * (NOTES_MAX_LENGTH + 1),
        )
    assert set(refused.value.message_dict) == {"notes"}
    assert not Session.objects.exists()
    session = session_log(
        client=client_record, therapist=therapist, starts_at=weeks_ago(2), notes="x" * 10_000
    )
    assert len(session.notes) == NOTES_MAX_LENGTH


def test_a_session_moved_to_a_time_not_yet_begun_closes_its_open_rating_link(
    therapist: User, client_record: Client
) -> None:
    """A link opens once its session has begun (`invitations.NOT_BEGUN`). A session moved
    later, to a time still ahead, had its open link left open: its client could rate a
    session that had not happened, and its reminder, making a fresh link, was refused
    every sweep till it began. Its link is closed; once it has begun, a new one opens."""
    client_record.email = "client@example.org"
    client_record.save()
    session = session_log(client=client_record, therapist=therapist, starts_at=an_hour_ago())
    invitation, _token = invitation_create(session=session)
    later = timezone.now() + dt.timedelta(hours=2)
    session_update(
        actor=therapist,
        session=session,
        starts_at=later,
        duration_minutes=50,
        attendance="attended",
        modality="in_person",
        notes="",
    )
    invitation.refresh_from_db()
    assert not invitation.is_open()
    assert not RatingInvitation.objects.live().exists()
    # Moved again, still in the past: nothing to close, and the link it opens stays open.
    session.refresh_from_db()
    session_update(
        actor=therapist,
        session=session,
        starts_at=an_hour_ago(),
        duration_minutes=50,
        attendance="attended",
        modality="in_person",
        notes="",
    )
    reopened, _token = invitation_create(session=session)
    session.refresh_from_db()
    session_update(
        actor=therapist,
        session=session,
        starts_at=an_hour_ago() - dt.timedelta(hours=1),
        duration_minutes=50,
        attendance="attended",
        modality="in_person",
        notes="",
    )
    reopened.refresh_from_db()
    assert reopened.is_open()
