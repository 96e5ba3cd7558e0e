"""The client page: chart data, sessions, signals and concerns; scoped like everything else."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from measures import concern_selectors
from measures.models import Concern
from measures.scoring import DIMENSIONS
from measures.tests.factories import (
    ConcernFactory,
    FlagFactory,
    OutcomeAnswerFactory,
    RatingFactory,
    concern_with_signal,
)
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def url(client: Client) -> str:
    return reverse("reports:client-detail", args=[client.pk])


def chart(response: Any) -> dict[str, Any]:
    html = response.content.decode()
    start = html.index('<script id="alliance-chart-data" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def test_anonymous_is_sent_to_log_in(client: Any, client_record: Client) -> None:
    response = client.get(url(client_record))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("someone", ["colleague", "outsider"])
def test_someone_elses_client_is_not_found(
    client: Any, client_record: Client, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(url(client_record)).status_code == 404


def test_a_malformed_or_unknown_id_is_not_found(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert client.get("/clients/999999/").status_code == 404


def test_the_chart_has_both_raters_the_cutoff_the_concerns_and_the_repairs(
    client: Any, therapist: User, client_record: Client
) -> None:
    start = timezone.now() - dt.timedelta(days=30)
    first = SessionFactory(client=client_record, starts_at=start)
    RatingFactory(
        session=first,
        trust=10,
        empathy=10,
        collaboration=10,
        boundaries=10,
        growth=10,
        respect=10,
        rupture="a_little",
        rupture_resolved="fully",  # a repair: marked, never raised
    )
    FlagFactory(session=first)  # context outside any concern: no triangle
    SessionFactory(
        client=client_record, starts_at=start + dt.timedelta(days=7), attendance="no_show"
    )
    third = SessionFactory(client=client_record, starts_at=start + dt.timedelta(days=14))
    RatingFactory(
        session=third, trust=5, empathy=7, collaboration=7, boundaries=7, growth=7, respect=7
    )
    RatingFactory(
        session=third,
        rater="therapist",
        trust=9,
        empathy=9,
        collaboration=9,
        boundaries=9,
        growth=9,
        respect=9,
    )
    concern = ConcernFactory(session=third, severity="medium", opening_rule="dimension_drop")
    FlagFactory(session=third, rule="dimension_drop", severity="medium", concern=concern)
    client.force_login(therapist)
    response = client.get(url(client_record))
    assert response.status_code == 200
    data = chart(response)
    assert [label.split(" · ")[0] for label in data["labels"]] == [
        "1",
        "3",
    ]  # the no-show has no rating
    assert data["client"]["score"] == [10.0, 6.7]
    assert data["client"]["trust"] == [10, 5]
    assert data["therapist"]["score"] == [None, 9.0]
    assert data["flagged"] == [False, True]
    assert data["repaired"] == [True, False]
    assert data["cutoff"] == 9.0
    html = response.content.decode()
    assert "vendor/chart.js/chart.umd.js" in html and "js/client-chart.js" in html
    assert "Drop in one dimension" in html and "No-show" in html and "Repair" in html
    assert response.context["history"].concerns == [concern]
    assert reverse("measures:concern-detail", args=[concern.pk]) in html


def test_a_client_with_no_ratings_gets_no_chart_but_a_hint(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.get(url(client_record))
    assert (
        b"alliance-chart-data" not in response.content and b"chart.umd.js" not in response.content
    )
    assert b"No sessions logged yet" in response.content


def test_a_supervisor_reads_without_write_buttons(
    client: Any, supervisor: User, client_record: Client
) -> None:
    client.force_login(supervisor)
    response = client.get(url(client_record))
    assert response.status_code == 200
    assert b"Log a session" not in response.content and b"Discharge" not in response.content


@pytest.mark.parametrize("size", [5, 50])
def test_the_page_costs_the_same_queries_at_any_size(
    client: Any, therapist: User, client_record: Client, django_assert_num_queries: Any, size: int
) -> None:
    for day in range(size):
        session = SessionFactory(
            client=client_record, starts_at=timezone.now() - dt.timedelta(days=size - day)
        )
        RatingFactory(session=session)
        RatingFactory(session=session, rater="therapist")
        concern = ConcernFactory(
            session=session, status="dismissed", closed_at=timezone.now(), note="Fine."
        )
        FlagFactory(session=session, concern=concern)
        OutcomeAnswerFactory(session=session)
    client.force_login(therapist)
    # session + user, the client, sessions (with their outcome answers), their ratings,
    # their signals, the clinic's thresholds (which signals are context), the clinic's
    # outcome instrument and its expected course (none yet), the client's concerns, and
    # for their stories the concerns' signals (the scores are the page's own); the audit
    # entry
    with django_assert_num_queries(12):
        response = client.get(url(client_record))
    data = chart(response)
    assert len(data["labels"]) == size
    assert data["outcome"]["score"] == [6.0] * size


def test_a_signal_outside_any_concern_says_why(
    client: Any, therapist: User, client_record: Client
) -> None:
    context = FlagFactory(session=SessionFactory(client=client_record))  # under the cut-off
    repeat = FlagFactory(
        session=SessionFactory(client=client_record),
        rule="rater_discrepancy",
        severity="medium",
        evidence={"therapist": 9.0, "client": 7.0, "difference": 2.0},
    )
    client.force_login(therapist)
    html = client.get(url(client_record)).content.decode()
    assert 'title="Context: shown, never raised on its own">Below the cut-off' in html
    assert (
        'title="Not raised again: the same stretch as a concern already reviewed">'
        "Therapist rated higher than client" in html
    )
    assert context.concern is None and repeat.concern is None


def test_a_concerns_story_here_is_told_from_the_same_scores_as_elsewhere(
    client: Any, therapist: User, client_record: Client
) -> None:
    """The page tells its concerns' stories from the scores it already holds, not read
    again: the same words as from the ratings read afresh, a voided session left out."""
    start = timezone.now() - dt.timedelta(days=40)
    for week, score in enumerate([9, 9, 6, 2]):
        session = SessionFactory(client=client_record, starts_at=start + dt.timedelta(weeks=week))
        RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, score))
        if score == 2:  # a session logged by mistake, voided with its low rating
            session.voided_at, session.voided_by = timezone.now(), therapist
            session.void_reason = "Logged for the wrong client."
            session.save()
    concern = concern_with_signal(client_record, days_ago=1)
    RatingFactory(session=concern.first_session, **dict.fromkeys(DIMENSIONS, 5))
    client.force_login(therapist)
    shown = client.get(url(client_record)).context["history"].concerns
    [afresh] = concern_selectors.with_stories([Concern.objects.get(pk=concern.pk)], therapist)
    assert [told.story for told in shown] == [afresh.story]
    assert afresh.story.startswith("Alliance fell from 6.0 to 5.0 at session 5")
