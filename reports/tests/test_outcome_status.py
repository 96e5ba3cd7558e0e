"""On track or not, where the caseloads are read: each client's outcome status on the
caseload (a column and a filter), and each therapist's clients not on track on the team
dashboard and in its CSV.

A client's status is the track of their latest outcome answer on a session that counts
(not voided), by the session's date and number. Detection writes `track`; here it is set
by hand on the answers, so these tests say only how the pages read it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, Supervision, User
from clients.tests.factories import (
    ClientFactory,
    ClinicAdminFactory,
    SupervisorFactory,
    TherapistFactory,
)
from measures.models import OutcomeAnswer
from measures.tests.factories import OutcomeAnswerFactory, evaluated
from reports import dashboard
from reports.exports import dashboard_header
from reports.tests.test_exports import table
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

CASELOAD = reverse("reports:caseload")
DASHBOARD = reverse("reports:dashboard")
DASHBOARD_CSV = reverse("reports:dashboard-csv")
STARTING, ON_TRACK, NOT_ON_TRACK = (
    OutcomeAnswer.Track.STARTING,
    OutcomeAnswer.Track.ON_TRACK,
    OutcomeAnswer.Track.NOT_ON_TRACK,
)
NOT_ON_TRACK_BADGE = '<span class="badge text-bg-danger">Not on track</span>'


def answered(client: Client, days_ago: float, track: str, **session: Any) -> Session:
    """A session of `client` `days_ago` days ago with an outcome answer judged `track`."""
    when = timezone.now() - dt.timedelta(days=days_ago)
    held = SessionFactory(client=client, starts_at=when, **session)
    OutcomeAnswerFactory(session=held, track=track)
    return held


def void(session: Session) -> None:
    """Voided as the service leaves it, without running detection (which would judge the
    answers again and overwrite the tracks set by hand)."""
    Session.objects.filter(pk=session.pk).update(
        voided_at=timezone.now(), voided_by=session.therapist, void_reason="Logged twice."
    )


def rows(response: Any) -> list[Client]:
    return list(response.context["page"])


def outcome_cell(response: Any, client: Client) -> str:
    """The Outcome cell of `client`'s caseload row, as HTML."""
    link = reverse("reports:client-detail", args=[client.pk])
    [row] = [
        row
        for row in re.findall(r"<tr>.*?</tr>", response.content.decode(), flags=re.S)
        if f'href="{link}"' in row
    ]
    headings = re.findall(r"<th scope=\"col\">(.*?)</th>", response.content.decode())
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
    return cells[headings.index("Outcome")]


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- The caseload --------------------------------------------------------------------


@pytest.fixture
def caseload(therapist: User, client_record: Client) -> dict[str, Client]:
    """Tara's clients, each at a different point of their outcome."""
    slipping = client_record  # R.K.: on track, then not
    answered(slipping, 14, ON_TRACK)
    answered(slipping, 7, NOT_ON_TRACK)
    recovered = ClientFactory(therapist=therapist, label="B.B.")  # not on track, then on
    answered(recovered, 14, NOT_ON_TRACK)
    answered(recovered, 7, ON_TRACK)
    starting = ClientFactory(therapist=therapist, label="C.C.")
    answered(starting, 3, STARTING)
    waiting = ClientFactory(therapist=therapist, label="D.D.")  # answered, not judged yet
    answered(waiting, 14, NOT_ON_TRACK)
    answered(waiting, 1, "")
    never = ClientFactory(therapist=therapist, label="E.E.")
    SessionFactory(client=never)  # a session, no answer
    return {
        "slipping": slipping,
        "recovered": recovered,
        "starting": starting,
        "waiting": waiting,
        "never": never,
    }


