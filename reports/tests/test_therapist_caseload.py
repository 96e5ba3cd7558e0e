"""The drill-down from the dashboard into one therapist's caseload (read-only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, Supervision, User
from clients.tests.factories import ClientFactory, SupervisorFactory, TherapistFactory
from measures.models import Concern, Flag, OutcomeAnswer, Rating, copy_ratings_to_sessions
from measures.tests.factories import RatingFactory, built_in_check, concern_with_signal
from reports.views import dashboard as dashboard_view
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

DIMENSIONS = ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"]


def url(therapist: User | int) -> str:
    pk = therapist if isinstance(therapist, int) else therapist.pk
    return reverse("reports:therapist-caseload", args=[pk])


def rated_session(record: Client, days_ago: int, *scores: int, rater: str = "client") -> Session:
    session = SessionFactory(client=record, starts_at=timezone.now() - dt.timedelta(days=days_ago))
    values = scores * 6 if len(scores) == 1 else scores
    RatingFactory(session=session, rater=rater, **dict(zip(DIMENSIONS, values, strict=True)))
    return session


def concern_for(
    record: Client, *, severity: str = "high", status: str = Concern.Status.OPEN
) -> Concern:
    """A concern of `severity` for `record`, in `status` (with the record that status needs)."""
    now = timezone.now()
    done = {
        Concern.Status.OPEN: {},
        Concern.Status.ACKNOWLEDGED: {"acknowledged_at": now},
        Concern.Status.RESOLVED: {"closed_at": now, "note": "We talked it through."},
        Concern.Status.DISMISSED: {"closed_at": now, "note": "A hard week at work."},
    }[status]
    return concern_with_signal(record, severity=severity, status=status, **done)


def rows(response: Any) -> list[Client]:
    return list(response.context["clients"])


# --- Who may look -------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client: Any, therapist: User) -> None:
    response = client.get(url(therapist))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url(therapist)}"


def test_a_plain_therapist_is_refused_even_their_own(
    client: Any, therapist: User, colleague: User
) -> None:
    client.force_login(therapist)
    assert client.get(url(therapist)).status_code == 403
    assert client.get(url(colleague)).status_code == 403


def test_writes_are_not_allowed(client: Any, supervisor: User, therapist: User) -> None:
    client.force_login(supervisor)
    assert client.post(url(therapist)).status_code == 405


def test_a_supervisor_cannot_drill_into_a_colleague_they_do_not_supervise(
    client: Any, supervisor: User, colleague: User, colleague_client: Client
) -> None:
    client.force_login(supervisor)
    assert client.get(url(colleague)).status_code == 404


def test_nobody_drills_into_the_other_clinics_therapist(
    client: Any,
    supervisor: User,
    clinic_admin: User,
    outsider: User,
    outsider_client: Client,
) -> None:
    # Even a supervision linked across clinics (bypassing validation) shows nothing.
    Supervision.objects.bulk_create([Supervision(supervisor=supervisor, therapist=outsider)])
    for viewer in (supervisor, clinic_admin):
        client.force_login(viewer)
        response = client.get(url(outsider))
        assert response.status_code == 404
        assert b"Z.Z." not in response.content


def test_an_inactive_therapist_is_not_found(
    client: Any, supervisor: User, clinic_admin: User, therapist: User, client_record: Client
) -> None:
    therapist.is_active = False
    therapist.save()
    for viewer in (supervisor, clinic_admin):
        client.force_login(viewer)
        assert client.get(url(therapist)).status_code == 404


def test_only_therapists_have_a_caseload_to_open(
    client: Any, clinic_admin: User, supervisor: User
) -> None:
    client.force_login(clinic_admin)
    assert client.get(url(supervisor)).status_code == 404
    assert client.get(url(clinic_admin)).status_code == 404
    assert client.get(url(999_999)).status_code == 404


def test_a_supervisor_sees_their_supervisees_active_clients(
    client: Any, supervisor: User, therapist: User, client_record: Client, colleague_client: Client
) -> None:
    ClientFactory(therapist=therapist, label="Gone", status=Client.Status.DISCHARGED)
    client.force_login(supervisor)
    response = client.get(url(therapist))
    assert response.status_code == 200
    assert response.context["therapist"] == therapist
    assert rows(response) == [client_record]
    html = response.content.decode()
    assert "R.K." in html and "Gone" not in html and "M.P." not in html
    assert f'href="{reverse("reports:dashboard")}"' in html  # the way back


def test_a_clinic_admin_drills_into_any_therapist_of_the_clinic(
    client: Any, clinic_admin: User, colleague: User, colleague_client: Client
) -> None:
    client.force_login(clinic_admin)
    response = client.get(url(colleague))
    assert response.status_code == 200
    assert rows(response) == [colleague_client]


# --- What it shows ----------------------------------------------------------------


def test_clients_with_a_concern_come_first_with_their_latest_client_score(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    quiet = ClientFactory(therapist=therapist, label="A.A.")  # first by label, no concern
    worried = ClientFactory(therapist=therapist, label="Z.A.")
    # R.K.: 10.0 then 57 / 6 = 9.5 (latest); the therapist's later 3.0 is not the client's.
    rated_session(client_record, 14, 10)
    latest = rated_session(client_record, 7, 10, 10, 10, 9, 9, 9)
    RatingFactory(session=latest, rater=Rating.Rater.THERAPIST, **dict.fromkeys(DIMENSIONS, 3))
    concern_for(client_record, severity="high", status=Concern.Status.RESOLVED)  # done
    watched = concern_for(client_record, severity="medium", status=Concern.Status.ACKNOWLEDGED)
    # Z.A.: a high concern still open; latest 7.0.
    rated_session(worried, 3, 7)
    concern_for(worried, severity="low", status=Concern.Status.DISMISSED)  # done
    urgent = concern_for(worried, severity="high")
    # A.A.: only a closed concern, so nothing to review.
    concern_for(quiet, severity="high", status=Concern.Status.RESOLVED)

    client.force_login(supervisor)
    response = client.get(url(therapist))
    found = rows(response)
    assert found == [worried, client_record, quiet]  # high, medium, then none
    assert [(row.concern_id, row.concern_severity, row.concern_status) for row in found] == [
        (urgent.pk, "high", "open"),
        (watched.pk, "medium", "acknowledged"),
        (None, None, None),
    ]
    assert [row.latest_score for row in found] == [
        pytest.approx(7.0),
        pytest.approx(9.5),
        None,
    ]
    assert [[str(score) for score in row.sparkline] for row in found] == [
        ["7.0"],
        ["10.0", "9.5"],
        [],
    ]
    html = response.content.decode()
    assert html.index("Z.A.") < html.index("R.K.") < html.index("A.A.")
    assert '<th scope="col">Concern to review</th>' in html
    assert reverse("measures:concern-detail", args=[urgent.pk]) in html
    assert reverse("measures:concern-detail", args=[watched.pk]) in html
    assert "Medium" in html and "Acknowledged" in html


def test_a_clinic_admin_sees_the_concern_of_a_therapists_client(
    client: Any, clinic_admin: User, colleague: User, colleague_client: Client
) -> None:
    concern = concern_for(colleague_client, severity="low")
    client.force_login(clinic_admin)
    [row] = rows(client.get(url(colleague)))
    assert (row.concern_id, row.concern_severity, row.concern_status) == (concern.pk, "low", "open")


def test_a_therapist_without_active_clients_says_so(
    client: Any, supervisor: User, therapist: User
) -> None:
    ClientFactory(therapist=therapist, label="Gone", status=Client.Status.DISCHARGED)
    client.force_login(supervisor)
    response = client.get(url(therapist))
    assert response.status_code == 200
    assert rows(response) == []
    assert f"{therapist} has no active clients." in response.content.decode()


def test_a_long_caseload_is_shown_a_page_at_a_time(
    client: Any, supervisor: User, therapist: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on the therapist's own caseload: a caseload of hundreds (a leaver's, handed to one
    colleague) was drawn whole, every row and sparkline, on one page."""
    monkeypatch.setattr(dashboard_view, "PAGE_SIZE", 2)
    for label in ("A.A.", "B.B.", "C.C."):
        ClientFactory(therapist=therapist, label=label)
    client.force_login(supervisor)
    first = client.get(url(therapist))
    assert [record.label for record in rows(first)] == ["A.A.", "B.B."]
    assert 'href="?page=2">Next</a>' in first.content.decode()
    second = client.get(url(therapist), {"page": "2"})
    assert [record.label for record in rows(second)] == ["C.C."]
    assert 'href="?page=1">Previous</a>' in second.content.decode()
    # A page number that is not one shows a page that is.
    for asked, shown in (("0", 1), ("-1", 1), ("abc", 1), ("9" * 30, 2)):
        response = client.get(url(therapist), {"page": asked})
        assert response.status_code == 200
        assert response.context["page"].number == shown


