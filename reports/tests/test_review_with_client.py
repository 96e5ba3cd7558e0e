"""'Review with client': the client's own ratings and outcome, for their eyes, their
therapist's to open."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import AuditAction, AuditEntry, Client, User
from clients.tests.factories import ClientFactory
from conftest import visible_text
from measures.scoring import DIMENSIONS
from measures.tests.factories import (
    ConcernFactory,
    FlagFactory,
    OutcomeAnswerFactory,
    RatingFactory,
)
from measures.tests.test_client_outcome import own_instrument
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def url(client: Client) -> str:
    return reverse("reports:review-with-client", args=[client.pk])


def chart(response: Any) -> dict[str, Any]:
    html = response.content.decode()
    start = html.index('<script id="review-chart-data" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def rate(client: Client, days_ago: int, score: int, **fields: Any) -> Any:
    session = SessionFactory(
        client=client, starts_at=timezone.now() - dt.timedelta(days=days_ago), **fields
    )
    scores = dict.fromkeys(DIMENSIONS, score)
    return session, RatingFactory(session=session, rater="client", **scores)


def test_anonymous_is_sent_to_log_in(client: Any, client_record: Client) -> None:
    response = client.get(url(client_record))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("someone", ["colleague", "outsider"])
def test_someone_elses_client_is_not_found(
    client: Any, client_record: Client, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(url(client_record)).status_code == 404


@pytest.mark.parametrize("reader", ["supervisor", "clinic_admin"])
def test_readers_who_are_not_in_the_room_are_refused(
    client: Any, client_record: Client, reader: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(reader))
    assert client.get(url(client_record)).status_code == 403


def test_the_therapist_shows_the_clients_own_ratings_and_the_last_in_words(
    client: Any, therapist: User, client_record: Client
) -> None:
    rate(client_record, 14, 6)
    session, _ = rate(client_record, 7, 8)
    RatingFactory(session=session, rater="therapist", **dict.fromkeys(DIMENSIONS, 2))
    client.force_login(therapist)
    response = client.get(url(client_record))
    assert response.status_code == 200
    data = chart(response)
    assert data["labels"] == ["Session 1", "Session 2"]
    assert [series["values"] for series in data["series"]] == [[6.0, 8.0]]
    text = visible_text(response.content.decode())
    assert "Your last rating: 8.0 out of 10" in text
    assert client_record.label in text
    assert "Back to the therapist's view" in text


def test_a_voided_session_is_left_out(client: Any, therapist: User, client_record: Client) -> None:
    rate(client_record, 14, 6)
    voided, _ = rate(client_record, 7, 3)
    voided.voided_at, voided.voided_by, voided.void_reason = timezone.now(), therapist, "wrong"
    voided.save()
    client.force_login(therapist)
    assert chart(client.get(url(client_record)))["series"][0]["values"] == [6.0]


def test_without_ratings_it_says_so_plainly(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.get(url(client_record))
    assert "You have not rated a session yet." in visible_text(response.content.decode())
    assert b"review-chart-data" not in response.content


def test_a_spanish_speaking_client_sees_it_in_spanish(client: Any, therapist: User) -> None:
    record = ClientFactory(therapist=therapist, language="es")
    rate(record, 7, 8)
    client.force_login(therapist)
    response = client.get(url(record))
    text = visible_text(response.content.decode())
    assert "Su última valoración: 8,0 de 10" in text
    assert "Volver a la vista del terapeuta" in text
    assert '<html lang="es">' in response.content.decode()
    assert chart(response)["labels"] == ["Sesión 1"]


def test_no_notes_comments_signals_concerns_or_other_clients_reach_the_screen(
    client: Any, therapist: User, client_record: Client
) -> None:
    session, rating = rate(client_record, 7, 3, notes="PRIVATE-NOTE-MARKER")
    rating.comment = "CLIENT-COMMENT-MARKER"
    rating.save()
    FlagFactory(session=session)
    ConcernFactory(session=session)
    other = ClientFactory(therapist=therapist, label="OTHER-CLIENT-MARKER")
    rate(other, 3, 9)
    client.force_login(therapist)
    html = client.get(url(client_record)).content.decode()
    for marker in ("PRIVATE-NOTE-MARKER", "CLIENT-COMMENT-MARKER", "OTHER-CLIENT-MARKER"):
        assert marker not in html
    for word in ("concern", "signal", "cut-off", "Caseload", "Therapist"):
        assert word.lower() not in visible_text(html).lower().replace("therapist's view", "")
    assert 'class="navbar' not in html


def test_opening_it_is_recorded_in_the_audit_trail(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    client.get(url(client_record))
    entry = AuditEntry.objects.get(action=AuditAction.VIEWED, place="review with client")
    assert (entry.actor, entry.client_id) == (therapist, client_record.pk)


def test_the_client_page_offers_it_to_the_therapist_only(
    client: Any, therapist: User, supervisor: User, client_record: Client
) -> None:
    detail = reverse("reports:client-detail", args=[client_record.pk])
    client.force_login(therapist)
    assert url(client_record).encode() in client.get(detail).content
    client.force_login(supervisor)
    assert url(client_record).encode() not in client.get(detail).content


def test_the_clients_outcome_joins_the_alliance_on_the_same_sessions_in_plain_words(
    client: Any, therapist: User, client_record: Client
) -> None:
    first, _ = rate(client_record, 21, 6)
    OutcomeAnswerFactory(session=first, answers=(3, 4, 5, 6))
    rate(client_record, 14, 8)  # the outcome check was not asked that time
    only_outcome = SessionFactory(
        client=client_record, starts_at=timezone.now() - dt.timedelta(days=7)
    )
    OutcomeAnswerFactory(session=only_outcome, answers=(7, 7, 7, 8))
    client.force_login(therapist)
    response = client.get(url(client_record))
    data = chart(response)
    assert data["labels"] == ["Session 1", "Session 2", "Session 3"]
    assert [(series["label"], series["values"]) for series in data["series"]] == [
        ("How our work together felt to you", [6.0, 8.0, None]),
        ("How life has been going for you", [4.5, None, 7.25]),
    ]
    text = visible_text(response.content.decode())
    assert "Your last rating: 8.0 out of 10" in text
    assert "How life has been going, at your last answer: 7.3 on a scale from 0 to 10" in text
    assert "Higher means life has been going better for you." in text


def test_no_clinical_status_of_the_outcome_reaches_the_screen(
    client: Any, therapist: User, client_record: Client
) -> None:
    session, _ = rate(client_record, 7, 5)
    OutcomeAnswerFactory(
        session=session,
        answers=(2, 2, 2, 2),
        track="not_on_track",
        expected="8.77",
        lowest_on_track="7.33",
    )
    ConcernFactory(session=session, opening_rule="not_on_track")
    client.force_login(therapist)
    html = client.get(url(client_record)).content.decode()
    for clinical in ("8.77", "7.33", "6.25", "on track", "on_track", "expected", "cut-off"):
        assert clinical not in html.lower()


def test_a_measure_on_another_scale_is_drawn_on_its_own_axis_saying_lower_is_better(
    client: Any, therapist: User, client_record: Client
) -> None:
    instrument = own_instrument(client_record.clinic)  # two 1–5 items, summed: 2–10
    session, _ = rate(client_record, 7, 7)
    OutcomeAnswerFactory(session=session, instrument=instrument, answers=(2, 3))
    client.force_login(therapist)
    response = client.get(url(client_record))
    axes = chart(response)["axes"]
    assert [(axis["id"], axis["min"], axis["max"]) for axis in axes] == [
        ("y", 0, 10),
        ("y2", 2, 10),
    ]
    assert axes[1]["title"] == "How life has been going, from 2 to 10: lower is better"
    text = visible_text(response.content.decode())
    assert "5 on a scale from 2 to 10, where lower is better" in text
    assert "lower means life has been going better for you" in text


@pytest.mark.parametrize("size", [3, 30])
def test_the_screen_costs_the_same_queries_at_any_length_of_history(
    client: Any,
    therapist: User,
    client_record: Client,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    for day in range(size):
        session, _ = rate(client_record, size - day, 7)
        OutcomeAnswerFactory(session=session)
    client.force_login(therapist)
    # session + user, the client, the audit entry; then the chart: the sessions with
    # both scores, and the instrument answered
    with django_assert_num_queries(6):
        response = client.get(url(client_record))
    assert len(chart(response)["labels"]) == size
