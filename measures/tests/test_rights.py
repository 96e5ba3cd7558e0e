"""The client's rights on PostgreSQL: export everything held, erase a discharged client,
the commands that ask first, and retention that erases what is past the clinic's period."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients import audit
from clients.audit import SYSTEM
from clients.models import AuditAction, AuditEntry, Client, Clinic, User
from clients.services import client_update
from clients.tests.factories import ClientFactory, ClinicAdminFactory, TherapistFactory
from measures import rights
from measures.models import Concern, ConcernEvent, Flag, Rating
from measures.retention import retention_erase
from measures.scoring import DIMENSIONS
from measures.services import client_rating_submit
from measures.tasks import erase_past_retention
from measures.tests.factories import ConcernEventFactory, RatingFactory, concern_with_signal
from measures.tests.racing import errors_kept, on_a_connection_of_its_own, paused_once
from sessions import invitations
from sessions.invitations import invitation_create, invitation_find
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.usefixtures("postgresql")

COMMENT = "The homework felt like too much this week."
NOTE = "Talked about the tension over homework; agreed a slower pace."
PRIVATE = "Private: mentions her sister's illness."


@pytest.fixture
def record(client_record: Client, therapist: User) -> Client:
    """R.K. with every part: sessions with notes, both raters' ratings with comments, a
    concern closed with a repair note and a comment, a signal, a rating link."""
    client_record.external_id = "RK-0042"
    client_record.email = "rk@example.org"
    client_record.save()
    first = SessionFactory(client=client_record, notes=PRIVATE)
    RatingFactory(session=first, comment=COMMENT)
    RatingFactory(
        session=first, rater=Rating.Rater.THERAPIST, submitted_by=therapist, comment="Tense."
    )
    concern = concern_with_signal(client_record)
    Concern.objects.filter(pk=concern.pk).update(
        status=Concern.Status.RESOLVED, closed_at=timezone.now(), closed_by=therapist, note=NOTE
    )
    ConcernEventFactory(concern=concern, actor=therapist, note="We will check in next week.")
    invitation_create(session=first)
    return client_record


def discharge(client: Client, days_ago: float = 1) -> Client:
    client.status = Client.Status.DISCHARGED
    client.discharged_at = timezone.now() - dt.timedelta(days=days_ago)
    client.save()
    return client


def everything_in(document: dict[str, Any]) -> str:
    return json.dumps(document)


# --- Export --------------------------------------------------------------------------------


def test_the_export_holds_every_part_of_the_record(record: Client, clinic_admin: User) -> None:
    document = rights.client_export(actor=clinic_admin, client=record)
    assert document["schema"] == rights.SCHEMA
    assert document["schema_version"] == rights.SCHEMA_VERSION
    assert document["generated_at"]
    assert document["client"]["label"] == "R.K."
    assert document["client"]["external_id"] == "RK-0042"
    assert document["client"]["email"] == "rk@example.org"
    assert document["client"]["therapist"] == str(record.therapist)
    assert len(document["sessions"]) == Session.objects.filter(client=record).count() == 2
    assert {r["rater"] for r in document["ratings"]} == {"client", "therapist"}
    assert COMMENT in {r["comment"] for r in document["ratings"]}
    assert [s["rule"] for s in document["signals"]] == [Flag.Rule.RELIABLE_DROP]
    assert document["signals"][0]["description"]
    (concern,) = document["concerns"]
    assert concern["note"] == NOTE
    assert concern["closed_by"] == str(record.therapist)
    assert [e["note"] for e in concern["events"]] == ["We will check in next week."]
    assert document["audit"] == [] or all("address" not in e for e in document["audit"])
    json.dumps(document)  # serialisable as it stands


def test_the_export_holds_nothing_of_other_clients_tokens_or_private_notes(
    record: Client, colleague_client: Client, clinic_admin: User
) -> None:
    other = SessionFactory(client=colleague_client, notes="Colleague's note.")
    RatingFactory(session=other, comment="Another client's comment.")
    text = everything_in(rights.client_export(actor=clinic_admin, client=record))
    assert "M.P." not in text
    assert "Another client's comment." not in text
    assert "Colleague's note." not in text
    assert PRIVATE not in text
    for token_hash in RatingInvitation.objects.values_list("token_hash", flat=True):
        assert token_hash not in text
    assert "token" not in text
    assert record.therapist.username not in text  # a name, never a log-in
    sessions = rights.client_export(actor=clinic_admin, client=record)["sessions"]
    assert any(s["private_notes_held"] for s in sessions)


def test_the_exports_audit_names_the_therapist_and_any_other_colleague_by_role_never_by_log_in(
    record: Client, therapist: User, supervisor: User, clinic_admin: User
) -> None:
    """A person appears by name only as the therapist or a reviewer; `actor_name` is a
    log-in, and a colleague who read the record is neither."""
    client_update(actor=therapist, client=record, label="R.K.", language="es")
    audit.written(supervisor, AuditAction.VIEWED, record, place="client page")
    document = rights.client_export(actor=clinic_admin, client=record)
    text = everything_in(document)
    assert f'"{therapist.username}"' not in text and f'"{supervisor.username}"' not in text
    assert str(supervisor) not in text
    by = [entry["by"] for entry in document["audit"]]
    assert by[-2:] == [str(therapist), "a supervisor"]
    assert all("actor_name" not in entry for entry in document["audit"])


def test_every_field_of_an_exported_model_is_exported_or_withheld_on_purpose() -> None:
    for model, exported in rights.EXPORTED.items():
        names = {field.name for field in model._meta.concrete_fields}
        decided = set(exported) | rights.WITHHELD[model]
        assert names <= decided, f"{model.__name__}: decide about {sorted(names - decided)}"


def test_the_export_is_recorded_without_values(record: Client, clinic_admin: User) -> None:
    rights.client_export(actor=clinic_admin, client=record, place="test")
    entry = AuditEntry.objects.get(action=AuditAction.EXPORTED)
    assert (entry.client_id, entry.actor_id, entry.fields) == (record.pk, clinic_admin.pk, [])


def test_the_summary_is_a_readable_page(record: Client, clinic_admin: User) -> None:
    page = rights.client_summary_html(rights.client_export(actor=clinic_admin, client=record))
    assert "Everything held about R.K." in page
    assert "Reliable drop" in page or "reliable" in page.lower()
    assert NOTE in page and COMMENT in page
    assert "a_lot" not in page and "reliable_drop" not in page


@pytest.mark.parametrize("who", ["therapist", "supervisor", "outsider"])
def test_only_the_clients_clinic_admin_may_export_or_erase(
    record: Client, who: str, request: pytest.FixtureRequest
) -> None:
    actor = request.getfixturevalue(who)
    discharge(record)
    with pytest.raises(PermissionDenied):
        rights.client_export(actor=actor, client=record)
    with pytest.raises(PermissionDenied):
        rights.client_erase(actor=actor, client=record)
    other_admin = ClinicAdminFactory(clinic=Clinic.objects.create(name="Far", slug="far"))
    with pytest.raises(PermissionDenied):
        rights.client_erase(actor=other_admin, client=record)
    record.refresh_from_db()
    assert record.label == "R.K." and not record.is_erased
    assert not AuditEntry.objects.filter(action__in=[AuditAction.EXPORTED, AuditAction.ERASED])


# --- Erasure -------------------------------------------------------------------------------


def test_an_active_client_is_never_erased(record: Client, clinic_admin: User) -> None:
    with pytest.raises(ValidationError, match="discharged"):
        rights.client_erase(actor=clinic_admin, client=record)
    record.refresh_from_db()
    assert record.label == "R.K." and record.email


@pytest.mark.parametrize("keep_numbers", [True, False])
def test_export_erase_export_round_trips(
    record: Client, clinic_admin: User, keep_numbers: bool
) -> None:
    Clinic.objects.filter(pk=record.clinic_id).update(keep_numbers_after_erasure=keep_numbers)
    discharge(record)
    before = rights.client_export(actor=clinic_admin, client=record)
    rows = _row_counts(record)
    entries_before = list(AuditEntry.objects.values_list("pk", "action", "fields"))

    erased = rights.client_erase(actor=clinic_admin, client=record)
    after = rights.client_export(actor=clinic_admin, client=erased)

    client = after["client"]
    assert client["label"] == f"Erased {timezone.localdate():%Y-%m-%d} #{record.pk}"
    assert client["external_id"] == client["email"] == ""
    assert client["erased_at"]
    assert {r["comment"] for r in after["ratings"]} == {""}
    assert not any(s["private_notes_held"] for s in after["sessions"])
    assert after["concerns"][0]["note"] == rights.ERASED_NOTE
    assert {e["note"] for e in after["concerns"][0]["events"]} == {""}
    text = everything_in(after)
    for erased in ("R.K.", "RK-0042", "rk@example.org", COMMENT, NOTE, PRIVATE):
        assert erased not in text
    # Nothing was deleted: the same rows, the same numbers.
    assert _row_counts(record) == rows
    scores = [(r["session"], r["rater"], r["alliance_score"]) for r in before["ratings"]]
    assert [(r["session"], r["rater"], r["alliance_score"]) for r in after["ratings"]] == scores
    assert [s["starts_at"] for s in after["sessions"]] == [
        s["starts_at"] for s in before["sessions"]
    ]
    record.refresh_from_db()
    assert record.excluded_from_statistics is (not keep_numbers)
    assert Client.objects.counted_in_statistics().filter(pk=record.pk).exists() is keep_numbers
    # The trail only grew; the erasure names fields, never what they held.
    assert (
        list(
            AuditEntry.objects.filter(pk__in=[e[0] for e in entries_before]).values_list(
                "pk", "action", "fields"
            )
        )
        == entries_before
    )
    erasure = AuditEntry.objects.get(action=AuditAction.ERASED)
    assert "label" in erasure.fields and "measures.rating.comment" in erasure.fields
    recorded = json.dumps(list(AuditEntry.objects.values()), default=str)
    for erased in ("R.K.", "RK-0042", "rk@example.org", COMMENT, NOTE):
        assert erased not in recorded
    assert not RatingInvitation.objects.filter(session__client=record).live().exists()


def _row_counts(client: Client) -> tuple[int, ...]:
    return (
        Session.objects.filter(client=client).count(),
        Rating.objects.filter(session__client=client).count(),
        Flag.objects.filter(client=client).count(),
        Concern.objects.filter(client=client).count(),
        ConcernEvent.objects.filter(concern__client=client).count(),
        RatingInvitation.objects.filter(session__client=client).count(),
    )


def test_an_erased_client_is_not_erased_twice_nor_reopened(
    record: Client, clinic_admin: User
) -> None:
    from clients.services import client_reopen

    discharge(record)
    rights.client_erase(actor=clinic_admin, client=record)
    with pytest.raises(ValidationError, match="already"):
        rights.client_erase(actor=clinic_admin, client=record)
    record.refresh_from_db()
    with pytest.raises(ValidationError, match="erased"):
        client_reopen(actor=clinic_admin, client=record)
    assert AuditEntry.objects.filter(action=AuditAction.ERASED).count() == 1


# --- The commands ----------------------------------------------------------------------------


def test_client_export_writes_both_files_after_confirmation(
    record: Client, clinic_admin: User, tmp_path: Path
) -> None:
    out = io.StringIO()
    call_command(
        "client_export",
        str(record.pk),
        "--as",
        "ada",
        "--out",
        str(tmp_path),
        stdin=io.StringIO(f"{record.pk}\n"),
        stdout=out,
    )
    document = json.loads((tmp_path / f"client-{record.pk}.json").read_text())
    assert document["client"]["label"] == "R.K."
    assert "Everything held about R.K." in (tmp_path / f"client-{record.pk}.html").read_text()
    assert f"client-{record.pk}.json" in out.getvalue()
    assert f"client-{record.pk}.html" in out.getvalue()


def test_client_erase_asks_and_stops_on_a_wrong_answer(record: Client, clinic_admin: User) -> None:
    discharge(record)
    with pytest.raises(CommandError, match="Not confirmed"):
        call_command(
            "client_erase",
            str(record.pk),
            "--as",
            "ada",
            stdin=io.StringIO("no\n"),
            stdout=io.StringIO(),
        )
    record.refresh_from_db()
    assert record.label == "R.K."
    call_command(
        "client_erase",
        str(record.pk),
        "--as",
        "ada",
        stdin=io.StringIO("R.K.\n"),
        stdout=io.StringIO(),
    )
    record.refresh_from_db()
    assert record.is_erased


def test_client_erase_with_yes_does_not_ask(record: Client, clinic_admin: User) -> None:
    discharge(record)
    out = io.StringIO()
    call_command("client_erase", str(record.pk), "--as", "ada", "--yes", stdout=out)
    assert "Erased client" in out.getvalue()
    assert "R.K." not in out.getvalue()


def test_the_commands_take_the_admins_username_in_any_case(
    record: Client, clinic_admin: User
) -> None:
    discharge(record)
    out = io.StringIO()
    call_command("client_erase", str(record.pk), "--as", "ADA", "--yes", stdout=out)
    assert "Erased client" in out.getvalue()


def test_client_erase_refuses_an_active_client(record: Client, clinic_admin: User) -> None:
    with pytest.raises(CommandError, match="discharged"):
        call_command("client_erase", str(record.pk), "--as", "ada", "--yes")


@pytest.mark.parametrize("command", ["client_export", "client_erase"])
def test_the_commands_are_for_the_clients_clinic_admins(
    record: Client, therapist: User, outsider: User, command: str, tmp_path: Path
) -> None:
    discharge(record)
    ClinicAdminFactory(clinic=outsider.clinic, username="far-admin")
    for username in ("tara", "far-admin"):
        with pytest.raises(CommandError, match="not a clinic admin"):
            call_command(command, str(record.pk), "--as", username, "--yes")
    with pytest.raises(CommandError, match="No member of staff"):
        call_command(command, str(record.pk), "--as", "nobody", "--yes")
    assert list(tmp_path.iterdir()) == []
    record.refresh_from_db()
    assert not record.is_erased


def answering_in_a_thread(token: str, comment: str, problems: list[Exception]) -> Any:
    """The client answering through their link on a connection of its own, pausing once
    their rating is written (its session and link locked, nothing committed yet)."""

    def answer() -> None:
        client_rating_submit(
            invitation=invitation_find(token),
            answers={
                **dict.fromkeys(DIMENSIONS, 8),
                "rupture": "none",
                "rupture_resolved": "",
                "comment": comment,
            },
            notice_version=1,
            notice_language="en",
        )

    def rating_written(sql: str) -> bool:
        return sql.startswith("INSERT") and "measures_rating" in sql

    written, paused_answer = paused_once(answer, rating_written, problems)
    return written, on_a_connection_of_its_own(paused_answer)


@pytest.mark.django_db(transaction=True)
def test_an_answer_stored_while_the_client_is_erased_is_erased_too(
    client_record: Client, clinic_admin: User
) -> None:
    """The erasure waits for an answer already being stored and erases its comment with
    the rest; closing the links only at the end, it had missed one committed meanwhile."""
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    session = SessionFactory(client=client_record, notes="")
    token = invitation_create(session=session)[1]
    discharge(client_record)
    problems: list[Exception] = []
    written, answering = answering_in_a_thread(token, COMMENT, problems)
    try:
        assert written.wait(10)
        rights.client_erase(actor=clinic_admin, client=client_record)
    finally:
        answering.join()
    assert problems == []
    rating = Rating.objects.get(session=session)
    assert rating.comment == "" and Client.objects.get(pk=client_record.pk).is_erased


def locks_a_row(sql: str) -> bool:
    return "FOR UPDATE" in sql


@pytest.mark.django_db(transaction=True)
def test_a_reminder_going_out_as_the_client_is_erased_ends_cleanly_for_both(
    client_record: Client, clinic_admin: User
) -> None:
    """Both lock the session before the client: locking the session's client with it
    (select_related under FOR UPDATE) the link's replacement had deadlocked the erasure."""
    Client.objects.filter(pk=client_record.pk).update(email="rk@example.org")
    invitation = invitation_create(session=SessionFactory(client=client_record, notes=""))[0]
    discharge(Client.objects.get(pk=client_record.pk))
    problems: list[Exception] = []
    locked, send = paused_once(
        lambda: invitations.invitation_send(invitation_id=invitation.pk), locks_a_row, problems
    )
    sending = on_a_connection_of_its_own(send)
    try:
        assert locked.wait(10)
        rights.client_erase(actor=clinic_admin, client=Client.objects.get(pk=client_record.pk))
    finally:
        sending.join()
    assert problems == [] and Client.objects.get(pk=client_record.pk).is_erased


