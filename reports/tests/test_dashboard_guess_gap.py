"""The dashboard's typical guess gap: how far each therapist's guesses of the client's
alliance score ("How do you think the client rated today?") were from the client's own,
on average, at the sessions of the period, with how many guesses; the reading page's
number (`measures.guesses`), over the same sessions. Checked on a team built by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, Supervision, User
from clients.moves import client_move
from clients.tests.factories import ClientFactory, ClinicAdminFactory, TherapistFactory
from measures.models import Rating
from measures.scoring import DIMENSIONS
from measures.tests.factories import RatingFactory
from reports import dashboard
from reports.dashboard import period_of_days
from reports.reading import reading_page
from reports.tests.test_dashboard import cells, row_html, rows_of
from reports.tests.test_exports import table
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

URL = reverse("reports:dashboard")
CSV = reverse("reports:dashboard-csv")


def guessed(
    record: Client, days_ago: int, scores: tuple[int, ...] | None, guess: int | None
) -> Session:
    """An attended session of `record`: the client's rating (`scores`, one for all six
    dimensions or six), and the therapist's with `guess` (None: no therapist rating)."""
    session = SessionFactory(client=record, starts_at=timezone.now() - dt.timedelta(days=days_ago))
    if scores is not None:
        values = scores * 6 if len(scores) == 1 else scores
        RatingFactory(session=session, **dict(zip(DIMENSIONS, values, strict=True)))
    if guess is not None:
        RatingFactory(
            session=session,
            rater=Rating.Rater.THERAPIST,
            submitted_by=record.therapist,
            guessed_client_score=guess,
        )
    return session


@pytest.fixture
def team(
    supervisor: User, therapist: User, client_record: Client, colleague_client: Client
) -> dict[str, User]:
    """Over the last 30 days: Tara (Young) guessed 3 sessions, 1.0, 2.0 and 0.5 points off;
    Wes (Abbott) 1, spot on; Una (Vance) none. The unsupervised colleague's guess counts
    nowhere."""
    therapist.last_name = "Young"
    therapist.save()
    wes = TherapistFactory(clinic=therapist.clinic, username="wes", last_name="Abbott")
    una = TherapistFactory(clinic=therapist.clinic, username="una", last_name="Vance")
    Supervision.objects.bulk_create(
        [Supervision(supervisor=supervisor, therapist=someone) for someone in (wes, una)]
    )
    other = ClientFactory(therapist=therapist, label="B.B.")
    guessed(client_record, 20, (8,), 9)  # 1.0
    guessed(client_record, 10, (6,), 8)  # 2.0
    guessed(other, 5, (10, 10, 10, 9, 9, 9), 9)  # the client's 9.5: 0.5
    guessed(other, 4, (9,), None)  # the therapist did not rate it: nothing to compare
    RatingFactory(  # rated, with no guess
        session=guessed(client_record, 3, (9,), None),
        rater=Rating.Rater.THERAPIST,
        submitted_by=therapist,
    )
    guessed(client_record, 2, None, 7)  # the client has not rated it
    guessed(client_record, 40, (2,), 9)  # before the period: 7.0
    voided = guessed(other, 1, (1,), 9)  # voided: 8.0, counts nowhere
    Session.objects.filter(pk=voided.pk).update(
        voided_at=timezone.now(), voided_by=therapist, void_reason="Logged twice."
    )
    guessed(ClientFactory(therapist=wes), 6, (6,), 6)  # 0.0
    ClientFactory(therapist=una)
    guessed(colleague_client, 6, (2,), 10)
    return {"tara": therapist, "wes": wes, "una": una}


def gaps(rows: list[Any]) -> dict[str, tuple[float | None, int]]:
    return {row.username: (row.guess_gap.typical, row.guess_gap.guesses) for row in rows}


