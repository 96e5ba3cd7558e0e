"""The FHIR R4 export: questionnaires, responses and a client's bundle, validated with
fhir.resources' models (R4B, which changed nothing in these three resources)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from accounts import tokens
from clients.models import AuditAction, AuditEntry, Client, User
from clients.tests.factories import ClinicAdminFactory, ClinicFactory
from measures import fhir
from measures.models import OutcomeAnswer, Rating
from measures.scoring import DIMENSIONS
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory
from sessions.services import session_void
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def validated(resource: dict[str, Any]) -> Any:
    """The resource as fhir.resources reads it; a ValidationError if malformed."""
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@pytest.fixture
def history(client_record: Client) -> dict[str, Any]:
    """Two rated sessions (a rupture partly talked through, then none), each with an
    outcome answer; a voided session's rating and the therapist's own are left out."""
    client_record.external_id = "MRN-0042"
    client_record.email = "rk@example.org"
    client_record.save()
    start = timezone.now() - dt.timedelta(weeks=3)
    first = SessionFactory(client=client_record, starts_at=start)
    second = SessionFactory(client=client_record, starts_at=start + dt.timedelta(weeks=1))
    voided = SessionFactory(client=client_record, starts_at=start + dt.timedelta(weeks=2))
    ratings = [
        RatingFactory(session=first, trust=7, rupture="a_little", rupture_resolved="partly",
                      comment="SECRET COMMENT"),
        RatingFactory(session=second, trust=10),
    ]  # fmt: skip
    RatingFactory(session=first, rater="therapist", trust=3)
    RatingFactory(session=voided, trust=1)
    answers = [
        OutcomeAnswerFactory(session=first, answers=[3, 4, 5, 6]),
        OutcomeAnswerFactory(session=second, answers=[7, 8, 6, 9]),
    ]
    session_void(actor=client_record.therapist, session=voided, reason="Logged twice.")
    return {"ratings": ratings, "answers": answers}


def download(browser: Any, client_record: Client) -> Any:
    return browser.get(reverse("measures:client-fhir", args=[client_record.pk]))


def test_a_clinic_admin_downloads_a_valid_bundle(
    client: Any, clinic_admin: User, client_record: Client, history: dict[str, Any]
) -> None:
    client.force_login(clinic_admin)
    response = download(client, client_record)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert "attachment" in response["Content-Disposition"]
    bundle = json.loads(response.content)
    validated(bundle)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    resources = [entry["resource"] for entry in bundle["entry"]]
    for entry in bundle["entry"]:
        validated(entry["resource"])
        assert entry["fullUrl"].startswith("urn:uuid:")
    assert len({entry["fullUrl"] for entry in bundle["entry"]}) == len(bundle["entry"])
    kinds = [resource["resourceType"] for resource in resources]
    assert kinds == ["Questionnaire"] * 2 + ["QuestionnaireResponse"] * 4


def test_each_response_answers_its_questionnaire_with_the_stored_values(
    client: Any, clinic_admin: User, client_record: Client, history: dict[str, Any]
) -> None:
    client.force_login(clinic_admin)
    resources = [
        e["resource"] for e in json.loads(download(client, client_record).content)["entry"]
    ]
    questionnaires = {r["url"]: r for r in resources if r["resourceType"] == "Questionnaire"}
    responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    for response in responses:
        assert response["status"] == "completed"
        url = response["questionnaire"].split("|")[0]
        asked = {item["linkId"] for item in questionnaires[url]["item"]}
        assert {item["linkId"] for item in response["item"]} <= asked
    first: Rating = history["ratings"][0]
    [rating] = [r for r in responses if r["id"] == f"rating-{first.pk}"]
    answers = {item["linkId"]: item["answer"][0] for item in rating["item"]}
    assert [answers[name]["valueInteger"] for name in DIMENSIONS] == [
        getattr(first, name) for name in DIMENSIONS
    ]
    assert answers["rupture"]["valueCoding"]["code"] == "a_little"
    day = timezone.localtime(first.session.starts_at).date().isoformat()
    assert rating["encounter"]["display"] == f"Session {first.session.number}, {day}"
    assert answers["rupture_resolved"]["valueCoding"]["code"] == "partly"
    outcome: OutcomeAnswer = history["answers"][1]
    outcome.refresh_from_db()  # as stored (the factory's are a tuple)
    [answer] = [r for r in responses if r["id"] == f"outcome-answer-{outcome.pk}"]
    assert [item["answer"][0]["valueInteger"] for item in answer["item"]] == outcome.answers
    # The voided session's rating and the therapist's own are not the client's record here.
    assert {r["id"] for r in responses if r["id"].startswith("rating-")} == {
        f"rating-{rating.pk}" for rating in history["ratings"]
    }


def test_the_client_is_named_by_label_and_external_id_only(
    client: Any, clinic_admin: User, client_record: Client, history: dict[str, Any]
) -> None:
    client.force_login(clinic_admin)
    text = download(client, client_record).content.decode()
    bundle = json.loads(text)
    subjects = [e["resource"]["subject"] for e in bundle["entry"] if "subject" in e["resource"]]
    assert subjects and all(
        subject["display"] == "R.K." and subject["identifier"]["value"] == "MRN-0042"
        for subject in subjects
    )
    for secret in ("rk@example.org", "SECRET COMMENT", str(client_record.therapist)):
        assert secret not in text


def test_a_client_without_an_external_id_is_named_by_label(
    clinic_admin: User, client_record: Client
) -> None:
    RatingFactory(session=SessionFactory(client=client_record))
    bundle = fhir.client_bundle(actor=clinic_admin, client=client_record)
    [response] = [e["resource"] for e in bundle["entry"] if "subject" in e["resource"]]
    assert response["subject"] == {"display": "R.K."}
    validated(bundle)


def test_the_download_is_recorded(
    client: Any, clinic_admin: User, client_record: Client, history: dict[str, Any]
) -> None:
    client.force_login(clinic_admin)
    download(client, client_record)
    entry = AuditEntry.objects.get(action=AuditAction.EXPORTED)
    assert (entry.actor, entry.client_id, entry.place) == (
        clinic_admin,
        client_record.pk,
        "FHIR export",
    )


@pytest.mark.parametrize(
    ("who", "status"), [("therapist", 403), ("supervisor", 403), ("outsider", 404)]
)
def test_only_the_clients_clinic_admins_download_it(
    client: Any, client_record: Client, who: str, status: int, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert download(client, client_record).status_code == status
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORTED).exists()


def test_through_the_api_with_a_clinic_admins_token(
    client: Any, clinic_admin: User, therapist: User, client_record: Client, history: dict[str, Any]
) -> None:
    path = f"/api/v1/clients/{client_record.pk}/fhir/"
    admin_token = tokens.token_create(user=clinic_admin, name="EHR")[1]
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    validated(json.loads(response.content))
    asked = client.get(
        path, HTTP_AUTHORIZATION=f"Bearer {admin_token}", HTTP_ACCEPT="application/fhir+json"
    )
    assert asked.status_code == 200 and asked["Content-Type"] == "application/fhir+json"
    therapist_token = tokens.token_create(user=therapist, name="Mine")[1]
    assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {therapist_token}").status_code == 403
    elsewhere = ClinicAdminFactory(clinic=ClinicFactory(name="Elsewhere", slug="elsewhere"))
    other = tokens.token_create(user=elsewhere, name="X")[1]
    assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 404


def test_the_validation_refuses_a_malformed_resource(
    clinic_admin: User, client_record: Client, history: dict[str, Any]
) -> None:
    """The check itself: what fhir.resources refuses, the tests above would."""
    bundle = fhir.client_bundle(actor=clinic_admin, client=client_record)
    response = next(e["resource"] for e in bundle["entry"] if "subject" in e["resource"])
    for broken in (
        {**response, "authored": "last Tuesday"},
        {**response, "item": [{"linkId": "trust", "answer": [{"valueInteger": "nine"}]}]},
        {**response, "patient": "R.K."},
    ):
        with pytest.raises(ValidationError):
            validated(broken)
