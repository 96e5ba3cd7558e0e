"""The review queue, and a signal's old address: which concerns each person sees, in what order,
told how. The concern page and the review steps are in test_concern_page.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from clients.models import Client, User
from clients.tests.factories import ClientFactory, SupervisorFactory
from measures.models import Concern, Flag
from measures.tests.concern_steps import CODES
from measures.tests.factories import FlagFactory, RatingFactory, concern_with_signal
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("measures:review-queue")
DIMENSIONS = ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"]


def concern_for(
    record: Client,
    *,
    days_ago: float = 3,
    severity: str = "high",
    status: str = Concern.Status.OPEN,
    **fields: Any,
) -> Concern:
    """A concern of `record` opened `days_ago` days ago, holding one reliable-drop signal,
    in `status` with the record that status needs."""
    now = timezone.now()
    done = {
        Concern.Status.OPEN: {},
        Concern.Status.ACKNOWLEDGED: {"acknowledged_at": now},
        Concern.Status.RESOLVED: {"closed_at": now, "note": "We talked it through."},
        Concern.Status.DISMISSED: {"closed_at": now, "note": "A hard week at work."},
    }[status]
    return concern_with_signal(
        record, days_ago=days_ago, severity=severity, status=status, **{**done, **fields}
    )


def rate(session: Session, score: int) -> None:
    RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, score))


def concern_with_a_fall(record: Client) -> Concern:
    """R.K. rated session 1 at 10.0 and session 2 at 7.0; the concern holds a reliable drop and
    the therapist rating session 2 higher than the client, both at session 2."""
    rate(SessionFactory(client=record, starts_at=timezone.now() - dt.timedelta(days=14)), 10)
    concern = concern_with_signal(record)
    rate(concern.last_session, 7)
    FlagFactory(
        session=concern.last_session,
        concern=concern,
        rule=Flag.Rule.RATER_DISCREPANCY,
        severity=Flag.Severity.MEDIUM,
        evidence={"therapist": 9.0, "client": 7.0, "difference": 2.0},
    )
    return concern


def queue_rows(response: Any) -> list[Concern]:
    return list(response.context["page"])


@pytest.fixture
def concern(client_record: Client) -> Concern:
    return concern_for(client_record)


# --- Who may come in ------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={QUEUE}"


@pytest.mark.parametrize("someone", ["outsider", "colleague"])
def test_someone_elses_concerns_are_not_in_their_queue(
    client: Any, concern: Concern, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert queue_rows(response) == []
    assert b"R.K." not in response.content


def test_a_supervisor_sees_only_their_supervisees_concerns(
    client: Any, clinic: Any, concern: Concern, colleague_client: Client, supervisor: User
) -> None:
    concern_for(colleague_client)
    client.force_login(supervisor)
    assert queue_rows(client.get(QUEUE)) == [concern]
    # A supervisor of nobody sees nothing.
    client.force_login(SupervisorFactory(clinic=clinic, username="sam"))
    assert queue_rows(client.get(QUEUE)) == []


def test_the_queue_answers_only_to_get(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert client.post(QUEUE).status_code == 405


# --- What each row says ------------------------------------------------------


def test_each_row_tells_the_concern_in_words_and_links_to_it(
    client: Any, therapist: User, client_record: Client
) -> None:
    concern = concern_with_a_fall(client_record)
    client.force_login(therapist)
    response = client.get(QUEUE)
    [row] = queue_rows(response)
    assert row == concern
    story = (
        "Alliance fell from 10.0 to 7.0 at session 2: a reliable drop at session 2; "
        "you rated session 2 higher than the client did."
    )
    assert row.story == story
    assert row.signal_count == 2
    html = response.content.decode()
    assert escape(story) in html and "2 signals" in html
    assert "R.K." in html and reverse("reports:client-detail", args=[client_record.pk]) in html
    assert reverse("measures:concern-detail", args=[concern.pk]) in html
    assert 'High<span class="visually-hidden"> severity' in html and "<td>Open</td>" in html
    assert '<th scope="col">Therapist</th>' not in html  # a therapist's own caseload


def test_a_supervisor_reads_the_story_about_the_therapist_with_a_therapist_column(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    concern_with_a_fall(client_record)
    client.force_login(supervisor)
    response = client.get(QUEUE)
    [row] = queue_rows(response)
    assert "the therapist rated session 2 higher than the client did" in row.story
    assert "you rated" not in row.story
    html = response.content.decode()
    assert response.context["shows_therapist"] is True
    assert '<th scope="col">Therapist</th>' in html and f"<td>{therapist}</td>" in html
    assert "you can add a comment" in html


def test_a_clinic_admin_sees_the_clinics_concerns_with_their_therapists(
    client: Any,
    clinic_admin: User,
    concern: Concern,
    colleague: User,
    colleague_client: Client,
    outsider_client: Client,
) -> None:
    colleagues = concern_for(colleague_client, days_ago=1)
    concern_for(outsider_client)
    client.force_login(clinic_admin)
    response = client.get(QUEUE)
    assert queue_rows(response) == [concern, colleagues]
    html = response.content.decode()
    assert '<th scope="col">Therapist</th>' in html and f"<td>{colleague}</td>" in html
    assert "Z.Z." not in html


def test_no_stored_code_reaches_the_queue(
    client: Any, therapist: User, client_record: Client
) -> None:
    concern = concern_for(client_record)
    session = concern.last_session
    for rule, evidence in [
        (
            Flag.Rule.RUPTURE_UNRESOLVED,
            {"client": {"rupture": "a_lot", "talked_through": "not_at_all"}},
        ),
        (Flag.Rule.BELOW_CUTOFF, {"score": 8.5, "cutoff": 9.0, "operator": "lt"}),
        (Flag.Rule.DECLINING_TREND, {"scores": [9.5, 9.0, 8.5], "sessions": [1, 1, 1]}),
        (
            Flag.Rule.DISENGAGEMENT,
            {"kind": "missed", "sessions": [1], "attendance": ["no_show"]},
        ),
    ]:
        FlagFactory(session=session, concern=concern, rule=rule, evidence=evidence)
    client.force_login(therapist)
    html = client.get(QUEUE).content.decode()
    assert "5 signals" in html
    assert "the client reported a rupture at session 1 that was not fully talked through" in html
    for code in CODES:
        assert code not in html, code


# --- Which concerns, in what order ------------------------------------------------


def test_the_queue_puts_the_most_severe_first_then_the_oldest(client: Any, therapist: User) -> None:
    def concern_of(label: str, **fields: Any) -> Concern:
        return concern_for(ClientFactory(therapist=therapist, label=label), **fields)

    low_old = concern_of("A", days_ago=9, severity="low")
    medium_new = concern_of("B", days_ago=1, severity="medium")
    high_new = concern_of("C", days_ago=2, severity="high")
    medium_old = concern_of("D", days_ago=5, severity="medium", status="acknowledged")
    high_old = concern_of("E", days_ago=8, severity="high", status="acknowledged")
    client.force_login(therapist)
    assert queue_rows(client.get(QUEUE)) == [high_old, high_new, medium_old, medium_new, low_old]


def test_resolved_and_dismissed_concerns_leave_the_queue(
    client: Any, therapist: User, client_record: Client
) -> None:
    concern_for(client_record, days_ago=30, status="resolved")
    concern_for(client_record, days_ago=20, status="dismissed")
    waiting = concern_for(client_record, days_ago=3)
    client.force_login(therapist)
    assert queue_rows(client.get(QUEUE)) == [waiting]


def test_the_queue_filters_by_status(client: Any, therapist: User) -> None:
    opened = concern_for(ClientFactory(therapist=therapist), days_ago=5)
    seen = concern_for(ClientFactory(therapist=therapist), days_ago=4, status="acknowledged")
    concern_for(ClientFactory(therapist=therapist), status="resolved")
    client.force_login(therapist)
    assert queue_rows(client.get(QUEUE, {"status": "open"})) == [opened]
    assert queue_rows(client.get(QUEUE, {"status": "acknowledged"})) == [seen]
    assert queue_rows(client.get(QUEUE, {"status": "all"})) == [opened, seen]
    assert queue_rows(client.get(QUEUE)) == [opened, seen]
    response = client.get(QUEUE, {"status": "open"})
    assert response.context["status"] == "open"
    assert '<option value="open" selected>' in response.content.decode()


@pytest.mark.parametrize("status", ["<script>resolved", "resolved", "dismissed", "flagged"])
def test_an_unknown_status_filter_says_so_and_shows_everything_needing_review(
    client: Any, concern: Concern, therapist: User, status: str
) -> None:
    client.force_login(therapist)
    response = client.get(QUEUE, {"status": status, "page": "lots"})
    assert response.status_code == 200
    assert queue_rows(response) == [concern]
    assert response.context["status"] == "all"
    html = response.content.decode()
    assert "That filter is not one we know; showing every concern that needs review." in html
    assert "<script>resolved" not in html


def test_an_empty_queue_says_what_it_means(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    html = client.get(QUEUE).content.decode()
    assert "No concerns to review." in html
    assert "A concern opens when a client's ratings or attendance suggest" in html.replace(
        "&#x27;", "'"
    )


def test_a_filter_with_nothing_in_it_says_so(
    client: Any, concern: Concern, therapist: User
) -> None:
    client.force_login(therapist)
    html = client.get(QUEUE, {"status": "acknowledged"}).content.decode()
    assert "No acknowledged concerns." in html
    assert "Show every concern that needs review" in html


def test_the_queue_pages_at_fifty_in_one_order_across_its_pages(
    client: Any, therapist: User
) -> None:
    concerns = [
        concern_for(
            ClientFactory(therapist=therapist),
            days_ago=1 + number / 24,
            severity=["low", "medium", "high"][number % 3],
        )
        for number in range(51)
    ]
    client.force_login(therapist)
    first = client.get(QUEUE)
    assert len(queue_rows(first)) == 50
    assert "?status=all&amp;page=2" in first.content.decode()
    second = queue_rows(client.get(QUEUE, {"page": 2}))
    # The most severe first, then the oldest: the page is picked from the whole queue.
    rank = {"high": 0, "medium": 1, "low": 2}
    expected = sorted(concerns, key=lambda c: (rank[c.severity], c.opened_at, c.pk))
    assert [*queue_rows(first), *second] == expected
    assert queue_rows(client.get(QUEUE, {"page": 99})) == second  # past the end: the last


def test_the_navigation_offers_the_queue_to_everyone_who_has_one(
    client: Any, therapist: User, supervisor: User, clinic_admin: User
) -> None:
    # A clinic admin's queue is the whole clinic's, read-only, as the page itself is.
    for user in (therapist, supervisor, clinic_admin):
        client.force_login(user)
        assert QUEUE in client.get(reverse("reports:caseload")).content.decode()


# --- Cost ------------------------------------------------------------------------


def build_queue(therapist: User, size: int) -> None:
    """`size` clients, each with a rated history, an open concern of two signals and an
    earlier, closed concern (which the queue does not show)."""
    for number in range(size):
        record = ClientFactory(therapist=therapist, label=f"Client {number:02d}")
        concern_for(record, days_ago=40, status="resolved")
        rate(SessionFactory(client=record), 9)
        concern = concern_for(record, severity=["low", "medium", "high"][number % 3])
        rate(concern.last_session, 6)
        FlagFactory(session=concern.last_session, concern=concern)


# Measured: the session, the user, the count for the pager, the page of concerns, their
# signals and their clients' scores (for the stories).
QUEUE_QUERIES = 6


@pytest.mark.parametrize("size", [2, 12])
@pytest.mark.parametrize("reader", ["therapist", "supervisor", "clinic_admin"])
def test_the_queue_costs_the_same_queries_at_any_size(
    client: Any, django_assert_num_queries: Any, size: int, reader: str, request: Any
) -> None:
    build_queue(request.getfixturevalue("therapist"), size)
    client.force_login(request.getfixturevalue(reader))
    with django_assert_num_queries(QUEUE_QUERIES):
        response = client.get(QUEUE)
    rows = queue_rows(response)
    assert len(rows) == size
    assert all(row.signal_count == 2 and row.story for row in rows)


# --- A signal's old address ---------------------------------------------------------
# Links in e-mails sent before concerns existed point at /flags/<id>/.


def test_a_signals_old_address_needs_a_log_in(client: Any, concern: Concern) -> None:
    [signal] = concern.signals.all()
    target = reverse("measures:flag-detail", args=[signal.pk])
    response = client.get(target)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={target}"


@pytest.mark.parametrize("reader", ["therapist", "supervisor", "clinic_admin"])
def test_a_signals_old_address_leads_to_its_concern(
    client: Any, concern: Concern, reader: str, request: Any
) -> None:
    [signal] = concern.signals.all()
    client.force_login(request.getfixturevalue(reader))
    response = client.get(reverse("measures:flag-detail", args=[signal.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("measures:concern-detail", args=[concern.pk])
    assert client.get(response["Location"]).status_code == 200


def test_a_signal_in_no_concern_leads_to_its_session(
    client: Any, therapist: User, client_record: Client
) -> None:
    signal = FlagFactory(session=SessionFactory(client=client_record))
    assert signal.concern_id is None
    client.force_login(therapist)
    response = client.get(reverse("measures:flag-detail", args=[signal.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:session-detail", args=[signal.session_id])


@pytest.mark.parametrize("someone", ["outsider", "colleague"])
def test_someone_elses_signal_is_not_found_at_its_old_address(
    client: Any, concern: Concern, someone: str, request: Any
) -> None:
    [signal] = concern.signals.all()
    client.force_login(request.getfixturevalue(someone))
    assert client.get(reverse("measures:flag-detail", args=[signal.pk])).status_code == 404


def test_an_unknown_signal_is_not_found_and_the_old_address_only_reads(
    client: Any, concern: Concern, therapist: User
) -> None:
    [signal] = concern.signals.all()
    client.force_login(therapist)
    assert client.get(reverse("measures:flag-detail", args=[999_999])).status_code == 404
    assert client.post(reverse("measures:flag-detail", args=[signal.pk])).status_code == 405
