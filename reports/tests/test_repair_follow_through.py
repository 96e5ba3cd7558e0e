"""The dashboard's repair follow-through: of the repairs whose follow-up finished in the
period, the share after which the alliance came back. Checked on a team built by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from clients.models import Client, Supervision, User
from clients.tests.factories import ClientFactory, ClinicAdminFactory, TherapistFactory
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


# --- Whose repair it was ---------------------------------------------------------------


def repaired_by(client: Client, therapist: User, days_ago: float) -> Concern:
    """A concern of `client` that `therapist` resolved with a repair `days_ago`, as the
    review does it: the concern closed by them and the step in its history."""
    resolved = concern(session(client, timezone.now()), status=Concern.Status.RESOLVED)
    at = timezone.now() - dt.timedelta(days=days_ago)
    Concern.objects.filter(pk=resolved.pk).update(closed_by=therapist, closed_at=at)
    ConcernEventFactory(
        concern=resolved, action=ConcernEvent.Action.RESOLVED, actor=therapist, at=at
    )
    return resolved


def followed_up(repaired: Concern, action: str, days_ago: float) -> None:
    ConcernEventFactory(
        concern=repaired,
        action=action,
        note="",
        evidence={"usual": 9.0, "margin": 1.52, "scores": [9.0], "sessions": [7]},
        at=timezone.now() - dt.timedelta(days=days_ago),
    )


def test_a_repair_follows_the_therapist_who_made_it_when_the_client_moves_on(
    supervisor: User,
    clinic_admin: User,
    therapist: User,
    colleague: User,
    client_record: Client,
) -> None:
    """Tara repaired twice, then her client moved to Colin, whom Sue does not supervise:
    one repair held, the other did not (its concern re-opened, and Colin closed it again).
    Both follow-ups are Tara's, as the precision page counts her repairs, not Colin's,
    whose supervisors would otherwise read of repairs he never made."""
    held = repaired_by(client_record, therapist, days_ago=10)
    failed = repaired_by(client_record, therapist, days_ago=9)
    Client.objects.filter(pk=client_record.pk).update(therapist=colleague)
    followed_up(held, ConcernEvent.Action.RECOVERED, days_ago=3)
    followed_up(failed, ConcernEvent.Action.REOPENED, days_ago=3)
    ConcernEventFactory(
        concern=failed,
        action=ConcernEvent.Action.RESOLVED,
        actor=colleague,
        at=timezone.now() - dt.timedelta(days=1),
    )
    Concern.objects.filter(pk=failed.pk).update(closed_by=colleague)
    period = dashboard.period_of_days(30)
    [tara] = dashboard.therapist_rows(supervisor, period)
    assert (tara.repairs_recovered, tara.repairs_not_recovered) == (1, 1)
    rows = {row.pk: row for row in dashboard.therapist_rows(clinic_admin, period)}
    colin = rows[colleague.pk]
    assert (colin.repairs_recovered, colin.repairs_not_recovered) == (0, 0)
    assert colin.repair_follow_through is None
    totals = dashboard.team_totals(clinic_admin, period)
    assert (totals["repairs_recovered"], totals["repairs_not_recovered"]) == (1, 1)


def test_a_colleague_moved_to_another_clinic_brings_no_repair_of_the_one_they_left(
    therapist: User, colleague: User, client_record: Client, other_clinic: Any
) -> None:
    """Tara repaired at Riverside; her client went to Colin, a superuser moved her to the
    other clinic, and the repair held there after: its dashboard shows none of it."""
    held = repaired_by(client_record, therapist, days_ago=10)
    Client.objects.filter(pk=client_record.pk).update(therapist=colleague)
    User.objects.filter(pk=therapist.pk).update(clinic=other_clinic)
    followed_up(held, ConcernEvent.Action.RECOVERED, days_ago=3)
    admin = ClinicAdminFactory(clinic=other_clinic, username="hilda")
    [tara] = dashboard.therapist_rows(admin, dashboard.period_of_days(30))
    assert (tara.repairs_recovered, tara.repairs_not_recovered) == (0, 0)