@pytest.mark.django_db(transaction=True)
def test_a_session_voided_as_the_client_is_erased_ends_cleanly_for_both(
    client_record: Client, clinic_admin: User, therapist: User
) -> None:
    from sessions.services import session_void

    session = SessionFactory(client=client_record, therapist=therapist, notes="")
    discharge(Client.objects.get(pk=client_record.pk))
    voided: list[Exception] = []
    void = errors_kept(
        lambda: session_void(actor=therapist, session=session, reason="Logged in error"), voided
    )
    erasing: list[Exception] = []
    locked, erase = paused_once(
        lambda: rights.client_erase(actor=clinic_admin, client=client_record),
        locks_a_row,
        erasing,
    )
    # Once the erasure holds the client, the therapist voids a session.
    voiding = threading.Timer(0.1, lambda: on_a_connection_of_its_own(void).join())
    voiding.start()
    erase()
    voiding.join()
    assert locked.is_set() and erasing == [] and voided == []
    assert Client.objects.get(pk=client_record.pk).is_erased


# --- Retention -----------------------------------------------------------------------------


def test_retention_erases_only_discharged_clients_past_their_clinics_period(
    clinic: Clinic, therapist: User, outsider: User
) -> None:
    Clinic.objects.filter(pk=clinic.pk).update(retention_days_after_discharge=30)
    past = discharge(ClientFactory(therapist=therapist, label="Past"), days_ago=31)
    recent = discharge(ClientFactory(therapist=therapist, label="Recent"), days_ago=29)
    active = ClientFactory(therapist=therapist, label="Active")
    # A clinic without a retention period keeps everything.
    kept = discharge(ClientFactory(therapist=outsider, label="Kept"), days_ago=3000)

    assert retention_erase() == {clinic.slug: 1}

    statuses = {c.pk: c.is_erased for c in Client.objects.all()}
    assert statuses == {past.pk: True, recent.pk: False, active.pk: False, kept.pk: False}
    entry = AuditEntry.objects.get(action=AuditAction.ERASED)
    assert (entry.actor_name, entry.place, entry.client_id) == (SYSTEM, "retention", past.pk)
    # Running again finds nothing left to do.
    assert retention_erase() == {clinic.slug: 0}