def test_each_client_shows_their_latest_outcome_in_words(
    client: Any, therapist: User, caseload: dict[str, Client]
) -> None:
    client.force_login(therapist)
    response = client.get(CASELOAD)
    tracks = {row.label: row.outcome_track for row in rows(response)}
    assert tracks == {
        "R.K.": NOT_ON_TRACK,
        "B.B.": ON_TRACK,
        "C.C.": STARTING,
        "D.D.": "",  # the latest answer decides, judged or not
        "E.E.": None,
    }
    shown = {
        label: outcome_cell(response, caseload[key])
        for key, label in [
            ("slipping", "R.K."),
            ("recovered", "B.B."),
            ("starting", "C.C."),
            ("waiting", "D.D."),
            ("never", "E.E."),
        ]
    }
    # Not on track stands out as a badge, and says so in words, not by colour alone.
    assert NOT_ON_TRACK_BADGE in shown["R.K."]
    assert words(shown["R.K."]) == "Not on track"
    assert words(shown["B.B."]) == "On track"
    assert words(shown["C.C."]) == "First answer"
    assert words(shown["D.D."]) == "— latest outcome answer not judged yet"
    assert words(shown["E.E."]) == "— no outcome answer yet"
    assert response.content.decode().count(NOT_ON_TRACK_BADGE) == 1


def test_the_latest_answer_is_by_the_sessions_date_then_number(
    client: Any, therapist: User, client_record: Client
) -> None:
    # Entered out of order: the later session first, then one back-dated a week.
    answered(client_record, 1, ON_TRACK)
    answered(client_record, 8, NOT_ON_TRACK)
    same_day = ClientFactory(therapist=therapist, label="Twice")
    moment = timezone.now() - dt.timedelta(days=2)
    OutcomeAnswerFactory(
        session=SessionFactory(client=same_day, starts_at=moment, number=2), track=NOT_ON_TRACK
    )
    OutcomeAnswerFactory(
        session=SessionFactory(client=same_day, starts_at=moment, number=1), track=ON_TRACK
    )
    client.force_login(therapist)
    tracks = {row.label: row.outcome_track for row in rows(client.get(CASELOAD))}
    assert tracks == {"R.K.": ON_TRACK, "Twice": NOT_ON_TRACK}


def test_an_answer_at_a_voided_session_is_ignored(
    client: Any, therapist: User, client_record: Client
) -> None:
    answered(client_record, 14, ON_TRACK)
    void(answered(client_record, 7, NOT_ON_TRACK))  # the latest, but logged in error
    only_voided = ClientFactory(therapist=therapist, label="V.V.")
    void(answered(only_voided, 7, NOT_ON_TRACK))
    client.force_login(therapist)
    response = client.get(CASELOAD)
    tracks = {row.label: row.outcome_track for row in rows(response)}
    assert tracks == {"R.K.": ON_TRACK, "V.V.": None}
    assert NOT_ON_TRACK_BADGE not in response.content.decode()
    assert rows(client.get(CASELOAD, {"outcome": NOT_ON_TRACK})) == []


def test_the_filter_shows_only_the_clients_not_on_track(
    client: Any, therapist: User, caseload: dict[str, Client]
) -> None:
    client.force_login(therapist)
    response = client.get(CASELOAD, {"outcome": NOT_ON_TRACK})
    assert rows(response) == [caseload["slipping"]]
    html = response.content.decode()
    assert 'name="outcome" value="not_on_track" checked' in html
    assert f'href="{CASELOAD}">Clear</a>' in html
    assert not response.context["messages"]


def test_the_filter_joins_the_search_and_the_status(
    client: Any, therapist: User, caseload: dict[str, Client]
) -> None:
    gone = ClientFactory(therapist=therapist, label="R.Z.", status=Client.Status.DISCHARGED)
    answered(gone, 3, NOT_ON_TRACK)
    client.force_login(therapist)
    assert rows(client.get(CASELOAD, {"outcome": NOT_ON_TRACK, "q": "B.B."})) == []
    response = client.get(CASELOAD, {"outcome": NOT_ON_TRACK, "q": "B.B."})
    assert "No active client whose label contains “B.B.” is off track" in (
        response.content.decode()
    )
    discharged = client.get(CASELOAD, {"outcome": NOT_ON_TRACK, "status": "discharged"})
    assert rows(discharged) == [gone]