def test_each_row_has_the_typical_gap_of_the_therapists_guesses_in_the_period(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    rows = rows_of(client.get(URL))
    assert gaps(rows) == {
        team["tara"].username: (pytest.approx((1.0 + 2.0 + 0.5) / 3), 3),
        "wes": (0.0, 1),
        "una": (None, 0),
    }


def test_a_gap_halfway_between_tenths_is_shown_as_written_on_any_database(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    """1.7, 1.3, 5.7 and 0.7 points off: 2.35 exactly, shown as 2.4. The distances are
    summed as decimals and divided once, so a database that averages in floating point
    (SQLite's 2.3499…) cannot show 2.3."""
    # The client's 7.3, 7.7, 3.3 and 8.3 (six dimensions each), against a guess of 9.
    for days_ago, scores in enumerate(
        [(7, 7, 7, 7, 8, 8), (8, 8, 8, 8, 7, 7), (3, 3, 3, 3, 4, 4), (8, 8, 8, 8, 9, 9)], start=3
    ):
        guessed(client_record, days_ago, scores, 9)
    client.force_login(supervisor)
    response = client.get(URL)
    [row] = rows_of(response)
    assert (row.guess_gap.typical, row.guess_gap.guesses) == (2.35, 4)
    assert '2.4<span class="visually-hidden"> points' in row_html(response, therapist)
    assert response.context["totals"]["guess_gap"].typical == 2.35


def test_the_team_gap_is_over_the_teams_guesses_not_the_mean_of_the_rows(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    team_gap = client.get(URL).context["totals"]["guess_gap"]
    # (1.0 + 2.0 + 0.5 + 0.0) / 4 = 0.875, not (1.167 + 0.0) / 2 = 0.583.
    assert (team_gap.typical, team_gap.guesses) == (pytest.approx(0.875), 4)


def test_a_longer_period_takes_in_the_earlier_guesses(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    rows = rows_of(client.get(f"{URL}?period=90"))
    # The session 40 days ago: 7.0 more → (1.0 + 2.0 + 0.5 + 7.0) / 4 = 2.625.
    assert gaps(rows)[team["tara"].username] == (pytest.approx(2.625), 4)


def test_the_gap_is_the_reading_pages_over_the_same_sessions(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    """Every session of the fixture is within 90 days, so the dashboard's 90 days and the
    reading page's whole history compare the same sessions."""
    client.force_login(supervisor)
    rows = {row.pk: row for row in rows_of(client.get(f"{URL}?period=90"))}
    for someone in team.values():
        reading = reading_page(supervisor, someone).reading
        gap = rows[someone.pk].guess_gap
        assert (gap.typical, gap.guesses) == (reading.mean_absolute_difference, reading.compared)


def test_a_moved_clients_guesses_leave_both_numbers_alike(
    supervisor: User, team: dict[str, User], client_record: Client, clinic_admin: User
) -> None:
    """The therapist no longer sees a client moved to a colleague, nor so the guesses they
    made about them on their reading page: the dashboard's number leaves them too."""
    wes = team["wes"]
    client_move(
        actor=clinic_admin,
        client=client_record,
        therapist=wes,
        from_therapist_id=client_record.therapist_id,
    )
    rows = {row.pk: row for row in dashboard.team_numbers(supervisor, period_of_days(90)).rows}
    for someone in (team["tara"], wes):
        for viewer in (supervisor, someone):
            reading = reading_page(viewer, someone).reading
            gap = rows[someone.pk].guess_gap
            assert (gap.typical, gap.guesses) == (
                reading.mean_absolute_difference,
                reading.compared,
            )
    # Tara keeps B.B.'s one guess (0.5 off); Wes's sessions are his own, not R.K.'s with Tara.
    assert (rows[team["tara"].pk].guess_gap.guesses, rows[wes.pk].guess_gap.guesses) == (1, 1)


def test_the_page_shows_the_gap_with_its_guesses_and_links_to_the_reading_page(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    response = client.get(URL)
    tara = row_html(response, team["tara"])
    reading = reverse("reports:therapist-reading", args=[team["tara"].pk])
    assert f'<a href="{reading}">' in tara
    shown = cells(tara)[9]
    assert shown.startswith("1.2 points") and shown.endswith("(3 guesses)")
    assert cells(row_html(response, team["wes"]))[9].startswith("0.0 points")
    una = row_html(response, team["una"])
    assert cells(una)[9] == "— no guesses in this period"
    assert reverse("reports:therapist-reading", args=[team["una"].pk]) not in una
    assert client.get(reading).status_code == 200


def test_a_clinic_admin_may_follow_each_link_too(
    client: Any, clinic_admin: User, team: dict[str, User], colleague: User
) -> None:
    client.force_login(clinic_admin)
    rows = rows_of(client.get(URL))
    # The whole clinic: the colleague's guess (2 against 10) counts for the colleague.
    assert gaps(rows)[colleague.username] == (8.0, 1)
    for row in rows:
        if row.guess_gap.guesses:
            link = reverse("reports:therapist-reading", args=[row.pk])
            assert client.get(link).status_code == 200


@pytest.mark.parametrize(
    ("direction", "order"), [("asc", ["wes", "tara", "una"]), ("desc", ["tara", "wes", "una"])]
)
def test_rows_sort_by_the_gap_either_way_without_guesses_last(
    client: Any, supervisor: User, team: dict[str, User], direction: str, order: list[str]
) -> None:
    client.force_login(supervisor)
    response = client.get(f"{URL}?sort=guess_gap&dir={direction}")
    assert rows_of(response) == [team[name] for name in order]
    assert not response.context["messages"]
    expected = "ascending" if direction == "asc" else "descending"
    assert f'aria-sort="{expected}"' in response.content.decode()


def test_tied_gaps_sort_by_surname(client: Any, supervisor: User, team: dict[str, User]) -> None:
    guessed(ClientFactory(therapist=team["una"]), 3, (7,), 7)  # Una: 0.0, like Wes
    client.force_login(supervisor)
    for direction in ("asc", "desc"):
        rows = rows_of(client.get(f"{URL}?sort=guess_gap&dir={direction}"))
        assert rows.index(team["wes"]) < rows.index(team["una"])  # Abbott before Vance


def test_the_csv_has_the_gap_and_its_guesses_in_the_same_order(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    exported = table(client.get(f"{CSV}?sort=guess_gap"))
    assert [
        (row["therapist"], row["typical_guess_gap"], row["guesses_compared"]) for row in exported
    ] == [
        (str(team["wes"]), "0.00", "1"),
        (str(team["tara"]), "1.17", "3"),
        (str(team["una"]), "", "0"),
    ]


def test_another_clinics_guesses_never_count(
    client: Any, clinic_admin: User, other_clinic: Any, outsider: User, outsider_client: Client
) -> None:
    guessed(outsider_client, 3, (2,), 10)
    client.force_login(clinic_admin)
    response = client.get(URL)
    assert rows_of(response) == []
    assert response.context["totals"]["guess_gap"].guesses == 0
    other_admin = ClinicAdminFactory(clinic=other_clinic, username="olga")
    period = dashboard.period_of_days(30)
    theirs = dashboard.team_totals(other_admin, period)["guess_gap"]
    assert (theirs.typical, theirs.guesses) == (8.0, 1)
    [row] = dashboard.therapist_rows(other_admin, period)
    assert (row.guess_gap.typical, row.guess_gap.guesses) == (8.0, 1)


def test_pages_sorted_by_the_gap_split_the_same_order(
    client: Any, supervisor: User, team: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "THERAPISTS_A_PAGE", 2)
    client.force_login(supervisor)
    first = rows_of(client.get(f"{URL}?sort=guess_gap&dir=desc"))
    second = rows_of(client.get(f"{URL}?sort=guess_gap&dir=desc&page=2"))
    assert first + second == [team["tara"], team["wes"], team["una"]]
    assert gaps(second) == {"una": (None, 0)}