def test_the_retention_task_and_command_say_what_they_did(
    clinic: Clinic, therapist: User, caplog: pytest.LogCaptureFixture
) -> None:
    Clinic.objects.filter(pk=clinic.pk).update(retention_days_after_discharge=1)
    discharge(ClientFactory(therapist=therapist, label="Gone"), days_ago=2)
    with caplog.at_level("INFO", logger="measures.retention"):
        assert erase_past_retention.delay().get() == {clinic.slug: 1}
    assert "1 client(s) of clinic riverside erased" in caplog.text
    assert "Gone" not in caplog.text
    out = io.StringIO()
    call_command("erase_past_retention", stdout=out)
    assert out.getvalue() == "riverside: 0 client(s) erased.\n"


def test_the_command_shows_each_clinics_progress_and_names_no_client(
    clinic: Clinic, therapist: User, capsys: pytest.CaptureFixture[str]
) -> None:
    Clinic.objects.filter(pk=clinic.pk).update(retention_days_after_discharge=1)
    for label in ("Gone", "Left"):
        discharge(ClientFactory(therapist=therapist, label=label), days_ago=2)
    out = io.StringIO()
    call_command("erase_past_retention", stdout=out)
    assert out.getvalue() == "riverside: 2 client(s) erased.\n"
    progress = capsys.readouterr().err
    assert progress.startswith("riverside: 2 of 2 clients in 0:0")
    assert "Gone" not in progress and "Left" not in progress


