"""The client form's database work alone (bench/ceiling.py) stores what the form stores.

`make bench` reads the form's rate against it; a change to the form's rows (a new column,
another audit entry) that the benchmark's SQL did not follow would make that ratio compare
unlike work without failing the benchmark. Its SQL is PostgreSQL's, as the benchmark is.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import reverse

from bench.ceiling import bench_form_statements
from bench.submissions import answers_for
from clients.models import AuditEntry, Client
from measures.models import OutcomeAnswer, Rating
from measures.scoring import DIMENSIONS
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def stored(session: Session) -> dict[str, Any]:
    """What one answer left behind, without what differs by nature (ids, times, session)."""
    session.refresh_from_db()
    rating = Rating.objects.get(session=session)
    outcome = OutcomeAnswer.objects.get(session=session)
    audit = AuditEntry.objects.filter(
        model__in=["measures.rating", "measures.outcomeanswer"],
        object_id__in=[str(rating.pk), str(outcome.pk)],
    )
    return {
        "client_score": session.client_score,
        "rating": {
            name: getattr(rating, name)
            for name in (*DIMENSIONS, "rater", "rupture", "rupture_resolved", "comment")
        }
        | {
            "notice": (rating.notice_version, rating.notice_language),
            "notice shown as sent": rating.notice_shown_at == rating.submitted_at,
            "by staff": rating.submitted_by_id,
            "guess": rating.guessed_client_score,
        },
        "outcome": (outcome.instrument_id, outcome.answers, outcome.score, outcome.track),
        "link used": RatingInvitation.objects.get(session=session).used_at is not None,
        "audit": sorted(
            (e.action, e.model, e.actor_name, e.place, e.client_id, e.clinic_id, tuple(e.fields))
            for e in audit
        ),
    }


def test_the_forms_database_work_alone_stores_what_the_form_stores(
    client: Any, client_record: Client, postgresql: None
) -> None:
    through_form, by_hand = (
        SessionFactory(client=client_record),
        SessionFactory(client=client_record),
    )
    form_token = invitations.invitation_create(session=through_form)[1]
    hand_token = invitations.invitation_create(session=by_hand)[1]
    form_url = reverse("measures:client-rating", args=[form_token])
    page = client.get(form_url).content
    answers = answers_for(page, random.Random(7))
    assert client.post(form_url, answers).status_code == 302

    requests = RequestFactory()
    hand_url = f"/bench/form/{hand_token}/"
    drawn = bench_form_statements(requests.get(hand_url), hand_token)
    assert drawn.status_code == 200
    assert answers_for(drawn.content, random.Random(7)) == answers  # the same questions
    assert bench_form_statements(requests.post(hand_url, answers), hand_token).status_code == 302

    assert stored(by_hand) == stored(through_form)
    assert len(stored(by_hand)["audit"]) == 2
