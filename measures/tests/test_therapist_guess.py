"""The therapist's guess of the client's score, asked in the therapist's own rating."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from clients.models import AuditEntry, Client, User
from measures.models import Rating
from measures.services import GUESS_MESSAGE
from measures.tests.factories import RatingFactory
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

ANSWERS = {
    "trust": "9", "empathy": "8", "collaboration": "9",
    "boundaries": "10", "growth": "7", "respect": "10",
    "rupture": "none", "rupture_resolved": "", "comment": "",
}  # fmt: skip


@pytest.fixture
def session(client_record: Client) -> Session:
    return SessionFactory(client=client_record)


def url(session: Session) -> str:
    return reverse("measures:therapist-rating", args=[session.pk])


def test_the_form_asks_how_the_client_rated_without_requiring_it(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    html = client.get(url(session)).content.decode()
    assert "How do you think the client rated today?" in html
    guess_radios = [part for part in html.split("<input") if 'name="guessed_client_score"' in part]
    assert len(guess_radios) == 11
    assert not any(" required" in part.split(">")[0] for part in guess_radios)


def test_the_guess_is_stored(client: Any, therapist: User, session: Session) -> None:
    client.force_login(therapist)
    client.post(url(session), {**ANSWERS, "guessed_client_score": "7"})
    assert Rating.objects.get(session=session, rater="therapist").guessed_client_score == 7


def test_a_rating_without_a_guess_is_still_whole(
    client: Any, therapist: User, session: Session
) -> None:
    client.force_login(therapist)
    response = client.post(url(session), ANSWERS)
    assert response.status_code == 302
    assert Rating.objects.get(session=session, rater="therapist").guessed_client_score is None


@pytest.mark.parametrize("guess", ["11", "-1", "7.5", "٧", "seven", "07"])
def test_a_guess_off_the_scale_is_refused_losing_nothing(
    client: Any, therapist: User, session: Session, guess: str
) -> None:
    client.force_login(therapist)
    response = client.post(url(session), {**ANSWERS, "guessed_client_score": guess})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"guessed_client_score"}
    html = response.content.decode()
    assert GUESS_MESSAGE.replace("'", "&#x27;") in html
    assert 'value="9" checked' in html  # the other answers are kept
    assert not Rating.objects.exists()


def test_revising_the_guess_is_audited_by_name(
    client: Any, therapist: User, session: Session
) -> None:
    RatingFactory(
        session=session, rater="therapist", submitted_by=therapist, guessed_client_score=8,
        **{name: int(value) for name, value in ANSWERS.items() if value.isdigit()},
    )  # fmt: skip
    client.force_login(therapist)
    assert 'value="8" checked' in client.get(url(session)).content.decode()
    client.post(url(session), {**ANSWERS, "guessed_client_score": "5"})
    assert Rating.objects.get(session=session, rater="therapist").guessed_client_score == 5
    entry = AuditEntry.objects.filter(action="changed").latest("pk")
    assert "guessed_client_score" in entry.fields
    assert "5" not in str(entry.fields) and "8" not in str(entry.fields)


def test_the_database_keeps_guesses_to_therapists_and_the_scale(session: Session) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingFactory(session=session, rater="client", guessed_client_score=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingFactory(session=session, rater="therapist", guessed_client_score=11)
