"""How well a therapist reads their clients: their own page, and their supervisors' view."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, Supervision, User
from clients.tests.factories import ClientFactory, SupervisorFactory
from measures.models import Rating
from measures.scoring import DIMENSIONS
from measures.tests.factories import RatingFactory
from sessions.models import Session
from sessions.services import session_void
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

OWN = reverse("reports:reading")


def url(therapist: User) -> str:
    return reverse("reports:therapist-reading", args=[therapist.pk])


def session_with(
    record: Client, days_ago: int, client: int | None, guess: int | None, *, rated: bool = True
) -> Session:
    """A session; the client's rating (every item `client`), the therapist's with `guess`."""
    session = SessionFactory(client=record, starts_at=timezone.now() - dt.timedelta(days=days_ago))
    if client is not None:
        RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, client))
    if rated:
        RatingFactory(
            session=session,
            rater=Rating.Rater.THERAPIST,
            submitted_by=record.therapist,
            guessed_client_score=guess,
        )
    return session


@pytest.fixture
def history(client_record: Client, colleague_client: Client) -> list[Session]:
    """R.K.: 9 (guess 9), 7 (guess 9: a missed drop), 9 (guess 8), 6 (guess 6: a drop seen),
    8 (no guess), then a session the client has not rated (guess 9). M.P. is the colleague's."""
    session_with(colleague_client, 30, 2, 10)
    return [
        session_with(client_record, 40, 9, 9),
        session_with(client_record, 33, 7, 9),
        session_with(client_record, 26, 9, 8),
        session_with(client_record, 19, 6, 6),
        session_with(client_record, 12, 8, None),
        session_with(client_record, 5, None, 9),
    ]


def test_anonymous_is_sent_to_log_in(client: Any, therapist: User) -> None:
    for address in (OWN, url(therapist)):
        assert client.get(address)["Location"].startswith(reverse("login"))


def test_the_therapist_sees_how_close_their_guesses_were(
    client: Any, therapist: User, history: list[Session]
) -> None:
    client.force_login(therapist)
    response = client.get(OWN)
    assert response.status_code == 200
    reading = response.context["page"].reading
    assert reading.compared == 4
    assert reading.mean_absolute_difference == pytest.approx(0.75)
    assert reading.share_within_one == pytest.approx(0.75)
    assert reading.bias == pytest.approx(0.25)
    assert (reading.drops, reading.missed_drops) == (2, 1)
    html = response.content.decode()
    assert "How well I read my clients" in html
    assert "75%" in html and "1 of 2" in html
    assert "M.P." not in html  # the colleague's client
    # The margin as the rule applies it: a fall of 1.5 is not a drop, scores move in tenths.
    assert "fell by 1.52 points or more" in html


def test_the_table_lists_the_latest_rated_sessions_newest_first(
    client: Any, therapist: User, history: list[Session]
) -> None:
    client.force_login(therapist)
    latest = client.get(OWN).context["page"].latest
    assert [(s.number, row.guess, row.difference, row.missed_drop) for s, row in latest] == [
        (history[4].number, None, None, False),
        (history[3].number, 6, 0.0, False),
        (history[2].number, 8, -1.0, False),
        (history[1].number, 9, 2.0, True),
        (history[0].number, 9, 0.0, False),
    ]
    assert {s.client.label for s, _row in latest} == {"R.K."}


def test_a_voided_session_leaves_the_numbers(
    client: Any, therapist: User, history: list[Session]
) -> None:
    session_void(actor=therapist, session=history[1], reason="Logged twice.")
    client.force_login(therapist)
    reading = client.get(OWN).context["page"].reading
    assert (reading.compared, reading.drops, reading.missed_drops) == (3, 1, 0)


def test_with_no_guesses_the_page_says_how_to_start(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert "No guesses beside a client" in client.get(OWN).content.decode()


@pytest.mark.parametrize("reader", ["supervisor", "clinic_admin"])
def test_a_non_therapist_has_no_page_of_their_own(client: Any, reader: str, request: Any) -> None:
    client.force_login(request.getfixturevalue(reader))
    assert client.get(OWN).status_code == 403


@pytest.mark.parametrize("reader", ["supervisor", "clinic_admin"])
def test_the_therapists_overseers_see_the_same_numbers(
    client: Any, therapist: User, history: list[Session], reader: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(reader))
    response = client.get(url(therapist))
    assert response.status_code == 200
    reading = response.context["page"].reading
    assert (reading.compared, reading.drops, reading.missed_drops) == (4, 2, 1)
    html = response.content.decode()
    assert f"How well {therapist} reads their clients" in html
    # It names everyone who may see it: the page is theirs too.
    assert f"only {therapist}, their supervisors and the clinic's admins see it" in html


def test_the_drill_down_links_to_the_page(client: Any, therapist: User, supervisor: User) -> None:
    client.force_login(supervisor)
    page = client.get(reverse("reports:therapist-caseload", args=[therapist.pk]))
    assert url(therapist) in page.content.decode()


def test_a_colleague_cannot_see_anothers_page(
    client: Any, therapist: User, colleague: User, history: list[Session]
) -> None:
    client.force_login(colleague)
    assert client.get(url(therapist)).status_code == 403
    assert client.get(url(colleague)).status_code == 403


def test_a_supervisor_of_someone_else_is_not_found(
    client: Any, clinic: Any, therapist: User, colleague: User, history: list[Session]
) -> None:
    other = SupervisorFactory(clinic=clinic, username="otis")
    Supervision.objects.create(supervisor=other, therapist=colleague)
    client.force_login(other)
    assert client.get(url(therapist)).status_code == 404
    assert client.get(url(colleague)).status_code == 200


def test_another_clinics_staff_are_not_found_or_refused(
    client: Any, therapist: User, outsider: User, history: list[Session]
) -> None:
    client.force_login(outsider)
    assert client.get(url(therapist)).status_code == 403
    assert "R.K." not in client.get(OWN).content.decode()


def test_the_page_costs_the_same_queries_at_any_size(
    client: Any, therapist: User, client_record: Client
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(OWN).status_code == 200
        return len(queries)

    client.force_login(therapist)
    for days in range(3):
        session_with(client_record, 60 - days, 8, 8)
    small = count()
    other = ClientFactory(therapist=therapist, label="J.D.")
    for days in range(6):
        session_with(other, 50 - days, 7, 9)
    assert count() == small
