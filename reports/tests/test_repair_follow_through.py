"""The dashboard's repair follow-through: of the repairs whose follow-up finished in the
period, the share after which the alliance came back. Checked on a team built by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clients.models import Client, Supervision, User
from clients.tests.factories import ClientFactory, TherapistFactory
from measures.models import Concern, ConcernEvent
from measures.tests.factories import ConcernEventFactory
from reports import dashboard
from reports.tests.test_dashboard import URL, concern, rows_of, session

pytestmark = pytest.mark.django_db


def follow_ups(client: Client, *actions: str, days_ago: float = 2) -> None:
    """A resolved concern of `client` for each follow-up step, taken `days_ago`."""
    for action in actions:
        closed = concern(session(client, timezone.now()), status=Concern.Status.RESOLVED)
        ConcernEventFactory(
            concern=closed,
            action=action,
            note="",
            evidence={"usual": 9.0, "margin": 1.52, "scores": [9.0], "sessions": [7]},
            at=timezone.now() - dt.timedelta(days=days_ago),
        )


@pytest.fixture
def team(
    supervisor: User, therapist: User, client_record: Client, colleague_client: Client
) -> dict[str, User]:
    """Tara: 3 repairs recovered, 1 re-opened in the last 30 days (and one recovery 40 days
    ago); Wes: 1 did not recover (another concern already open). The unsupervised colleague's
    recovery counts nowhere."""
    therapist.last_name = "Young"
    therapist.save()
    wes = TherapistFactory(clinic=therapist.clinic, username="wes", last_name="Abbott")
    Supervision.objects.create(supervisor=supervisor, therapist=wes)
    recovered, reopened, not_recovered = (
        ConcernEvent.Action.RECOVERED,
        ConcernEvent.Action.REOPENED,
        ConcernEvent.Action.NOT_RECOVERED,
    )
    follow_ups(client_record, recovered, recovered, reopened)
    follow_ups(ClientFactory(therapist=therapist), recovered)
    follow_ups(client_record, recovered, days_ago=40)  # before the period
    follow_ups(ClientFactory(therapist=therapist), ConcernEvent.Action.COMMENTED)  # not one
    follow_ups(ClientFactory(therapist=wes), not_recovered)
    follow_ups(colleague_client, recovered)
    return {"tara": therapist, "wes": wes}


def test_each_row_counts_the_therapists_finished_follow_ups(
    supervisor: User, team: dict[str, User]
) -> None:
    period = dashboard.period_of_days(30)
    rows = {row.pk: row for row in dashboard.therapist_rows(supervisor, period)}
    tara, wes = rows[team["tara"].pk], rows[team["wes"].pk]
    # Tara: 3 recovered of 3 + 1 = 0.75; Wes: 0 of 1.
    assert (tara.repairs_recovered, tara.repairs_not_recovered) == (3, 1)
    assert tara.repair_follow_through == pytest.approx(0.75)
    assert (wes.repairs_recovered, wes.repairs_not_recovered) == (0, 1)
    assert wes.repair_follow_through == 0.0
    # Over 90 days Tara's earlier recovery counts too: 4 of 5.
    rows = {
        row.pk: row for row in dashboard.therapist_rows(supervisor, dashboard.period_of_days(90))
    }
    assert rows[team["tara"].pk].repair_follow_through == pytest.approx(0.8)


def test_the_team_total_is_over_the_teams_repairs(supervisor: User, team: dict[str, User]) -> None:
    totals = dashboard.team_totals(supervisor, dashboard.period_of_days(30))
    # 3 recovered of 3 + 2 = 0.6 (not the mean of 0.75 and 0.0).
    assert (totals["repairs_recovered"], totals["repairs_not_recovered"]) == (3, 2)
    assert totals["repair_follow_through"] == pytest.approx(0.6)
    # The concern counts are not multiplied by the join to the follow-up steps.
    assert (totals["open_concerns"], totals["stale_concerns"]) == (0, 0)


def test_a_therapist_with_no_finished_follow_up_has_no_rate(
    supervisor: User, therapist: User
) -> None:
    [row] = dashboard.therapist_rows(supervisor, dashboard.period_of_days(30))
    assert row.repair_follow_through is None
    totals = dashboard.team_totals(supervisor, dashboard.period_of_days(30))
    assert totals["repair_follow_through"] is None


def test_the_page_shows_the_column_and_the_total_and_sorts_by_it(
    client: Any, supervisor: User, team: dict[str, User]
) -> None:
    client.force_login(supervisor)
    response = client.get(URL)
    html = response.content.decode()
    assert "Repair follow-through" in html
    assert "75%" in html and "(3 of 4)" in html
    assert "60%" in html and "3 of 5 repairs recovered" in html
    descending = client.get(URL, {"sort": "repair_follow_through", "dir": "desc"})
    assert rows_of(descending) == [team["tara"], team["wes"]]
    ascending = client.get(URL, {"sort": "repair_follow_through"})
    assert rows_of(ascending) == [team["wes"], team["tara"]]