def test_the_retention_task_is_scheduled(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["erase-past-retention"]
    assert entry["task"] == erase_past_retention.name


def test_a_clinic_admin_sets_the_retention(clinic: Clinic, clinic_admin: User) -> None:
    from clients.services import clinic_retention_set

    clinic_retention_set(
        actor=clinic_admin,
        clinic=clinic,
        retention_days_after_discharge=365,
        keep_numbers_after_erasure=False,
    )
    clinic.refresh_from_db()
    assert (clinic.retention_days_after_discharge, clinic.keep_numbers_after_erasure) == (
        365,
        False,
    )
    with pytest.raises(PermissionDenied):
        clinic_retention_set(
            actor=TherapistFactory(clinic=clinic),
            clinic=clinic,
            retention_days_after_discharge=1,
            keep_numbers_after_erasure=True,
        )


@pytest.mark.parametrize("days", [0, 36_501, 2_147_483_647])
def test_a_retention_outside_1_to_36500_days_is_refused_and_nothing_saved(
    clinic: Clinic, clinic_admin: User, days: int
) -> None:
    """0 would anonymise a client in the hour of their discharge; past 36,500 days a date
    cannot count back (the nightly erasure would fail for every clinic after this one)."""
    from clients.services import clinic_retention_set

    with pytest.raises(ValidationError) as refused:
        clinic_retention_set(
            actor=clinic_admin,
            clinic=clinic,
            retention_days_after_discharge=days,
            keep_numbers_after_erasure=False,
        )
    assert list(refused.value.message_dict) == ["retention_days_after_discharge"]
    stored = Clinic.objects.values_list(
        "retention_days_after_discharge", "keep_numbers_after_erasure"
    ).get(pk=clinic.pk)
    assert stored == (None, True)
    # The database refuses it too, whatever writes it.
    with pytest.raises(IntegrityError), transaction.atomic():
        Clinic.objects.filter(pk=clinic.pk).update(retention_days_after_discharge=days)


def test_erasure_also_erases_the_notes_an_edit_kept(
    record: Client, therapist: User, clinic_admin: User
) -> None:
    from sessions.models import SessionRevision
    from sessions.services import session_update

    session = Session.objects.get(client=record, notes=PRIVATE)
    # The concern's session was made at the same moment: a day later, out of the way of
    # this one's longer duration (a client is in one session at a time).
    Session.objects.filter(client=record).exclude(pk=session.pk).update(
        starts_at=session.starts_at + dt.timedelta(days=1)
    )
    session_update(
        actor=therapist,
        session=session,
        starts_at=session.starts_at,
        duration_minutes=session.duration_minutes + 5,
        attendance=session.attendance,
        modality=session.modality,
        notes="Rewritten after supervision.",
    )
    [revision] = SessionRevision.objects.filter(session=session)
    assert revision.previous["notes"] == PRIVATE
    rights.client_erase(actor=clinic_admin, client=discharge(record))
    revision.refresh_from_db()
    # The earlier notes are gone; the earlier duration, a number, stays.
    assert revision.previous == {"notes": "", "duration_minutes": session.duration_minutes}
    assert PRIVATE not in repr(list(SessionRevision.objects.values()))
