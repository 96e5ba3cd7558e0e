"""How the team's concerns were closed: who sees which, which count, and every figure.

The page answers one question for a supervisor: of the concerns closed in the
period, how many led to a repair and how many were dismissed — over the team, by
the rule that opened them and by therapist. The figures are checked against
concerns built by hand, with the arithmetic beside each assertion.
"""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
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
from measures.models import Concern, Flag
from measures.review import concern_dismiss
from measures.tests.factories import ConcernFactory, erased
from measures.tests.racing import committed_after_first, is_grouped_count
from reports import dashboard
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

URL = reverse("reports:precision")
RESOLVED, DISMISSED = Concern.Status.RESOLVED, Concern.Status.DISMISSED
RELIABLE_DROP, BELOW_CUTOFF = Flag.Rule.RELIABLE_DROP, Flag.Rule.BELOW_CUTOFF
NOTHING_CLOSED = "No concern was closed in this period."
HEADINGS = ["All concerns", "By the rule that opened them", "By therapist"]

# Two whole weeks just after the clocks went forward in London (30 March 2025), so
# local midnight is 23:00 UTC the evening before: a period cut in UTC would gain or
# lose the concerns closed at its edges.
FIRST_DAY, LAST_DAY = dt.date(2025, 3, 31), dt.date(2025, 4, 13)
CUSTOM = f"{URL}?period=custom&from={FIRST_DAY}&to={LAST_DAY}"
DAY_BEFORE, DAY_AFTER = FIRST_DAY - dt.timedelta(days=1), LAST_DAY + dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def clinic_time_zone(settings: Any) -> None:
    """The clinic works in London time; pinned so the edge cases below mean what they say."""
    settings.TIME_ZONE = "Europe/London"


def local(day: dt.date, hour: int = 12, minute: int = 0, second: int = 0, micro: int = 0) -> Any:
    """A moment on the clinic's wall clock."""
    return dt.datetime.combine(
        day, dt.time(hour, minute, second, micro), tzinfo=timezone.get_current_timezone()
    )