# --- Cost -----------------------------------------------------------------------------


def build_caseload(therapist: User, size: int) -> None:
    """`size` active clients, each with three sessions, two client ratings, a therapist
    rating, two outcome answers (the latest not on track for every other client), an open
    concern holding a signal, an earlier closed concern and a context signal outside any;
    and a discharged client, who is not shown."""
    now = timezone.now()
    records = Client.objects.bulk_create(
        [
            Client(clinic=therapist.clinic, therapist=therapist, label=f"L{n:03}")
            for n in range(size)
        ]
    )
    ClientFactory(therapist=therapist, status=Client.Status.DISCHARGED)
    sessions = Session.objects.bulk_create(
        [
            Session(
                client=record,
                therapist=therapist,
                number=number,
                starts_at=now - dt.timedelta(days=7 * (4 - number)),
                attendance="no_show" if number == 2 else "attended",
            )
            for record in records
            for number in (1, 2, 3)
        ]
    )
    ratings = []
    for n, session in enumerate(sessions):
        if session.attendance == "attended":
            ratings.append(
                Rating(session=session, rater="client", **dict.fromkeys(DIMENSIONS, 4 + n % 7))
            )
            ratings.append(
                Rating(session=session, rater="therapist", **dict.fromkeys(DIMENSIONS, 9))
            )
    Rating.objects.bulk_create(ratings)
    copy_ratings_to_sessions(Session.objects.filter(pk__in=[s.pk for s in sessions]))
    first, last = sessions[0::3], sessions[2::3]
    instrument = built_in_check()
    tracks = [
        *((session, "starting") for session in first),
        *((session, ["on_track", "not_on_track"][n % 2]) for n, session in enumerate(last)),
    ]
    OutcomeAnswer.objects.bulk_create(
        OutcomeAnswer(session=session, instrument=instrument, answers=[6] * 4, score=6, track=track)
        for session, track in tracks
    )
    closed = Concern.objects.bulk_create(
        [
            Concern(
                client=session.client,
                status=Concern.Status.RESOLVED,
                severity="high",
                opening_rule="reliable_drop",
                first_session=session,
                last_session=session,
                closed_at=now,
                note="We talked it through.",
            )
            for session in first
        ]
    )
    open_ = Concern.objects.bulk_create(
        [
            Concern(
                client=session.client,
                severity=["low", "medium", "high"][n % 3],
                opening_rule="reliable_drop",
                first_session=session,
                last_session=session,
            )
            for n, session in enumerate(last)
        ]
    )
    Flag.objects.bulk_create(
        [
            *(
                Flag(
                    client=c.client,
                    session=c.first_session,
                    rule="reliable_drop",
                    severity=c.severity,
                    concern=c,
                )
                for c in [*closed, *open_]
            ),
            *(
                Flag(client=c.client, session=c.last_session, rule="below_cutoff", severity="low")
                for c in open_
            ),
        ]
    )