def test_the_pages_links_keep_the_filter(client: Any, therapist: User) -> None:
    for number in range(51):
        answered(ClientFactory(therapist=therapist, label=f"N{number:02}"), 2, NOT_ON_TRACK)
    ClientFactory(therapist=therapist, label="On course")
    client.force_login(therapist)
    response = client.get(CASELOAD, {"outcome": NOT_ON_TRACK})
    assert response.context["page"].paginator.count == 51
    assert '?status=active&amp;q=&amp;outcome=not_on_track&amp;page=2"' in (
        response.content.decode()
    )
    assert len(rows(client.get(CASELOAD, {"outcome": NOT_ON_TRACK, "page": "2"}))) == 1


@pytest.mark.parametrize("value", ["on_track", "NOT_ON_TRACK", "not_on_track\t", "<b>", "1"])
def test_an_unknown_outcome_filter_says_so_and_shows_every_client(
    client: Any, therapist: User, caseload: dict[str, Client], value: str
) -> None:
    client.force_login(therapist)
    response = client.get(CASELOAD, {"outcome": value})
    assert response.status_code == 200
    assert len(rows(response)) == len(caseload)
    assert [str(message) for message in response.context["messages"]] == [
        "That outcome filter is not one we know; showing every client."
    ]
    assert "<b>" not in response.content.decode()


def test_a_supervisor_sees_the_supervisees_clients_status_and_no_one_elses(
    client: Any,
    supervisor: User,
    client_record: Client,
    colleague_client: Client,
    outsider_client: Client,
) -> None:
    answered(client_record, 3, NOT_ON_TRACK)
    answered(colleague_client, 3, NOT_ON_TRACK)
    answered(outsider_client, 3, NOT_ON_TRACK)
    client.force_login(supervisor)
    for query in ({}, {"outcome": NOT_ON_TRACK}):
        response = client.get(CASELOAD, query)
        assert rows(response) == [client_record]
        html = response.content.decode()
        assert html.count(NOT_ON_TRACK_BADGE) == 1
        assert "M.P." not in html and "Z.Z." not in html


@pytest.mark.parametrize(
    "who", ["colleague", "idle_supervisor", "outsider", "other_supervisor", "other_admin"]
)
def test_someone_outside_the_caseload_never_sees_the_client(
    client: Any, client_record: Client, who: str, request: Any, clinic: Any, other_clinic: Any
) -> None:
    answered(client_record, 3, NOT_ON_TRACK)
    if who == "idle_supervisor":
        viewer = SupervisorFactory(clinic=clinic, username="idle")
    elif who == "other_supervisor":  # supervises the other clinic's therapist
        viewer = SupervisorFactory(clinic=other_clinic, username="osca")
        Supervision.objects.create(supervisor=viewer, therapist=request.getfixturevalue("outsider"))
    elif who == "other_admin":
        viewer = ClinicAdminFactory(clinic=other_clinic, username="olga")
    else:
        viewer = request.getfixturevalue(who)
    client.force_login(viewer)
    for query in ({}, {"outcome": NOT_ON_TRACK}):
        response = client.get(CASELOAD, query)
        assert client_record not in rows(response)
        assert NOT_ON_TRACK_BADGE not in response.content.decode()


def test_the_drill_down_shows_the_outcome_too(
    client: Any, supervisor: User, therapist: User, caseload: dict[str, Client]
) -> None:
    client.force_login(supervisor)
    response = client.get(reverse("reports:therapist-caseload", args=[therapist.pk]))
    assert {row.label: row.outcome_track for row in response.context["clients"]}["R.K."] == (
        NOT_ON_TRACK
    )
    assert response.content.decode().count(NOT_ON_TRACK_BADGE) == 1


# --- The dashboard -------------------------------------------------------------------


