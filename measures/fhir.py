"""FHIR R4 export: what an electronic health record can receive from Alliance.

- The client's alliance form as a `Questionnaire` (six 0–10 items and the two rupture
  questions, as the client reads them in English), and each outcome instrument the client
  answered as one too.
- Each client rating and each outcome answer (of a session not voided) as a
  `QuestionnaireResponse` that points at its questionnaire.
- Per client, a `Bundle` of type `collection` holding them, downloaded by the clinic's
  admins (page and API). Each response names its session (`encounter`, by number and date)
  and was `authored` when the client answered.

The client is named by their pseudonym label and, when the clinic keeps one, their
external ID; nothing else of theirs (no e-mail address, no comment, no note) is sent.
Built as plain JSON here; the tests validate it with fhir.resources' models.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone, translation

from clients import audit
from clients.models import Client
from clients.scoping import is_clinic_admin_of
from measures.items import CLIENT_ITEMS, CLIENT_RUPTURE_QUESTION, RUPTURE_RESOLVED_QUESTION
from measures.models import Instrument, OutcomeAnswer, Rating
from measures.scoring import DIMENSIONS, SCORE_MAX, SCORE_MIN

ALLIANCE_FORM = "alliance-session-rating"
FORM_VERSION = "1"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
NOT_FOR_YOU = "A client's FHIR export is for the clinic's admins."


def base() -> str:
    return f"{settings.ALLIANCE_BASE_URL.rstrip('/')}/fhir"


def _bounds(low: int, high: int) -> list[dict[str, Any]]:
    return [{"url": MIN_VALUE, "valueInteger": low}, {"url": MAX_VALUE, "valueInteger": high}]


def _coding(system: str, choice: Any) -> dict[str, str]:
    return {"system": system, "code": choice.value, "display": str(choice.label)}


def _rupture_system(name: str) -> str:
    return f"{base()}/CodeSystem/{name}"


def alliance_questionnaire() -> dict[str, Any]:
    """The client's alliance form, in English."""
    with translation.override("en"):
        items = [
            {
                "linkId": name,
                "text": str(CLIENT_ITEMS[name]),
                "type": "integer",
                "required": True,
                "extension": _bounds(SCORE_MIN, SCORE_MAX),
            }
            for name in DIMENSIONS
        ]
        rupture = _rupture_system("rupture")
        items.append(
            {
                "linkId": "rupture",
                "text": str(CLIENT_RUPTURE_QUESTION),
                "type": "choice",
                "required": True,
                "answerOption": [{"valueCoding": _coding(rupture, c)} for c in Rating.Rupture],
            }
        )
        items.append(
            {
                "linkId": "rupture_resolved",
                "text": str(RUPTURE_RESOLVED_QUESTION),
                "type": "choice",
                "enableWhen": [
                    {
                        "question": "rupture",
                        "operator": "!=",
                        "answerCoding": _coding(rupture, Rating.Rupture.NONE),
                    }
                ],
                "answerOption": [
                    {"valueCoding": _coding(_rupture_system("rupture-resolved"), c)}
                    for c in Rating.RuptureResolved
                ],
            }
        )
    return {
        "resourceType": "Questionnaire",
        "id": ALLIANCE_FORM,
        "url": f"{base()}/Questionnaire/{ALLIANCE_FORM}",
        "version": FORM_VERSION,
        "name": "AllianceSessionRating",
        "title": "How was today's session? (Alliance)",
        "status": "active",
        "subjectType": ["Patient"],
        "item": items,
    }


def _outcome_form(instrument: Instrument) -> str:
    return f"outcome-instrument-{instrument.pk}"


def outcome_questionnaire(instrument: Instrument) -> dict[str, Any]:
    """An outcome instrument as the client reads it, in English."""
    words = instrument.wording("en")
    return {
        "resourceType": "Questionnaire",
        "id": _outcome_form(instrument),
        "url": f"{base()}/Questionnaire/{_outcome_form(instrument)}",
        "version": FORM_VERSION,  # an instrument's items never change once added
        "name": f"OutcomeInstrument{instrument.pk}",
        "title": instrument.name,
        "status": "retired" if instrument.retired_at else "active",
        "subjectType": ["Patient"],
        "description": words.get("intro", ""),
        "item": [
            {
                "linkId": f"item-{number}",
                "text": text,
                "type": "integer",
                "required": True,
                "extension": _bounds(instrument.minimum, instrument.maximum),
            }
            for number, text in enumerate(words["items"], start=1)
        ],
    }


