"""The drill-down from the dashboard into one therapist's caseload (read-only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, Supervision, User
from clients.tests.factories import ClientFactory, SupervisorFactory, TherapistFactory
from measures.models import Flag, Rating
from measures.tests.factories import FlagFactory, RatingFactory
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

DIMENSIONS = ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"]


def url(therapist: User | int) -> str:
    pk = therapist if isinstance(therapist, int) else therapist.pk
    return reverse("measures:therapist-caseload", args=[pk])


def rated_session(record: Client, days_ago: int, *scores: int, rater: str = "client") -> Session:
    session = SessionFactory(client=record, starts_at=timezone.now() - dt.timedelta(days=days_ago))
    values = scores * 6 if len(scores) == 1 else scores
    RatingFactory(session=session, rater=rater, **dict(zip(DIMENSIONS, values, strict=True)))
    return session


def flag_on(
    session: Session, *, status: str = Flag.Status.OPEN, rule: str = "below_cutoff"
) -> Flag:
    now = timezone.now()
    done = {
        Flag.Status.OPEN: {},
        Flag.Status.ACKNOWLEDGED: {"acknowledged_at": now},
        Flag.Status.RESOLVED: {"resolved_at": now, "note": "We talked it through."},
        Flag.Status.DISMISSED: {"dismissed_at": now, "note": "A hard week at work."},
    }[status]
    return FlagFactory(session=session, rule=rule, status=status, **done)


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
    assert f'href="{reverse("measures:dashboard")}"' in html  # the way back


def test_a_clinic_admin_drills_into_any_therapist_of_the_clinic(
    client: Any, clinic_admin: User, colleague: User, colleague_client: Client
) -> None:
    client.force_login(clinic_admin)
    response = client.get(url(colleague))
    assert response.status_code == 200
    assert rows(response) == [colleague_client]


# --- What it shows ----------------------------------------------------------------


def test_flagged_clients_come_first_with_their_latest_client_score(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    quiet = ClientFactory(therapist=therapist, label="A.A.")  # first by label, no flags
    worried = ClientFactory(therapist=therapist, label="Z.A.")
    # R.K.: 10.0 then 57 / 6 = 9.5 (latest); the therapist's later 3.0 is not the client's.
    rated_session(client_record, 14, 10)
    latest = rated_session(client_record, 7, 10, 10, 10, 9, 9, 9)
    RatingFactory(session=latest, rater=Rating.Rater.THERAPIST, **dict.fromkeys(DIMENSIONS, 3))
    flag_on(latest)  # 1 to review
    flag_on(latest, status=Flag.Status.RESOLVED, rule="reliable_drop")  # done: not counted
    # Z.A.: open + acknowledged = 2 to review; latest 7.0.
    worried_session = rated_session(worried, 3, 7)
    flag_on(worried_session)
    flag_on(worried_session, status=Flag.Status.ACKNOWLEDGED, rule="declining_trend")
    flag_on(worried_session, status=Flag.Status.DISMISSED, rule="dimension_drop")

    client.force_login(supervisor)
    response = client.get(url(therapist))
    found = rows(response)
    assert found == [worried, client_record, quiet]  # 2 flags, 1 flag, then none
    assert [row.open_flags for row in found] == [2, 1, 0]
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


def test_a_therapist_without_active_clients_says_so(
    client: Any, supervisor: User, therapist: User
) -> None:
    ClientFactory(therapist=therapist, label="Gone", status=Client.Status.DISCHARGED)
    client.force_login(supervisor)
    response = client.get(url(therapist))
    assert response.status_code == 200
    assert rows(response) == []
    assert f"{therapist} has no active clients." in response.content.decode()


# --- Cost -----------------------------------------------------------------------------


def build_caseload(therapist: User, size: int) -> None:
    """`size` active clients, each with three sessions, two client ratings, a therapist
    rating and flags to review; and a discharged client, who is not shown."""
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
    ratings, flags = [], []
    for n, session in enumerate(sessions):
        if session.attendance == "attended":
            ratings.append(
                Rating(session=session, rater="client", **dict.fromkeys(DIMENSIONS, 4 + n % 7))
            )
            ratings.append(
                Rating(session=session, rater="therapist", **dict.fromkeys(DIMENSIONS, 9))
            )
        if n % 2:
            flags.append(
                Flag(client=session.client, session=session, rule="below_cutoff", severity="low")
            )
    Rating.objects.bulk_create(ratings)
    Flag.objects.bulk_create(flags)


# Measured at 5 clients: the session and user, the therapist, the clients, the sparklines.
CASELOAD_QUERIES = 5


@pytest.mark.parametrize("size", [5, 50])
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
    assert len(rows(response)) == size
    assert all(len(row.sparkline) == 2 for row in rows(response))


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