@pytest.fixture
def team(
    supervisor: User,
    therapist: User,
    client_record: Client,
    colleague_client: Client,
    outsider_client: Client,
) -> dict[str, User]:
    """Tara (Young): 2 clients not on track of 5; Wes (Abbott): 1 of 1. The unsupervised
    colleague's and the other clinic's clients not on track count nowhere."""
    therapist.last_name = "Young"
    therapist.save()
    wes = TherapistFactory(clinic=therapist.clinic, username="wes", last_name="Abbott")
    Supervision.objects.create(supervisor=supervisor, therapist=wes)
    answered(client_record, 7, NOT_ON_TRACK)
    slipping = ClientFactory(therapist=therapist)
    answered(slipping, 20, ON_TRACK)
    answered(slipping, 6, NOT_ON_TRACK)
    recovered = ClientFactory(therapist=therapist)
    answered(recovered, 20, NOT_ON_TRACK)
    answered(recovered, 6, ON_TRACK)
    voided_latest = ClientFactory(therapist=therapist)
    answered(voided_latest, 20, ON_TRACK)
    void(answered(voided_latest, 6, NOT_ON_TRACK))
    ClientFactory(therapist=therapist)  # no answer yet
    gone = ClientFactory(therapist=therapist, status=Client.Status.DISCHARGED)
    answered(gone, 30, NOT_ON_TRACK)  # discharged: not in the caseload's count
    answered(ClientFactory(therapist=wes), 2, NOT_ON_TRACK)
    answered(colleague_client, 2, NOT_ON_TRACK)
    answered(outsider_client, 2, NOT_ON_TRACK)
    evaluated()  # the tracks, as detection last saw them
    return {"tara": therapist, "wes": wes}