def _subject(client: Client) -> dict[str, Any]:
    """The client by their label, and their external ID where the clinic keeps one."""
    subject: dict[str, Any] = {"display": client.label}
    if client.external_id:
        subject["identifier"] = {
            "system": f"{base()}/clinic/{client.clinic.slug}/external-id",
            "value": client.external_id,
        }
    return subject


def _encounter(session: Any, client: Client) -> dict[str, Any]:
    """The session answered about, by its number and date (a logical reference: the
    health record keeps its own encounters)."""
    day = timezone.localtime(session.starts_at).date()
    return {
        "identifier": {
            "system": f"{base()}/clinic/{client.clinic.slug}/session",
            "value": str(session.pk),
        },
        "display": f"Session {session.number}, {day.isoformat()}",
    }


def rating_response(rating: Rating, client: Client) -> dict[str, Any]:
    """One client rating, answering the alliance form."""
    items: list[dict[str, Any]] = [
        {"linkId": name, "answer": [{"valueInteger": getattr(rating, name)}]} for name in DIMENSIONS
    ]
    items.append(
        {
            "linkId": "rupture",
            "answer": [
                {"valueCoding": _coding(_rupture_system("rupture"), Rating.Rupture(rating.rupture))}
            ],
        }
    )
    if rating.rupture_resolved:
        resolved = Rating.RuptureResolved(rating.rupture_resolved)
        system = _rupture_system("rupture-resolved")
        items.append(
            {"linkId": "rupture_resolved", "answer": [{"valueCoding": _coding(system, resolved)}]}
        )
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"rating-{rating.pk}",
        "questionnaire": f"{base()}/Questionnaire/{ALLIANCE_FORM}|{FORM_VERSION}",
        "status": "completed",
        "subject": _subject(client),
        "encounter": _encounter(rating.session, client),
        "authored": rating.submitted_at.isoformat(),
        "item": items,
    }


def outcome_response(answer: OutcomeAnswer, client: Client) -> dict[str, Any]:
    """One outcome answer, answering its instrument."""
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"outcome-answer-{answer.pk}",
        "questionnaire": (
            f"{base()}/Questionnaire/{_outcome_form(answer.instrument)}|{FORM_VERSION}"
        ),
        "status": "completed",
        "subject": _subject(client),
        "encounter": _encounter(answer.session, client),
        "authored": answer.submitted_at.isoformat(),
        "item": [
            {"linkId": f"item-{number}", "answer": [{"valueInteger": int(value)}]}
            for number, value in enumerate(answer.answers, start=1)
        ],
    }


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    """A bundle entry. Its fullUrl is a UUID made from the resource's type and id here, not
    an address: Alliance serves no FHIR endpoint that would answer one."""
    name = f"{base()}/{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}", "resource": resource}


def client_bundle(*, actor: Any, client: Client, place: str = "FHIR export") -> dict[str, Any]:
    """The client's ratings and outcome answers with the questionnaires they answer, as a
    FHIR collection; recorded in the audit trail as an export."""
    if not is_clinic_admin_of(actor, client.clinic_id):
        raise PermissionDenied(NOT_FOR_YOU)
    ratings = (
        Rating.objects.filter(session__client=client, rater=Rating.Rater.CLIENT)
        .filter(session__voided_at__isnull=True)
        .select_related("session")
        .order_by("session__starts_at", "pk")
    )
    answers = list(
        OutcomeAnswer.objects.filter(session__client=client, session__voided_at__isnull=True)
        .select_related("instrument", "session")
        .order_by("session__starts_at", "pk")
    )
    instruments = {answer.instrument_id: answer.instrument for answer in answers}
    resources = [
        alliance_questionnaire(),
        *(outcome_questionnaire(instrument) for instrument in instruments.values()),
        *(rating_response(rating, client) for rating in ratings),
        *(outcome_response(answer, client) for answer in answers),
    ]
    audit.exported_clients(actor, {client.pk: client.clinic_id}, place=place)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": [_entry(resource) for resource in resources],
    }
