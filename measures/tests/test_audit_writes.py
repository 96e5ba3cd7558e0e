"""Ratings, a concern's review, thresholds, calibrations and the concerns detection opens
leave audit entries: who, what, for which client and clinic — never a score or a note."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from clients import audit
from clients.models import AuditEntry, Client, Clinic, User
from measures import calibration_runs
from measures.detection import evaluate_clients
from measures.models import Calibration, ClinicThresholds, Concern, Rating
from measures.review import concern_acknowledge, concern_comment, concern_dismiss, concern_resolve
from measures.scoring import DIMENSIONS
from measures.services import (
    AlreadyAnswered,
    client_rating_submit,
    rating_submit,
    rating_update,
)
from measures.tests.test_detection import week
from measures.thresholds import thresholds_apply, thresholds_reset
from sessions.invitations import invitation_create
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

WHAT = ("actor_name", "action", "model", "object_id", "client_id", "clinic_id", "fields")
ANSWERS = {**dict.fromkeys(DIMENSIONS, "7"), "rupture": "none", "comment": "Felt unheard today"}


def entries() -> list[tuple[Any, ...]]:
    return list(AuditEntry.objects.order_by("pk").values_list(*WHAT))


def stored() -> str:
    return repr(list(AuditEntry.objects.values()))


def test_a_therapists_rating_and_its_revision_name_fields_not_scores(
    therapist: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    rating = rating_submit(
        session=session, rater=Rating.Rater.THERAPIST, answers=ANSWERS, submitted_by=therapist
    )
    revised = {**ANSWERS, "trust": "3", "comment": "Rupture over the fee, private"}
    rating_update(rating=rating, actor=therapist, answers=revised)
    row = ("measures.rating", str(rating.pk), client_record.pk, client_record.clinic_id)
    assert entries() == [
        ("tara", "created", *row, []),
        ("tara", "changed", *row, ["comment", "trust"]),
    ]
    assert "unheard" not in stored() and "fee" not in stored()


def test_a_clients_rating_through_their_link_is_recorded_once_as_the_link(
    client_record: Client,
) -> None:
    invitation, _token = invitation_create(session=SessionFactory(client=client_record))
    shown = {"notice_version": 1, "notice_language": "en"}  # the notice the form showed
    rating = client_rating_submit(invitation=invitation, answers=ANSWERS, **shown)
    with pytest.raises(AlreadyAnswered):
        client_rating_submit(invitation=invitation, answers=ANSWERS, **shown)
    assert entries() == [
        (
            "client link",
            "created",
            "measures.rating",
            str(rating.pk),
            client_record.pk,
            client_record.clinic_id,
            [],
        )
    ]
    assert AuditEntry.objects.get().actor_id is None


def test_a_refused_rating_records_nothing(
    therapist: User, colleague: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    with pytest.raises(PermissionDenied):
        rating_submit(
            session=session, rater=Rating.Rater.THERAPIST, answers=ANSWERS, submitted_by=colleague
        )
    with pytest.raises(ValidationError):
        rating_submit(
            session=session,
            rater=Rating.Rater.THERAPIST,
            answers={**ANSWERS, "trust": "11"},
            submitted_by=therapist,
        )
    assert entries() == []


def test_each_step_of_a_review_names_its_fields_never_the_note(
    therapist: User, supervisor: User, concern: Concern
) -> None:
    concern_acknowledge(concern=concern, actor=therapist)
    concern_comment(concern=concern, actor=supervisor, note="Ask about the holiday gap")
    concern_resolve(concern=concern, actor=therapist, note="We talked through the holiday gap")
    row = ("measures.concern", str(concern.pk), concern.client_id, therapist.clinic_id)
    assert entries() == [
        ("tara", "changed", *row, ["status"]),
        ("sue", "changed", *row, ["comment"]),
        ("tara", "changed", *row, ["note", "status"]),
    ]
    assert "holiday" not in stored()


def test_dismissing_is_recorded_and_a_refused_step_is_not(
    therapist: User, supervisor: User, outsider: User, concern: Concern
) -> None:
    with pytest.raises(PermissionDenied):
        concern_acknowledge(concern=concern, actor=supervisor)
    with pytest.raises(PermissionDenied):
        concern_comment(concern=concern, actor=outsider, note="Not mine to say")
    with pytest.raises(ValidationError):
        concern_dismiss(concern=concern, actor=therapist, reason="  ")
    assert entries() == []
    concern_dismiss(concern=concern, actor=therapist, reason="A bad week, nothing more")
    with pytest.raises(ValidationError):
        concern_resolve(concern=concern, actor=therapist, note="Too late")
    assert [entry[1:] for entry in entries()] == [
        (
            "changed",
            "measures.concern",
            str(concern.pk),
            concern.client_id,
            therapist.clinic_id,
            ["note", "status"],
        )
    ]


def proposal(clinic: Clinic) -> Calibration:
    """A calibration proposing a larger fall in one dimension and difference between raters
    (the settings say 4 and 1.5), and the settings' own SD."""
    return Calibration.objects.create(
        clinic=clinic,
        result={
            "enough_data": True,
            "proposed": {"dimension_drop": 5, "discrepancy": 2.5, "sd": 1.0},
        },
    )


def test_applying_and_resetting_thresholds_name_the_thresholds_that_moved(
    clinic: Clinic, clinic_admin: User, supervisor: User
) -> None:
    run = proposal(clinic)
    with pytest.raises(PermissionDenied):
        thresholds_apply(calibration=run, actor=supervisor)
    assert entries() == []
    thresholds_apply(calibration=run, actor=clinic_admin)
    thresholds_reset(clinic=clinic, actor=clinic_admin)
    row = ("measures.clinicthresholds", str(ClinicThresholds.objects.get().pk), None, clinic.pk)
    assert entries() == [
        ("ada", "changed", *row, ["dimension_drop", "discrepancy"]),
        ("ada", "changed", *row, ["dimension_drop", "discrepancy"]),
    ]
    assert "2.5" not in stored()


def test_a_calibration_run_is_recorded_as_its_admin_or_the_system(
    clinic: Clinic, clinic_admin: User
) -> None:
    run = calibration_runs.calibration_run(clinic=clinic, actor=clinic_admin)
    call_command("calibrate_thresholds", "--clinic", str(clinic.pk), stdout=StringIO())
    command_run = Calibration.objects.exclude(pk=run.pk).get()
    assert entries() == [
        ("ada", "created", "measures.calibration", str(run.pk), None, clinic.pk, []),
        ("system", "created", "measures.calibration", str(command_run.pk), None, clinic.pk, []),
    ]


def test_each_concern_detection_opens_is_recorded_by_the_system(
    client_record: Client, colleague_client: Client
) -> None:
    for someone in (client_record, colleague_client):
        for weeks_ago, score in [(6, 10), (5, 10), (4, 10), (3, 9), (2, 8), (1, 7)]:
            week(someone, weeks_ago, score)
    outcome = evaluate_clients([client_record.pk, colleague_client.pk])
    assert outcome.concerns_opened == 2
    assert sorted(entries()) == sorted(
        (
            audit.SYSTEM,
            "created",
            "measures.concern",
            str(concern.pk),
            concern.client_id,
            client_record.clinic_id,
            [],
        )
        for concern in Concern.objects.all()
    )
    # Detection run again finds nothing new, and records nothing.
    evaluate_clients([client_record.pk, colleague_client.pk])
    assert len(entries()) == 2