def test_each_row_counts_the_therapists_clients_not_on_track(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    response = client.get(DASHBOARD)
    wes, tara = response.context["rows"]  # by surname
    assert (tara.not_on_track, wes.not_on_track) == (2, 1)
    assert response.context["totals"]["not_on_track"] == 3  # over the team's clients
    html = response.content.decode()
    assert '<span class="badge rounded-pill text-bg-danger">2</span>' in html
    assert "Clients not on track" in html


def test_rows_sort_by_clients_not_on_track_either_way(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    ascending = client.get(f"{DASHBOARD}?sort=not_on_track")
    assert list(ascending.context["rows"]) == [team["wes"], team["tara"]]
    assert not ascending.context["messages"]
    descending = client.get(f"{DASHBOARD}?sort=not_on_track&dir=desc")
    assert list(descending.context["rows"]) == [team["tara"], team["wes"]]


def test_the_csv_counts_the_clients_not_on_track(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    exported = table(client.get(f"{DASHBOARD_CSV}?sort=not_on_track&dir=desc"))
    assert "clients_not_on_track" in dashboard_header()
    assert [(row["therapist"], row["clients_not_on_track"]) for row in exported] == [
        (str(team["tara"]), "2"),
        (str(team["wes"]), "1"),
    ]


def test_a_clinic_admin_counts_the_whole_clinic_and_no_other(
    clinic_admin: User, team: dict[str, User], colleague: User
) -> None:
    rows = {
        row.pk: row for row in dashboard.therapist_rows(clinic_admin, dashboard.period_of_days(30))
    }
    assert {pk: row.not_on_track for pk, row in rows.items()} == {
        team["tara"].pk: 2,
        team["wes"].pk: 1,
        colleague.pk: 1,
    }
    totals = dashboard.team_totals(clinic_admin, dashboard.period_of_days(30))
    assert totals["not_on_track"] == 4  # the other clinic's client is not among them


def test_the_other_clinics_admin_and_a_mislinked_supervisor_see_none_of_them(
    client: Any, clinic: Any, other_clinic: Any, team: dict[str, User], outsider: User
) -> None:
    other_admin = ClinicAdminFactory(clinic=other_clinic, username="olga")
    rows = list(dashboard.therapist_rows(other_admin, dashboard.period_of_days(30)))
    assert [(row.pk, row.not_on_track) for row in rows] == [(outsider.pk, 1)]
    assert dashboard.team_totals(other_admin, dashboard.period_of_days(30))["not_on_track"] == 1
    # A supervision linked across clinics by mistake shows nothing of the other clinic.
    linked = SupervisorFactory(clinic=clinic, username="sam")
    Supervision.objects.bulk_create([Supervision(supervisor=linked, therapist=outsider)])
    client.force_login(linked)
    response = client.get(DASHBOARD)
    assert list(response.context["rows"]) == []
    assert response.context["totals"]["not_on_track"] == 0


# --- After the clinic changes its instrument ------------------------------------------


def test_after_a_switch_only_answers_to_the_instrument_in_use_count(
    client: Any,
    therapist: User,
    supervisor: User,
    client_record: Client,
    team: dict[str, User],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Detection judges only the instrument in use; the caseload and the dashboard say no
    more than it does. Tara's clients not on track on the built-in check count nowhere once
    the clinic uses its own, until they answer it; the old answers keep their track."""
    from measures.instruments import instrument_use
    from measures.tests.test_client_outcome import own_instrument

    own = own_instrument(therapist.clinic, in_use=False)
    admin = ClinicAdminFactory(clinic=therapist.clinic)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        instrument_use(clinic=therapist.clinic, instrument=own, actor=admin)
    assert len(queued) == 1  # one rewrite of the clinic's copies, however many rows changed
    client.force_login(therapist)
    tracks = {row.label: row.outcome_track for row in rows(client.get(CASELOAD))}
    assert set(tracks.values()) == {None}
    assert rows(client.get(CASELOAD, {"outcome": NOT_ON_TRACK})) == []
    client.force_login(supervisor)
    assert client.get(DASHBOARD).context["totals"]["not_on_track"] == 0
    assert OutcomeAnswer.objects.filter(track=NOT_ON_TRACK).count() == 8  # kept as judged
    # An answer to the instrument in use counts at once.
    OutcomeAnswerFactory(
        session=SessionFactory(client=client_record),
        instrument=own,
        answers=(5, 5),
        track=NOT_ON_TRACK,
    )
    client.force_login(therapist)
    assert len(rows(client.get(CASELOAD, {"outcome": NOT_ON_TRACK}))) == 1
    # Back to the built-in check, its answers count again.
    with django_capture_on_commit_callbacks(execute=True):
        instrument_use(clinic=therapist.clinic, instrument=None, actor=admin)
    client.force_login(supervisor)
    assert client.get(DASHBOARD).context["totals"]["not_on_track"] == 3


def test_retiring_the_instrument_in_use_rewrites_the_copies(
    therapist: User, client_record: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from measures.instruments import instrument_retire
    from measures.tests.test_client_outcome import own_instrument

    own = own_instrument(therapist.clinic, in_use=True)
    OutcomeAnswerFactory(
        session=SessionFactory(client=client_record),
        instrument=own,
        answers=(5, 5),
        track=NOT_ON_TRACK,
    )
    evaluated()
    assert Client.objects.get(pk=client_record.pk).evaluated_track == NOT_ON_TRACK
    admin = ClinicAdminFactory(clinic=therapist.clinic)
    with django_capture_on_commit_callbacks(execute=True):
        instrument_retire(instrument=own, actor=admin)
    assert Client.objects.get(pk=client_record.pk).evaluated_track is None


def test_a_switch_with_the_broker_away_is_kept_and_the_sweep_mends_the_copies(
    therapist: User,
    client_record: Client,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
    caplog: Any,
) -> None:
    """The copies' rewrite cannot be queued: the switch stands, the failure is logged (by the
    clinic's id alone), and the nightly sweep's first step writes them from what is stored."""
    from measures import tasks
    from measures.instruments import instrument_use
    from measures.sweeps import sweep_run
    from measures.tests.test_client_outcome import own_instrument

    answered(client_record, 7, NOT_ON_TRACK)
    evaluated()
    own = own_instrument(therapist.clinic, in_use=False)

    def broker_away(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.clinic_tracks_copy, "delay", broker_away)
    with django_capture_on_commit_callbacks(execute=True):
        instrument_use(
            clinic=therapist.clinic,
            instrument=own,
            actor=ClinicAdminFactory(clinic=therapist.clinic),
        )
    own.refresh_from_db()
    assert own.in_use
    assert f"track copies of clinic {therapist.clinic_id}" in caplog.text
    assert Client.objects.get(pk=client_record.pk).evaluated_track == NOT_ON_TRACK  # stale
    sweep_run()
    assert Client.objects.get(pk=client_record.pk).evaluated_track is None