def ago(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def closed(
    client: Client, closed_at: dt.datetime, status: str = RESOLVED, rule: str = RELIABLE_DROP
) -> Concern:
    """A concern of `client` opened a week before `closed_at`, then resolved or dismissed."""
    opened = closed_at - dt.timedelta(days=7)
    note = "We talked it through." if status == RESOLVED else "A hard week at work."
    return ConcernFactory(
        session=SessionFactory(client=client, starts_at=opened - dt.timedelta(hours=2)),
        status=status,
        opening_rule=rule,
        opened_at=opened,
        acknowledged_at=opened + dt.timedelta(days=1),
        closed_at=closed_at,
        note=note,
    )


def waiting(client: Client, opened_at: dt.datetime, status: str = Concern.Status.OPEN) -> Concern:
    """A concern of `client` still waiting for review (open, or acknowledged)."""
    seen = {"acknowledged_at": opened_at} if status == Concern.Status.ACKNOWLEDGED else {}
    return ConcernFactory(
        session=SessionFactory(client=client, starts_at=opened_at - dt.timedelta(hours=2)),
        status=status,
        opened_at=opened_at,
        **seen,
    )


def tables(response: Any) -> dict[str, list[dashboard.ReviewOutcomes]]:
    """The page's tables as {heading: rows}, from its context."""
    assert [heading for heading, _rows, _first in response.context["tables"]] == HEADINGS
    return {heading: list(rows) for heading, rows, _first in response.context["tables"]}


def figures(row: dashboard.ReviewOutcomes) -> tuple[str, int, int, int]:
    return (row.label, row.closed, row.resolved, row.dismissed)


def shown(response: Any, heading: str) -> list[list[str]]:
    """The text of each cell of each body row of the table under `heading`, tags stripped."""
    html = response.content.decode()
    [section] = re.findall(
        rf'<section[^>]*aria-label="{re.escape(heading)}".*?</section>', html, re.S
    )
    body = section.partition("<tbody>")[2]
    return [
        [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]
        for cells in (
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        )
    ]


def says(response: Any, text: str) -> bool:
    return text in response.content.decode()


# --- Who may look -----------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


@pytest.mark.parametrize("someone", ["therapist", "outsider"])
def test_a_plain_therapist_is_refused(client: Any, someone: str, request: Any) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(URL).status_code == 403


def test_the_page_only_answers_reads(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    assert client.post(URL).status_code == 405


@pytest.fixture
def everyone_closed_one(
    therapist: User,
    client_record: Client,
    colleague_client: Client,
    outsider_client: Client,
) -> None:
    """Tara's client resolved one; Colin's (nobody supervises him) dismissed two; Otto's,
    in the other clinic, resolved three. All ten days ago, inside the default 30 days."""
    closed(client_record, ago(10))
    closed(colleague_client, ago(10), DISMISSED)
    closed(colleague_client, ago(11), DISMISSED)
    for days in (10, 11, 12):
        closed(outsider_client, ago(days))


def test_a_supervisor_sees_only_their_supervisees_concerns(
    client: Any,
    supervisor: User,
    therapist: User,
    colleague: User,
    outsider: User,
    everyone_closed_one: None,
) -> None:
    client.force_login(supervisor)
    response = client.get(URL)
    assert response.status_code == 200
    found = tables(response)
    assert [figures(row) for row in found["All concerns"]] == [("All concerns", 1, 1, 0)]
    assert [figures(row) for row in found["By therapist"]] == [(str(therapist), 1, 1, 0)]
    assert [figures(row) for row in found["By the rule that opened them"]] == [
        ("Reliable drop", 1, 1, 0)
    ]
    assert says(response, str(therapist))
    assert not says(response, str(colleague)) and not says(response, str(outsider))


def test_a_clinic_admin_sees_the_clinics_concerns(
    client: Any, clinic_admin: User, therapist: User, colleague: User, everyone_closed_one: None
) -> None:
    client.force_login(clinic_admin)
    found = tables(client.get(URL))
    # Tara 1 resolved + Colin 2 dismissed; Otto's three are the other clinic's.
    assert [figures(row) for row in found["All concerns"]] == [("All concerns", 3, 1, 2)]
    by_therapist = {figures(row) for row in found["By therapist"]}
    assert by_therapist == {(str(therapist), 1, 1, 0), (str(colleague), 2, 0, 2)}


def test_another_clinics_concerns_never_count(
    client: Any,
    clinic: Any,
    other_clinic: Any,
    outsider: User,
    everyone_closed_one: None,
) -> None:
    # Even a (mis)linked supervision across clinics shows nothing of the other clinic.
    linked = SupervisorFactory(clinic=clinic, username="sam")
    Supervision.objects.bulk_create([Supervision(supervisor=linked, therapist=outsider)])
    client.force_login(linked)
    response = client.get(URL)
    assert all(rows == [] for rows in tables(response).values())
    assert response.content.decode().count(NOTHING_CLOSED) == 3
    # The other clinic's own admin sees Otto's three, and none of Riverside's.
    client.force_login(ClinicAdminFactory(clinic=other_clinic, username="hilda"))
    found = tables(client.get(URL))
    assert [figures(row) for row in found["All concerns"]] == [("All concerns", 3, 3, 0)]
    assert [figures(row) for row in found["By therapist"]] == [(str(outsider), 3, 3, 0)]


def test_an_inactive_therapists_concerns_do_not_count(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    closed(client_record, ago(10))
    therapist.is_active = False
    therapist.save()
    client.force_login(supervisor)
    assert all(rows == [] for rows in tables(client.get(URL)).values())


# --- Which concerns count ------------------------------------------------------------


def test_only_concerns_closed_inside_the_period_count(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    other = ClientFactory(therapist=therapist, label="B.B.")
    # Inside: closed at 00:00 on the first day, and at 23:59 on the last.
    closed(client_record, local(FIRST_DAY, 0, 0))
    closed(client_record, local(LAST_DAY, 23, 59), DISMISSED)
    # Outside: a moment before the first day, and at 00:00 after the last.
    closed(client_record, local(DAY_BEFORE, 23, 59, 59, 999_999))
    closed(client_record, local(DAY_AFTER, 0, 0), DISMISSED)
    # Still waiting, though opened inside the period: never counted.
    waiting(client_record, local(dt.date(2025, 4, 2)))
    waiting(other, local(dt.date(2025, 4, 3)), Concern.Status.ACKNOWLEDGED)

    client.force_login(supervisor)
    response = client.get(CUSTOM)
    assert response.context["period"].start == local(FIRST_DAY, 0, 0)
    [total] = tables(response)["All concerns"]
    assert figures(total) == ("All concerns", 2, 1, 1)
    assert Concern.objects.closed().count() == 4  # the two outside are there, not counted

    # Widening by a day at each end brings in the two left out.
    wider = client.get(f"{URL}?period=custom&from={DAY_BEFORE}&to={DAY_AFTER}")
    [total] = tables(wider)["All concerns"]
    assert figures(total) == ("All concerns", 4, 2, 2)


def test_a_preset_period_counts_concerns_closed_up_to_now(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    today = timezone.localdate()
    closed(client_record, local(today - dt.timedelta(days=6), 0, 0))  # first day of 7: in
    closed(client_record, local(today - dt.timedelta(days=7), 23, 59))  # the day before: out
    closed(client_record, ago(20), DISMISSED)  # in 30, not 7
    closed(client_record, ago(60), DISMISSED)  # in 90 only
    closed(client_record, ago(100))  # in none
    client.force_login(supervisor)
    expected = {"7": (1, 1, 0), "30": (3, 2, 1), "90": (4, 2, 2)}
    for period, (count, resolved, dismissed) in expected.items():
        response = client.get(URL, {"period": period})
        assert response.context["period"].days == int(period)
        [total] = tables(response)["All concerns"]
        assert (total.closed, total.resolved, total.dismissed) == (count, resolved, dismissed)
        assert not response.context["messages"]


# --- The figures --------------------------------------------------------------------


def test_the_share_repaired_is_resolved_over_closed(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    for days, status in [(3, RESOLVED), (5, RESOLVED), (8, RESOLVED), (13, DISMISSED)]:
        closed(client_record, ago(days), status)
    client.force_login(supervisor)
    response = client.get(URL)
    [total] = tables(response)["All concerns"]
    # 3 resolved, 1 dismissed: 4 closed, 3 / 4 = 75% repaired.
    assert figures(total) == ("All concerns", 4, 3, 1)
    assert total.repair_share == pytest.approx(0.75)
    assert shown(response, "All concerns") == [["All concerns", "4", "3", "1", "75%"]]
    assert shown(response, "By therapist") == [[str(therapist), "4", "3", "1", "75%"]]


def test_a_concern_closed_because_its_client_was_erased_is_not_a_dismissal(
    client: Any, supervisor: User, therapist: User, client_record: Client, clinic_admin: User
) -> None:
    """Erasure leaves a concern nobody reviewed to be dismissed without a reason (README
    "The client's rights"): closed because the record takes no more words, not judged an
    alert that needed no repair. Counted as a dismissal it would pull the share repaired
    down for every discharged client the retention erases. One reviewed before still counts."""
    closed(client_record, ago(5), RESOLVED)
    closed(client_record, ago(4), DISMISSED)
    unreviewed = waiting(client_record, ago(3))
    erased(client_record, by=clinic_admin)
    unreviewed = Concern.objects.get(pk=unreviewed.pk)  # its client as erased
    concern_dismiss(concern=unreviewed, actor=therapist, reason="")
    client.force_login(supervisor)
    response = client.get(URL)
    [total] = tables(response)["All concerns"]
    # 1 resolved, 1 dismissed with a reason: 2 closed, 50% repaired.
    assert figures(total) == ("All concerns", 2, 1, 1)
    assert [figures(row) for row in tables(response)["By therapist"]] == [(str(therapist), 2, 1, 1)]


@pytest.fixture
def team(
    supervisor: User,
    therapist: User,
    client_record: Client,
    colleague: User,
    colleague_client: Client,
) -> SimpleNamespace:
    """Tara (Young) and Wes (Abbott), both supervised by Sue; each closed some concerns
    in 31 Mar – 13 Apr 2025, opened by different rules. Colin's count nowhere."""
    therapist.last_name = "Young"
    therapist.save()
    wes = TherapistFactory(clinic=therapist.clinic, username="wes", last_name="Abbott")
    Supervision.objects.create(supervisor=supervisor, therapist=wes)
    b = ClientFactory(therapist=therapist, label="B.B.")
    e = ClientFactory(therapist=wes, label="E.E.")

    def on(day: int, hour: int = 12) -> dt.datetime:
        return local(dt.date(2025, 4, day), hour)

    # Tara. Reliable drop: 3 resolved, 1 dismissed. Below the cut-off: 2 dismissed.
    # Rupture not fully talked through: 1 resolved.
    closed(client_record, on(1), RESOLVED, RELIABLE_DROP)
    closed(client_record, on(4), RESOLVED, RELIABLE_DROP)
    closed(b, on(6), RESOLVED, RELIABLE_DROP)
    closed(b, on(9), DISMISSED, RELIABLE_DROP)
    closed(client_record, on(2), DISMISSED, BELOW_CUTOFF)
    closed(b, on(12), DISMISSED, BELOW_CUTOFF)
    closed(b, on(13, 23), RESOLVED, Flag.Rule.RUPTURE_UNRESOLVED)
    # Wes. Reliable drop: 1 dismissed. Disengagement: 1 resolved.
    closed(e, on(3), DISMISSED, RELIABLE_DROP)
    closed(e, on(10), RESOLVED, Flag.Rule.DISENGAGEMENT)
    # Colin (unsupervised): four resolved, in no row.
    for day in (2, 5, 8, 11):
        closed(colleague_client, on(day), RESOLVED, Flag.Rule.DECLINING_TREND)
    # Tara's still waiting: no row.
    waiting(client_record, on(7), Concern.Status.ACKNOWLEDGED)
    return SimpleNamespace(tara=therapist, wes=wes)


def test_the_table_by_rule_names_each_rule_in_words(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    client.force_login(supervisor)
    response = client.get(CUSTOM)
    by_rule = {row.label: row for row in tables(response)["By the rule that opened them"]}
    # Reliable drop: Tara 3 + 1, Wes 0 + 1 → 5 closed, 3 resolved, 2 dismissed, 60%.
    assert {label: figures(row)[1:] for label, row in by_rule.items()} == {
        "Reliable drop": (5, 3, 2),
        "Below the cut-off": (2, 0, 2),
        "Rupture not fully talked through": (1, 1, 0),
        "Disengagement": (1, 1, 0),
    }
    assert by_rule["Reliable drop"].repair_share == pytest.approx(0.6)
    assert by_rule["Below the cut-off"].repair_share == 0
    assert {tuple(row) for row in shown(response, "By the rule that opened them")} == {
        ("Reliable drop", "5", "3", "2", "60%"),
        ("Below the cut-off", "2", "0", "2", "0%"),
        ("Rupture not fully talked through", "1", "1", "0", "100%"),
        ("Disengagement", "1", "1", "0", "100%"),
    }
    html = response.content.decode()
    assert "Declining trend" not in html  # Colin's rule: not Sue's team
    for code in Flag.Rule.values:
        assert code not in html, code


def test_the_table_by_therapist_counts_each_therapists_clients(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    client.force_login(supervisor)
    response = client.get(CUSTOM)
    by_therapist = tables(response)["By therapist"]
    # Tara: 4 + 2 + 1 = 7 closed, 3 + 1 = 4 resolved, 1 + 2 = 3 dismissed → 4/7 ≈ 57%.
    # Wes: 2 closed, 1 resolved, 1 dismissed → 50%. By surname, as every list of staff:
    # Wes Abbott before Tara Young (by first name, Tara came first).
    assert [figures(row) for row in by_therapist] == [
        (str(team.wes), 2, 1, 1),
        (str(team.tara), 7, 4, 3),
    ]
    assert shown(response, "By therapist") == [
        [str(team.wes), "2", "1", "1", "50%"],
        [str(team.tara), "7", "4", "3", "57%"],
    ]


def test_the_total_is_over_the_whole_team(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    client.force_login(supervisor)
    response = client.get(CUSTOM)
    [total] = tables(response)["All concerns"]
    # 7 + 2 = 9 closed, 4 + 1 = 5 resolved, 3 + 1 = 4 dismissed; 5/9 ≈ 56% (not the mean
    # of the therapists' 57% and 50%). Colin's four and Tara's waiting one do not count.
    assert figures(total) == ("All concerns", 9, 5, 4)
    assert total.repair_share == pytest.approx(5 / 9)
    assert shown(response, "All concerns") == [["All concerns", "9", "5", "4", "56%"]]


def test_the_selector_gives_the_same_figures_as_the_page(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    period = dashboard.period_between(FIRST_DAY, LAST_DAY)
    outcomes = dashboard.review_outcomes(supervisor, period)
    client.force_login(supervisor)
    found = tables(client.get(CUSTOM))
    assert [figures(r) for r in outcomes["total"]] == [figures(r) for r in found["All concerns"]]
    assert [figures(r) for r in outcomes["rules"]] == [
        figures(r) for r in found["By the rule that opened them"]
    ]
    assert [figures(r) for r in outcomes["therapists"]] == [
        figures(r) for r in found["By therapist"]
    ]


# --- Empty states and bad periods -------------------------------------------------------


def test_a_period_with_nothing_closed_says_so(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    closed(client_record, ago(100))  # long before the 30 days
    waiting(client_record, ago(3))  # waiting, not closed
    client.force_login(supervisor)
    response = client.get(URL)
    assert response.status_code == 200
    assert all(rows == [] for rows in tables(response).values())
    # Each of the three tables says so, in place of an empty table or a 0% share.
    assert response.content.decode().count(NOTHING_CLOSED) == 3
    assert "<table" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"period": "365"}, "That period is not one we know; showing the last 30 days."),
        ({"period": "week"}, "That period is not one we know; showing the last 30 days."),
        ({"period": "²"}, "That period is not one we know; showing the last 30 days."),
        (
            {"period": "custom", "from": "2025-04-13", "to": "2025-03-31"},
            "The start date is after the end date; showing the last 30 days.",
        ),
        (
            {"period": "custom", "from": "2025-03-31"},
            "Enter both dates as YYYY-MM-DD; showing the last 30 days.",
        ),
        (
            {"period": "custom", "from": "2025-02-30", "to": "2025-03-31"},
            "Enter both dates as YYYY-MM-DD; showing the last 30 days.",
        ),
        (
            {"period": "custom", "from": "2024-01-01", "to": "2025-01-01"},
            "Choose at most a year; showing the last 30 days.",
        ),
    ],
)
def test_a_bad_period_gives_the_dashboards_warning_and_shows_30_days(
    client: Any,
    supervisor: User,
    therapist: User,
    client_record: Client,
    query: dict[str, str],
    message: str,
) -> None:
    closed(client_record, ago(10))  # in the last 30 days
    closed(client_record, ago(40), DISMISSED)  # not
    client.force_login(supervisor)
    response = client.get(URL, query)
    assert response.status_code == 200
    period = response.context["period"]
    assert (period.days, period.last_day) == (30, timezone.localdate())
    [total] = tables(response)["All concerns"]
    assert (total.closed, total.resolved) == (1, 1)
    warnings = [str(m) for m in response.context["messages"]]
    assert warnings == [message]
    assert says(response, message)
    # Word for word what the dashboard says to the same address.
    on_dashboard = client.get(reverse("reports:dashboard"), query)
    assert [str(m) for m in on_dashboard.context["messages"]] == warnings


def test_a_custom_period_is_kept_in_the_form(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    response = client.get(CUSTOM)
    html = response.content.decode()
    assert 'value="2025-03-31"' in html and 'value="2025-04-13"' in html
    assert '<option value="custom" selected>' in html
    assert "Concerns closed 31 Mar 2025 – 13 Apr 2025." in html
    assert not response.context["messages"]


def test_the_dashboard_links_here_with_its_period(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    dashboard_url = reverse("reports:dashboard")
    html = client.get(f"{dashboard_url}?period=custom&from={FIRST_DAY}&to={LAST_DAY}")
    link = f"{URL}?period=custom&amp;from={FIRST_DAY}&amp;to={LAST_DAY}"
    assert f'href="{link}">How concerns were closed</a>' in html.content.decode()
    back = client.get(CUSTOM).content.decode()
    assert f'href="{dashboard_url}">Team dashboard</a>' in back


# --- Cost ---------------------------------------------------------------------------------


def build_team(supervisor: User, therapists: int, concerns_each: int) -> None:
    """`therapists` supervised by `supervisor`, each with a client whose `concerns_each`
    concerns were closed in the last 30 days by every rule, plus one still waiting."""
    rules = Flag.Rule.values
    for n in range(therapists):
        therapist = TherapistFactory(clinic=supervisor.clinic)
        Supervision.objects.create(supervisor=supervisor, therapist=therapist)
        record = ClientFactory(therapist=therapist)
        for k in range(concerns_each):
            status = RESOLVED if (n + k) % 3 else DISMISSED
            closed(record, ago(1 + k % 25), status, rules[(n + k) % len(rules)])
        waiting(record, ago(2))


# Measured at the small size: the session and the user, the team's names, the table by
# rule, the table by therapist, the totals.
PRECISION_QUERIES = 6


@pytest.mark.parametrize(("therapists", "concerns_each"), [(2, 3), (12, 25)])
def test_the_page_costs_the_same_queries_at_any_size(
    client: Any,
    supervisor: User,
    django_assert_num_queries: Any,
    therapists: int,
    concerns_each: int,
) -> None:
    build_team(supervisor, therapists, concerns_each)
    client.force_login(supervisor)
    with django_assert_num_queries(PRECISION_QUERIES):
        response = client.get(URL)
    found = tables(response)
    [total] = found["All concerns"]
    assert total.closed == therapists * concerns_each
    assert len(found["By therapist"]) == therapists
    assert sum(row.closed for row in found["By the rule that opened them"]) == total.closed


# --- Whose review it was -------------------------------------------------------------


def test_a_review_counts_for_the_therapist_who_closed_it_after_the_client_moves_on(
    client: Any,
    supervisor: User,
    clinic_admin: User,
    therapist: User,
    colleague: User,
    client_record: Client,
) -> None:
    """Tara resolved a concern, then her client moved to Colin, whom Sue does not
    supervise: the repair is still Tara's work, in Sue's team; not Colin's, whose
    supervisors would otherwise be shown a review he never did."""
    concern = closed(client_record, ago(10))
    Concern.objects.filter(pk=concern.pk).update(closed_by=therapist)
    Client.objects.filter(pk=client_record.pk).update(therapist=colleague)
    client.force_login(supervisor)
    found = tables(client.get(URL))
    assert [figures(row) for row in found["All concerns"]] == [("All concerns", 1, 1, 0)]
    assert [figures(row) for row in found["By therapist"]] == [(str(therapist), 1, 1, 0)]
    client.force_login(clinic_admin)
    found = tables(client.get(URL))
    assert [figures(row) for row in found["By therapist"]] == [(str(therapist), 1, 1, 0)]


def test_a_colleague_moved_to_another_clinic_brings_no_count_of_the_one_they_left(
    client: Any,
    other_clinic: Any,
    therapist: User,
    client_record: Client,
) -> None:
    """Tara closed a concern at Riverside, then a superuser moved her to the other
    clinic: its admin is shown nothing of Riverside's clients, counts included."""
    concern = closed(client_record, ago(10))
    Concern.objects.filter(pk=concern.pk).update(closed_by=therapist)
    User.objects.filter(pk=therapist.pk).update(clinic=other_clinic)
    client.force_login(ClinicAdminFactory(clinic=other_clinic, username="hilda"))
    assert all(rows == [] for rows in tables(client.get(URL)).values())


# --- One moment ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_concern_closed_while_the_page_counts_is_in_all_its_tables_or_none(
    postgresql: None, supervisor: User, therapist: User, client_record: Client
) -> None:
    """The three tables read the database as the first found it: a concern another
    request closes between the count by rule and the total is in neither (on READ
    COMMITTED the total said 2 beneath rules adding up to 1)."""
    closed(client_record, ago(10))
    later = waiting(ClientFactory(therapist=therapist), ago(5), Concern.Status.ACKNOWLEDGED)
    period = dashboard.period_of_days(30)

    def another_request() -> None:  # committed at once
        Concern.objects.filter(pk=later.pk).update(
            status=RESOLVED, closed_at=ago(1), closed_by=therapist, note="Talked it through."
        )

    with committed_after_first(another_request, is_grouped_count) as landed:
        during = dashboard.review_outcomes(supervisor, period)
    after = dashboard.review_outcomes(supervisor, period)

    assert landed  # it landed after the first count
    counted = [sum(row.closed for row in during[table]) for table in during]
    assert counted == [1, 1, 1]  # by rule, by therapist, in all
    assert after["total"][0].closed == 2
