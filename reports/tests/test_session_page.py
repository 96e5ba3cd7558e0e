"""The session page: details, both ratings, private notes only for their author."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import Client, User
from measures.tests.factories import FlagFactory, RatingFactory
from sessions.models import Session
from sessions.services import session_void
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(client_record: Client) -> Session:
    return SessionFactory(client=client_record, notes="Spoke about her sister.")


def url(session: Session) -> str:
    return reverse("reports:session-detail", args=[session.pk])


def test_anonymous_is_sent_to_log_in(client: Any, session: Session) -> None:
    assert client.get(url(session))["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("someone", ["colleague", "outsider"])
def test_someone_elses_session_is_not_found(
    client: Any, session: Session, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(url(session)).status_code == 404


def test_the_author_sees_notes_ratings_flags_and_the_actions(
    client: Any, therapist: User, session: Session
) -> None:
    RatingFactory(session=session, comment="Felt rushed at the end.")
    FlagFactory(session=session)
    client.force_login(therapist)
    html = client.get(url(session)).content.decode()
    assert "Spoke about her sister." in html
    assert "Felt rushed at the end." in html
    assert "Below the cut-off" in html
    assert (
        "Rate this session" in html and reverse("sessions:session-edit", args=[session.pk]) in html
    )


def test_private_notes_stay_with_their_author(
    client: Any, supervisor: User, clinic_admin: User, session: Session
) -> None:
    for reader in (supervisor, clinic_admin):
        client.force_login(reader)
        response = client.get(url(session))
        assert response.status_code == 200
        assert b"Spoke about her sister." not in response.content
        assert b"Rate this session" not in response.content and b"Void" not in response.content


def test_a_missed_session_has_nothing_to_rate(
    client: Any, therapist: User, client_record: Client
) -> None:
    missed = SessionFactory(client=client_record, attendance="no_show")
    client.force_login(therapist)
    html = client.get(url(missed)).content.decode()
    assert "nothing to rate" in html and "Rate this session" not in html


@pytest.mark.parametrize("rated", [True, False], ids=["rated", "not rated"])
def test_the_therapists_rating_is_headed_for_who_reads_it(
    client: Any, session: Session, therapist: User, supervisor: User, rated: bool
) -> None:
    """ "Your view" is the therapist's own; their supervisor reads "the therapist's view"."""
    if rated:
        RatingFactory(session=session, rater="therapist")
    client.force_login(supervisor)
    html = client.get(url(session)).content.decode()
    assert "The therapist's view of the session" in html
    assert "Your view of the session" not in html
    assert ("The therapist has not rated this session." in html) is not rated
    client.force_login(therapist)
    assert "Your view of the session" in client.get(url(session)).content.decode()


def test_a_signal_outside_any_concern_says_why_as_on_the_client_page(
    client: Any, therapist: User, session: Session
) -> None:
    FlagFactory(session=session)  # under the cut-off: context, never raised on its own
    FlagFactory(
        session=session,
        rule="rater_discrepancy",
        severity="medium",
        evidence={"therapist": 9.0, "client": 7.0, "difference": 2.0},
    )
    client.force_login(therapist)
    html = client.get(url(session)).content.decode()
    assert 'title="Context: shown, never raised on its own">Below the cut-off' in html
    assert (
        'title="Not raised again: the same stretch as a concern already reviewed">'
        "Therapist rated higher than client" in html
    )


def test_a_signal_on_a_voided_session_says_so_not_that_it_was_reviewed(
    client: Any, therapist: User, session: Session
) -> None:
    """Detection leaves a voided session's signals outside anything: an alert there was
    never reviewed, so the page does not say it was."""
    FlagFactory(
        session=session,
        rule="rater_discrepancy",
        severity="medium",
        evidence={"therapist": 9.0, "client": 7.0, "difference": 2.0},
    )
    session_void(actor=therapist, session=session, reason="Logged for the wrong client.")
    client.force_login(therapist)
    html = client.get(url(session)).content.decode()
    assert (
        'title="On a voided session: kept for the record, never raised">'
        "Therapist rated higher than client" in html
    )
    assert "Not raised: its session is voided" in html
    assert "the same stretch as a concern already reviewed" not in html
