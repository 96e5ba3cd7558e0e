"""The caseload page: the therapist's home."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from measures.models import Concern
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory, concern_with_signal
from reports.views import caseload as caseload_view
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db
URL = reverse("reports:caseload")


def rated_session(client: Client, days_ago: int, score: int, **rating: Any) -> Any:
    session = SessionFactory(client=client, starts_at=timezone.now() - dt.timedelta(days=days_ago))
    values = dict.fromkeys(
        ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"], score
    )
    RatingFactory(session=session, **{**values, **rating})
    return session


def rows(response: Any) -> list[Client]:
    return list(response.context["page"])


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


def test_a_therapist_sees_their_own_active_clients_only(
    client: Any,
    therapist: User,
    client_record: Client,
    colleague_client: Client,
    outsider_client: Client,
) -> None:
    ClientFactory(therapist=therapist, label="Gone", status="discharged")
    client.force_login(therapist)
    response = client.get(URL)
    assert response.status_code == 200
    assert rows(response) == [client_record]
    assert b"M.P." not in response.content and b"Z.Z." not in response.content


def test_each_row_shows_the_latest_client_score_last_session_and_sparkline(
    client: Any, therapist: User, client_record: Client
) -> None:
    for days_ago, score in [(21, 10), (14, 9), (7, 8)]:
        rated_session(client_record, days_ago, score)
    last = rated_session(client_record, 1, 7, growth=9)  # 44/6 = 7.33 → 7.3
    RatingFactory(
        session=last, rater="therapist", trust=2
    )  # the therapist's view is not the client's score
    client.force_login(therapist)
    response = client.get(URL)
    [row] = rows(response)
    assert str(row.latest_score) == "7.3"
    assert row.last_session_at == last.starts_at
    assert [str(score) for score in row.sparkline] == ["10.0", "9.0", "8.0", "7.3"]
    html = response.content.decode()
    assert "score-below" in html and "below the cut-off of 9.0" in html
    assert 'aria-label="Last 4 client scores: 10.0, 9.0, 8.0, 7.3"' in html


def test_the_sparkline_holds_the_last_ten_client_scores(
    client: Any, therapist: User, client_record: Client
) -> None:
    for days_ago in range(12, 0, -1):
        rated_session(client_record, days_ago, 10 if days_ago > 10 else 8)
    client.force_login(therapist)
    [row] = rows(client.get(URL))
    assert [str(score) for score in row.sparkline] == ["8.0"] * 10


def concern_for(record: Client, severity: str, status: str = Concern.Status.OPEN) -> Concern:
    """A concern of `severity` for `record`, in `status` (with the record that status needs)."""
    now = timezone.now()
    done = {
        Concern.Status.OPEN: {},
        Concern.Status.ACKNOWLEDGED: {"acknowledged_at": now},
        Concern.Status.RESOLVED: {"closed_at": now, "note": "We talked it through."},
        Concern.Status.DISMISSED: {"closed_at": now, "note": "A hard week at work."},
    }[status]
    return concern_with_signal(record, severity=severity, status=status, **done)


def test_clients_with_a_concern_to_review_come_first_the_most_severe_first(
    client: Any, therapist: User
) -> None:
    calm = ClientFactory(therapist=therapist, label="Aaron")
    low = ClientFactory(therapist=therapist, label="Abe")
    high = ClientFactory(therapist=therapist, label="Zoe")
    also_high = ClientFactory(therapist=therapist, label="Ann")  # same severity: by label
    medium = ClientFactory(therapist=therapist, label="Mia")
    repaired = ClientFactory(therapist=therapist, label="Bea")
    dismissed = ClientFactory(therapist=therapist, label="Cy")
    low_concern = concern_for(low, "low")
    high_concern = concern_for(high, "high")
    also_high_concern = concern_for(also_high, "high", Concern.Status.ACKNOWLEDGED)
    medium_concern = concern_for(medium, "medium", Concern.Status.ACKNOWLEDGED)
    concern_for(repaired, "high", Concern.Status.RESOLVED)  # closed: nothing to review
    concern_for(dismissed, "high", Concern.Status.DISMISSED)
    concern_for(high, "medium", Concern.Status.RESOLVED)  # an earlier, closed episode
    client.force_login(therapist)
    response = client.get(URL)
    assert [
        (c.label, c.concern_id, c.concern_severity, c.concern_status) for c in rows(response)
    ] == [
        ("Ann", also_high_concern.pk, "high", "acknowledged"),
        ("Zoe", high_concern.pk, "high", "open"),
        ("Mia", medium_concern.pk, "medium", "acknowledged"),
        ("Abe", low_concern.pk, "low", "open"),
        ("Aaron", None, None, None),
        ("Bea", None, None, None),
        ("Cy", None, None, None),
    ]
    assert calm in rows(response)
    html = response.content.decode()
    assert '<th scope="col">Concern to review</th>' in html
    # Each concern is a severity badge, in words, linking to the concern's page.
    for concern in (high_concern, medium_concern, low_concern):
        assert reverse("measures:concern-detail", args=[concern.pk]) in html
    for colour, word in (("danger", "High"), ("warning", "Medium"), ("secondary", "Low")):
        badge = f'<span class="badge text-bg-{colour}">{word}<span class="visually-hidden">'
        assert badge + " severity</span></span>" in html
    assert "Acknowledged" in html
    assert html.index("Zoe") < html.index("Mia") < html.index("Abe") < html.index("Aaron")
    assert "reliable_drop" not in html and ">acknowledged<" not in html  # words, never codes


def test_a_concern_on_a_discharged_client_does_not_reach_the_active_caseload(
    client: Any, therapist: User, client_record: Client
) -> None:
    gone = ClientFactory(therapist=therapist, label="Gone", status="discharged")
    concern = concern_for(gone, "high")
    client.force_login(therapist)
    assert rows(client.get(URL)) == [client_record]
    [row] = rows(client.get(URL, {"status": "discharged"}))
    assert (row.label, row.concern_id) == ("Gone", concern.pk)


def test_search_by_label_and_the_discharged_filter(client: Any, therapist: User) -> None:
    ClientFactory(therapist=therapist, label="Maple")
    ClientFactory(therapist=therapist, label="Willow")
    ClientFactory(therapist=therapist, label="Maple Two", status="discharged")
    client.force_login(therapist)
    assert [c.label for c in rows(client.get(URL, {"q": "map"}))] == ["Maple"]
    assert [c.label for c in rows(client.get(URL, {"q": "map", "status": "discharged"}))] == [
        "Maple Two"
    ]
    empty = client.get(URL, {"q": "nobody"})
    assert rows(empty) == [] and "No active client" in empty.content.decode()


def test_an_unknown_filter_or_page_says_so_and_shows_active_clients(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.get(URL, {"status": "<script>", "page": "lots"})
    assert response.status_code == 200
    assert rows(response) == [client_record]
    assert b"That filter is not one we know" in response.content
    assert b"<script>" not in response.content


def test_a_supervisor_sees_supervisees_clients_with_their_therapist(
    client: Any, supervisor: User, client_record: Client, colleague_client: Client
) -> None:
    client.force_login(supervisor)
    response = client.get(URL)
    assert rows(response) == [client_record]
    assert "Therapist" in response.content.decode() and b"Add a client" not in response.content


@pytest.mark.parametrize("size", [5, 50])
def test_the_caseload_costs_the_same_queries_at_any_size(
    client: Any, therapist: User, django_assert_num_queries: Any, size: int
) -> None:
    for number in range(size):
        someone = ClientFactory(therapist=therapist, label=f"Client {number:02d}")
        OutcomeAnswerFactory(session=rated_session(someone, 14, 9), track="starting")
        track = ["on_track", "not_on_track"][number % 2]
        OutcomeAnswerFactory(session=rated_session(someone, 7, 7), track=track)
        concern_for(someone, ["low", "medium", "high"][number % 3])
        concern_for(someone, "high", Concern.Status.RESOLVED)  # an earlier episode
    client.force_login(therapist)
    # session + user, page count, the page of clients (the open concern joined, the
    # outcome a subquery), the sparklines
    with django_assert_num_queries(5):
        response = client.get(URL)
    assert len(rows(response)) == size
    assert sum(row.outcome_track == "not_on_track" for row in rows(response)) == size // 2
    assert all(len(row.sparkline) == 2 for row in rows(response))
    assert all(row.concern_id is not None for row in rows(response))
    assert [row.concern_severity for row in rows(response)][:1] == ["high"]


def test_the_pages_count_the_clients_each_filter_lists(
    client: Any, therapist: User, monkeypatch: Any
) -> None:
    """The pages' count follows every filter, and a client with concerns past and present
    (the open one joined to the row) counts once."""
    monkeypatch.setattr(caseload_view, "PAGE_SIZE", 2)
    for number in range(5):
        someone = ClientFactory(therapist=therapist, label=f"Maple {number}")
        track = "not_on_track" if number < 3 else "on_track"
        OutcomeAnswerFactory(session=rated_session(someone, 7, 7), track=track)
        concern_for(someone, "high", Concern.Status.RESOLVED)
        concern_for(someone, "medium")
    ClientFactory(therapist=therapist, label="Willow")
    ClientFactory(therapist=therapist, label="Maple gone", status="discharged")
    ClientFactory(label="Maple elsewhere")  # another therapist's
    client.force_login(therapist)

    def counted(**query: str) -> tuple[int, int, list[str]]:
        page = client.get(URL, query).context["page"]
        return page.paginator.count, page.paginator.num_pages, [c.label for c in page]

    assert counted() == (6, 3, ["Maple 0", "Maple 1"])
    assert counted(q="maple", page="3") == (5, 3, ["Maple 4"])
    assert counted(outcome="not_on_track", page="2") == (3, 2, ["Maple 2"])
    assert counted(status="discharged") == (1, 1, ["Maple gone"])
    assert counted(q="nobody") == (0, 1, [])


def test_pages_carry_a_strict_content_security_policy(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    policy = client.get(URL)["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_the_rows_escape_what_staff_typed_and_link_each_client_and_concern(
    client: Any, supervisor: User, client_record: Client
) -> None:
    """The rows are built in Python (reports/templatetags/alliance.py), not by the
    template's autoescaping: a label or a therapist's name is still text, never markup."""
    client_record.label = "<i>L.B.</i>"
    client_record.language = "es"
    client_record.save()
    client_record.therapist.first_name = "<b>Ann</b>"
    client_record.therapist.save()
    concern = concern_for(client_record, "medium")
    client.force_login(supervisor)
    page = client.get(URL).content.decode()
    assert "&lt;i&gt;L.B.&lt;/i&gt;" in page and "<i>L.B." not in page
    assert "&lt;b&gt;Ann&lt;/b&gt;" in page and "<b>Ann" not in page
    assert f'href="{reverse("reports:client-detail", args=[client_record.pk])}"' in page
    assert f'href="{reverse("measures:concern-detail", args=[concern.pk])}"' in page
    assert 'title="Español">ES</span>' in page
