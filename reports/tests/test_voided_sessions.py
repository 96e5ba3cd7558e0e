"""A voided session: kept with its history, left out of every number, chart and export.

Voiding a session logged in error must lose nothing (its ratings, signals and concern
history stay, auditable) while no page, export or rule counts it any more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from measures.detection import evaluate_clients, histories
from measures.models import ConcernEvent, Flag, Rating
from measures.tests.factories import ConcernEventFactory, ConcernFactory, FlagFactory, RatingFactory
from reports import dashboard, exports, selectors
from sessions.models import Session, SessionRevision
from sessions.services import session_update, session_void
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@pytest.fixture
def kept(client_record: Client) -> Session:
    """Session 1, rated 9 by the client: it stays."""
    session = SessionFactory(client=client_record, starts_at=days_ago(3))
    RatingFactory(session=session)
    return session


@pytest.fixture
def voided(kept: Session, therapist: User) -> Session:
    """Session 2, rated 4 by both raters, with a signal in a concern; then voided."""
    session = SessionFactory(client=kept.client, starts_at=days_ago(2), notes="Wrong person.")
    low = {name: 4 for name in ("trust", "empathy", "collaboration", "boundaries", "growth")}
    RatingFactory(session=session, respect=4, **low)
    RatingFactory(session=session, rater=Rating.Rater.THERAPIST, respect=4, **low)
    concern = ConcernFactory(session=session)
    FlagFactory(session=session, concern=concern)
    ConcernEventFactory(concern=concern)
    return session_void(actor=therapist, session=session, reason="Logged for the wrong client.")


def test_voiding_keeps_the_ratings_signals_and_concern_history(voided: Session) -> None:
    assert Rating.objects.filter(session=voided).count() == 2
    assert Flag.objects.filter(session=voided).count() == 1
    assert ConcernEvent.objects.filter(concern__first_session=voided).exists()
    assert Session.objects.filter(pk=voided.pk).exists()


def test_the_caseload_counts_only_current_sessions(
    therapist: User, kept: Session, voided: Session
) -> None:
    [row] = selectors.with_sparklines(selectors.caseload(therapist))
    assert row.latest_score == 9
    assert row.sparkline == [9]
    assert row.last_session_at == kept.starts_at


def test_the_dashboard_counts_only_current_sessions(
    supervisor: User, therapist: User, kept: Session, voided: Session
) -> None:
    evaluate_clients([kept.client_id])  # as the catch-up after the voiding does
    period = dashboard.period_of_days(30)
    [row] = dashboard.therapist_rows(supervisor, period)
    assert (row.sessions, row.attended, row.client_ratings, row.mean_latest) == (1, 1, 1, 9)
    totals = dashboard.team_totals(supervisor, period)
    assert (totals["sessions"], totals["attended"], totals["client_ratings"]) == (1, 1, 1)
    assert totals["mean_latest"] == 9
    assert dashboard.weekly_means([therapist.pk]) == {therapist.pk: [9]}


def test_the_client_chart_and_table_leave_the_voided_session_out(
    client_record: Client, kept: Session, voided: Session
) -> None:
    history = selectors.client_history(client_record)
    assert [row.session for row in history.sessions] == [kept]
    assert history.voided == [voided]
    chart = history.chart_data()
    assert len(chart["labels"]) == 1 and chart["client"]["score"] == [9.0]


def test_the_client_page_lists_the_voided_session_apart(
    client: Any, supervisor: User, client_record: Client, kept: Session, voided: Session
) -> None:
    client.force_login(supervisor)
    html = client.get(reverse("reports:client-detail", args=[client_record.pk])).content.decode()
    assert "Voided sessions" in html
    assert f"<s>Session {voided.number} ·" in html
    assert reverse("reports:session-detail", args=[voided.pk]) in html


def test_the_csv_exports_leave_the_voided_session_out(
    supervisor: User, client_record: Client, kept: Session, voided: Session
) -> None:
    rows = list(exports.client_rating_rows(client_record, dt.UTC))
    assert [row[1] for row in rows] == [kept.number]
    period = dashboard.period_of_days(30)
    [row] = list(
        exports.dashboard_rows_for_csv(dashboard.therapist_rows(supervisor, period), period)
    )
    # sessions, attended, client ratings
    assert row[3:6] == [1, 1, 1]


def test_detection_reads_only_current_sessions(
    client_record: Client, kept: Session, voided: Session
) -> None:
    [(client_id, _clinic, history, _as_it_stands)] = list(histories([client_record.pk]))
    assert client_id == client_record.pk
    assert [point.session_id for point in history] == [kept.pk]
    before = list(Flag.objects.filter(session=voided).values("pk", "evidence", "concern"))
    evaluate_clients([client_record.pk])
    assert list(Flag.objects.filter(session=voided).values("pk", "evidence", "concern")) == before


# --- The voided session's page ---------------------------------------------------------


def session_url(session: Session) -> str:
    return reverse("reports:session-detail", args=[session.pk])


@pytest.mark.parametrize("reader", ["therapist", "supervisor", "clinic_admin"])
def test_a_voided_sessions_page_opens_with_the_banner_and_no_actions(
    client: Any, request: pytest.FixtureRequest, voided: Session, reader: str
) -> None:
    client.force_login(request.getfixturevalue(reader))
    response = client.get(session_url(voided))
    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    voided_on = timezone.localtime(voided.voided_at).strftime("%-d %B %Y")
    assert f"Voided on {voided_on}" in html
    assert f"by {voided.voided_by}:</strong> Logged for the wrong client." in html
    for action in (
        reverse("sessions:session-edit", args=[voided.pk]),
        reverse("sessions:session-void", args=[voided.pk]),
        reverse("measures:therapist-rating", args=[voided.pk]),
        reverse("measures:invitation-create", args=[voided.pk]),
        reverse("measures:invitation-email", args=[voided.pk]),
    ):
        assert action not in html
    # Its ratings are still shown: the history is kept.
    assert "The client has not rated" not in html


def test_a_voided_session_cannot_be_rated_by_its_therapist(
    client: Any, therapist: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    session_void(actor=therapist, session=session, reason="Logged twice")
    client.force_login(therapist)
    url = reverse("measures:therapist-rating", args=[session.pk])
    for response in (client.get(url), client.post(url, {"trust": "5"})):
        assert response.status_code == 302
        assert response["Location"] == session_url(session)
    response = client.post(reverse("measures:invitation-create", args=[session.pk]))
    assert response.status_code == 302
    assert not session.ratings.exists() and not session.invitations.exists()


# --- An edited session's history --------------------------------------------------------


@pytest.fixture
def edited(therapist: User, client_record: Client) -> Session:
    session = SessionFactory(
        client=client_record,
        starts_at=days_ago(2).replace(hour=10, minute=0, second=0, microsecond=0),
        duration_minutes=50,
        notes="Before: talked about work.",
    )
    session_update(
        actor=therapist,
        session=session,
        starts_at=session.starts_at,
        duration_minutes=40,
        attendance=session.attendance,
        modality=session.modality,
        notes="After: talked about home.",
    )
    session_update(
        actor=therapist,
        session=session,
        starts_at=session.starts_at,
        duration_minutes=40,
        attendance=session.attendance,
        modality=session.modality,
        notes="Third: notes alone.",
    )
    return session


def test_the_author_sees_each_change_with_the_earlier_notes(
    client: Any, therapist: User, edited: Session
) -> None:
    client.force_login(therapist)
    html = " ".join(client.get(session_url(edited)).content.decode().split())
    assert "Changes to this session" in html
    assert html.count("Changed on ") == 2
    assert "duration (was 50 minutes)" in html
    assert "Before: talked about work." in html
    assert "After: talked about home." in html


@pytest.mark.parametrize("reader", ["supervisor", "clinic_admin"])
def test_others_see_the_changes_but_never_the_notes(
    client: Any, request: pytest.FixtureRequest, edited: Session, reader: str
) -> None:
    assert SessionRevision.objects.filter(session=edited).count() == 2
    client.force_login(request.getfixturevalue(reader))
    html = " ".join(client.get(session_url(edited)).content.decode().split())
    # The edit of the notes alone is not shown at all; the other without its notes.
    assert html.count("Changed on ") == 1
    assert "duration (was 50 minutes)" in html
    assert "private notes" not in html
    for text in ("Before:", "After:", "Third:"):
        assert text not in html