# Measured at 5 clients: the session and user, the therapist, how many clients, a page of
# them, their sparklines.
CASELOAD_QUERIES = 6


@pytest.mark.parametrize("size", [5, 60])
def test_the_drill_down_costs_the_same_queries_at_any_size(
    client: Any,
    supervisor: User,
    therapist: User,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    build_caseload(therapist, size)
    client.force_login(supervisor)
    with django_assert_num_queries(CASELOAD_QUERIES):
        response = client.get(url(therapist))
    assert response.status_code == 200
    shown = min(size, dashboard_view.PAGE_SIZE)
    assert len(rows(response)) == shown
    assert all(len(row.sparkline) == 2 for row in rows(response))
    assert all(row.concern_status == "open" for row in rows(response))
    assert sum(row.outcome_track == "not_on_track" for row in rows(response)) == shown // 2
    assert [row.concern_severity for row in rows(response)][:1] == ["high"]


def test_a_supervisor_of_one_therapist_is_not_shown_anothers_clients(
    client: Any, clinic: Any, therapist: User, client_record: Client, colleague_client: Client
) -> None:
    """A supervisor who is also a therapist sees only the chosen therapist's clients."""
    both = SupervisorFactory(clinic=clinic, username="bo", is_therapist=True)
    Supervision.objects.create(supervisor=both, therapist=therapist)
    ClientFactory(therapist=both, label="Own")
    other = TherapistFactory(clinic=clinic, username="ot")
    ClientFactory(therapist=other, label="Other")
    client.force_login(both)
    assert rows(client.get(url(therapist))) == [client_record]
    # Their own caseload is on their caseload page; the dashboard drills into supervisees.
    assert client.get(url(both)).status_code == 404
    assert client.get(url(other)).status_code == 404
