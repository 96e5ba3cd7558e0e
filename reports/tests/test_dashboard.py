"""The supervisor's team dashboard: who sees which therapists, and every number on it.

The numbers are checked against a small team built by hand, with the arithmetic
written beside each assertion, so a wrong join or a wrong time zone shows up as
a wrong number rather than as a shrug.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from clients.models import Client, Supervision, User
from clients.tests.factories import ClientFactory, SupervisorFactory, TherapistFactory
from measures.detection import evaluate_clients
from measures.models import Concern, Flag, OutcomeAnswer, Rating, copy_ratings_to_sessions
from measures.tests.factories import ConcernFactory, RatingFactory, built_in_check, evaluated
from measures.tests.racing import committed_after_first, is_grouped_count
from reports import dashboard
from sessions.models import Session
from sessions.services import session_update
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

URL = reverse("reports:dashboard")
DIMENSIONS = ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"]
ATTENDED, CANCELLED, NO_SHOW = "attended", "cancelled", "no_show"

# The hand-built period: two whole weeks just after the clocks went forward in
# London (30 March 2025), so local midnight is 23:00 UTC the evening before and a
# period computed in UTC would gain or lose the edge sessions.
FIRST_DAY, LAST_DAY = dt.date(2025, 3, 31), dt.date(2025, 4, 13)
CUSTOM = f"{URL}?period=custom&from={FIRST_DAY}&to={LAST_DAY}"


@pytest.fixture(autouse=True)
def clinic_time_zone(settings: Any) -> None:
    """The clinic works in London time; pinned so the edge cases below mean what they say."""
    settings.TIME_ZONE = "Europe/London"


def local(day: dt.date, hour: int = 12, minute: int = 0, second: int = 0, micro: int = 0) -> Any:
    """A moment on the clinic's wall clock."""
    return dt.datetime.combine(
        day, dt.time(hour, minute, second, micro), tzinfo=timezone.get_current_timezone()
    )


def session(
    client: Client, starts_at: dt.datetime, attendance: str = ATTENDED, **fields: Any
) -> Session:
    return SessionFactory(client=client, starts_at=starts_at, attendance=attendance, **fields)


def rate(session: Session, *scores: int, rater: str = Rating.Rater.CLIENT) -> Rating:
    """A rating of `session`; one score for all six dimensions, or six scores."""
    values = scores * 6 if len(scores) == 1 else scores
    return RatingFactory(session=session, rater=rater, **dict(zip(DIMENSIONS, values, strict=True)))


def concern(
    session: Session,
    *,
    status: str = Concern.Status.OPEN,
    days_old: float = 1,
    severity: str = Concern.Severity.LOW,
    rule: str = Flag.Rule.BELOW_CUTOFF,
) -> Concern:
    """A concern opened at `session` `days_old` days ago, carried to `status` with the
    record the database asks of it (when acknowledged; when closed, and the note)."""
    opened = timezone.now() - dt.timedelta(days=days_old)
    record = {
        Concern.Status.OPEN: {},
        Concern.Status.ACKNOWLEDGED: {"acknowledged_at": opened},
        Concern.Status.RESOLVED: {"closed_at": opened, "note": "We talked it through."},
        Concern.Status.DISMISSED: {"closed_at": opened, "note": "A hard week at work."},
    }[status]
    return ConcernFactory(
        session=session,
        status=status,
        opened_at=opened,
        severity=severity,
        opening_rule=rule,
        **record,
    )


def rows_of(response: Any) -> list[User]:
    return list(response.context["rows"])


def row_html(response: Any, therapist: User) -> str:
    """The table row that links to `therapist`'s caseload."""
    link = reverse("reports:therapist-caseload", args=[therapist.pk])
    [row] = [
        row
        for row in re.findall(r"<tr>.*?</tr>", response.content.decode(), flags=re.S)
        if f'href="{link}"' in row
    ]
    return row


def cells(html: str) -> list[str]:
    """The text of each cell of a row, tags stripped."""
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", html, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in found]


def says(response: Any, text: str) -> bool:
    return text in response.content.decode()


# --- Who may look -----------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


def test_a_plain_therapist_is_refused(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert client.get(URL).status_code == 403


def test_writes_are_not_allowed(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    assert client.post(URL).status_code == 405


def test_a_supervisor_sees_only_their_supervisees(
    client: Any,
    supervisor: User,
    therapist: User,
    colleague: User,
    outsider: User,
    client_record: Client,
    colleague_client: Client,
) -> None:
    client.force_login(supervisor)
    response = client.get(URL)
    assert response.status_code == 200
    assert rows_of(response) == [therapist]
    assert response.context["totals"]["therapists"] == 1
    assert response.context["totals"]["active_clients"] == 1  # R.K. only, not M.P.
    colleague_link = reverse("reports:therapist-caseload", args=[colleague.pk])
    assert not says(response, colleague_link)
    assert not says(response, reverse("reports:therapist-caseload", args=[outsider.pk]))


def test_the_rows_escape_a_therapists_name_and_link_their_caseload_and_reading(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    """The rows are built in Python (`reports.templatetags.table_rows`), not by the
    template's autoescaping: a name is still text, never markup, wherever the row says it."""
    therapist.first_name, therapist.last_name = "<b>Tara</b>", "Young & Co"
    therapist.save()
    visit = session(client_record, timezone.now() - dt.timedelta(days=2))
    rate(visit, 8)
    # The copies the dashboard reads (a rating and a guess copy themselves onto the session).
    Session.objects.filter(pk=visit.pk).update(
        client_score=Decimal("8.0"), guessed_client_score=Decimal("7.0")
    )
    client.force_login(supervisor)
    html = row_html(client.get(URL), therapist)
    assert "&lt;b&gt;Tara&lt;/b&gt;" in html and "<b>" not in html
    assert "Young &amp; Co" in html
    assert reverse("reports:therapist-caseload", args=[therapist.pk]) in html
    assert reverse("reports:therapist-reading", args=[therapist.pk]) in html
    assert "reads their clients" in html and "(1 guess)" in html


def test_a_clinic_admin_sees_every_active_therapist_of_the_clinic(
    client: Any,
    clinic_admin: User,
    therapist: User,
    colleague: User,
    supervisor: User,
    outsider: User,
    outsider_client: Client,
) -> None:
    therapist.last_name, colleague.last_name = "Young", "Abbott"
    therapist.save()
    colleague.save()
    TherapistFactory(clinic=therapist.clinic, username="gone", is_active=False)
    client.force_login(clinic_admin)
    response = client.get(URL)
    assert response.status_code == 200
    # Sorted by surname; the supervisor and the admin are not therapists, so no rows.
    assert rows_of(response) == [colleague, therapist]
    assert response.context["totals"]["therapists"] == 2
    assert response.context["totals"]["active_clients"] == 0  # Z.Z. is the other clinic's


def test_the_other_clinics_therapist_never_appears(
    client: Any, outsider: User, outsider_client: Client, other_clinic: Any, clinic: Any
) -> None:
    linked = SupervisorFactory(clinic=clinic, username="sam")
    # Even a (mis)linked supervision across clinics shows nothing of the other clinic.
    Supervision.objects.bulk_create([Supervision(supervisor=linked, therapist=outsider)])
    concern(session(outsider_client, timezone.now() - dt.timedelta(days=2)), days_old=10)
    client.force_login(linked)
    response = client.get(URL)
    assert rows_of(response) == []
    assert list(response.context["attention"]) == []
    assert not says(response, "Z.Z.")


def test_inactive_therapists_do_not_appear(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    concern(session(client_record, timezone.now() - dt.timedelta(days=2)), days_old=10)
    therapist.is_active = False
    therapist.save()
    client.force_login(supervisor)
    response = client.get(URL)
    assert rows_of(response) == []
    assert response.context["totals"]["therapists"] == 0
    assert response.context["totals"]["active_clients"] == 0
    assert response.context["totals"]["open_concerns"] == 0
    assert response.context["totals"]["stale_concerns"] == 0
    assert list(response.context["attention"]) == []


# --- The numbers, on a hand-built team ----------------------------------------


@pytest.fixture
def team(
    supervisor: User,
    therapist: User,
    client_record: Client,
    colleague: User,
    colleague_client: Client,
) -> SimpleNamespace:
    """Tara (Young) and Wes (Abbott), both supervised by Sue, over 31 Mar – 13 Apr 2025.

    The colleague (Colin, not supervised) has a busy caseload that must count nowhere.
    """
    therapist.last_name = "Young"
    therapist.save()
    wes = TherapistFactory(clinic=therapist.clinic, username="wes", last_name="Abbott")
    Supervision.objects.create(supervisor=supervisor, therapist=wes)

    a = client_record  # R.K., active
    b = ClientFactory(therapist=therapist, label="B.B.")
    c = ClientFactory(therapist=therapist, label="C.C.", status=Client.Status.DISCHARGED)
    d = ClientFactory(therapist=therapist, label="D.D.")  # active, never rated
    e = ClientFactory(therapist=wes, label="E.E.")

    day_before = FIRST_DAY - dt.timedelta(days=1)
    day_after = LAST_DAY + dt.timedelta(days=1)
    # Tara's sessions. In the period: 1, 3, 5, 6, 7, 8, 9, 10.
    s1 = session(a, local(FIRST_DAY, 0, 0))  # 00:00 on the first day: counts
    rate(s1, 10)
    s2 = session(a, local(day_before, 23, 59, 59, 999_999))  # a moment before: does not
    rate(s2, 4)
    s3 = session(a, local(LAST_DAY, 23, 59))  # late on the last day: counts
    rate(s3, 10, 10, 10, 9, 9, 9)  # 57 / 6 = 9.5, A's latest client score
    rate(s3, 3, rater=Rating.Rater.THERAPIST)  # the therapist's view is not the client's
    s4 = session(a, local(day_after, 0, 0))  # 00:00 after the last day: does not
    s5 = session(b, local(dt.date(2025, 4, 2), 10))
    rate(s5, 7)  # 7.0, B's latest client score
    s6 = session(b, local(dt.date(2025, 4, 5), 10))
    rate(s6, 9, rater=Rating.Rater.THERAPIST)  # attended, rated only by the therapist
    s7 = session(b, local(dt.date(2025, 4, 8), 10), NO_SHOW)
    s8 = session(c, local(dt.date(2025, 4, 3), 10))  # discharged since, but held in the period
    rate(s8, 3)  # C is discharged: not in the mean of latest scores
    s9 = session(d, local(dt.date(2025, 4, 9), 10), CANCELLED)  # 9: cancelled
    # Tara covers one of Wes's client's sessions: held by Tara, so hers.
    s10 = session(e, local(dt.date(2025, 4, 10), 10), CANCELLED, therapist=therapist)

    # Wes's sessions, both in the period.
    s11 = session(e, local(dt.date(2025, 4, 1), 10))
    rate(s11, 6)  # 6.0, E's latest client score
    s12 = session(e, local(dt.date(2025, 4, 7), 10))

    # Concerns, as of now (at most one waiting per client). Tara: 3 to review (two open,
    # one acknowledged), 1 stale; the closed ones count nowhere.
    concern(s1, days_old=8)  # A, open 8 days: to review, and stale
    concern(s9, days_old=6)  # D, open 6 days: to review, not yet stale
    concern(s5, status=Concern.Status.ACKNOWLEDGED, days_old=20)  # B: to review only
    concern(s6, status=Concern.Status.RESOLVED, days_old=30)  # B's earlier one: done
    concern(s7, status=Concern.Status.DISMISSED, days_old=25)  # and another: done
    concern(s8, status=Concern.Status.DISMISSED, days_old=30)  # C: done
    concern(s2, status=Concern.Status.RESOLVED, days_old=40)  # A's earlier one: done
    # Wes: 1 to review, stale; 1 resolved. The open one opened at session 10, which Tara
    # held: E is Wes's client, and a concern is the client's therapist's to review.
    concern(s10, days_old=10)
    concern(s12, status=Concern.Status.RESOLVED, days_old=2)

    # Colin's busy caseload (unsupervised): counts in no row and no total.
    for day in (2, 4, 8):
        noise = session(colleague_client, local(dt.date(2025, 4, day), 9))
        rate(noise, 2)
        concern(noise, status=Concern.Status.DISMISSED, days_old=30)
    concern(noise, days_old=30)  # open a month: would be stale, were it Sue's to see
    evaluated()  # the latest scores, as detection last saw them

    return SimpleNamespace(tara=therapist, wes=wes, a=a, b=b, c=c, d=d, e=e, s4=s4, s2=s2)


def test_the_team_period_is_whole_local_days() -> None:
    period = dashboard.period_between(FIRST_DAY, LAST_DAY)
    # BST is UTC+1: 00:00 on 31 March in London is 23:00 UTC on the 30th.
    assert period.start == dt.datetime(2025, 3, 30, 23, 0, tzinfo=dt.UTC)
    assert period.end == dt.datetime(2025, 4, 13, 23, 0, tzinfo=dt.UTC)
    assert period.last_day == LAST_DAY


def test_each_row_counts_the_therapists_own_numbers(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    client.force_login(supervisor)
    response = client.get(CUSTOM)
    assert response.status_code == 200
    assert response.context["period"].start == local(FIRST_DAY, 0, 0)
    wes, tara = rows_of(response)  # by surname: Abbott, Young

    # Active clients: A, B, D (C is discharged) = 3; Wes: E = 1.
    assert (tara.active_clients, wes.active_clients) == (3, 1)
    # Sessions held by Tara in the period: 1, 3, 5, 6, 7, 8, 9 and the covered 10 = 8
    # (2 is a microsecond before the first day, 4 starts as the period ends).
    # Wes: 11, 12 = 2 (10 was held by Tara).
    assert (tara.sessions, wes.sessions) == (8, 2)
    # Attended: Tara 1, 3, 5, 6, 8 = 5 (7 no-show, 9 and 10 cancelled); client ratings
    # of her sessions in the period: 1, 3, 5, 8 = 4 (6 has only a therapist rating,
    # 2 is outside) → 4 / 5 = 0.8. Wes: 1 rating / 2 attended = 0.5.
    assert (tara.attended, tara.client_ratings) == (5, 4)
    assert tara.response_rate == pytest.approx(0.8)
    assert wes.response_rate == pytest.approx(0.5)
    # Mean latest client score of active clients: A 9.5, B 7.0 (D has none, C is
    # discharged) → (9.5 + 7.0) / 2 = 8.25. Wes: E 6.0.
    assert tara.mean_latest == pytest.approx(8.25)
    assert wes.mean_latest == pytest.approx(6.0)
    # To review: open 8 days, open 6 days, acknowledged = 3; stale: only the 8-day one.
    assert (tara.open_concerns, tara.stale_concerns) == (3, 1)
    assert (wes.open_concerns, wes.stale_concerns) == (1, 1)

    # On the page: 8.25 shows to one decimal, half up → 8.3.
    assert cells(row_html(response, tara))[1:8] == [
        "3",
        "0",
        "8",
        "80%",
        "8.3 (below the cut-off of 9.0)",
        "3",
        "1",
    ]
    assert cells(row_html(response, wes))[1:8] == [
        "1",
        "0",
        "2",
        "50%",
        "6.0 (below the cut-off of 9.0)",
        "1",
        "1",
    ]


def test_the_team_totals_are_over_the_team_not_the_mean_of_the_rows(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    client.force_login(supervisor)
    totals = client.get(CUSTOM).context["totals"]
    assert totals["therapists"] == 2
    assert totals["active_clients"] == 4  # 3 + 1
    assert totals["sessions"] == 10  # 8 + 2
    # (4 + 1) client ratings / (5 + 2) attended = 5/7 ≈ 0.714, not (0.8 + 0.5) / 2 = 0.65.
    assert totals["attended"] == 7
    assert totals["client_ratings"] == 5
    assert totals["response_rate"] == pytest.approx(5 / 7)
    # (9.5 + 7.0 + 6.0) / 3 = 7.5 over the clients, not (8.25 + 6.0) / 2 = 7.125.
    assert float(totals["mean_latest"]) == pytest.approx(7.5)
    assert totals["open_concerns"] == 4  # 3 + 1; Colin's does not count
    assert totals["stale_concerns"] == 2  # 1 + 1


def test_the_totals_show_on_the_page(client: Any, supervisor: User, team: SimpleNamespace) -> None:
    client.force_login(supervisor)
    html = client.get(CUSTOM).content.decode()
    [section] = re.findall(r'<section aria-labelledby="totals-heading".*?</section>', html, re.S)
    figures = re.findall(r'<div class="fs-4">(.*?)</div>', section, re.S)
    shown = [" ".join(re.sub(r"<[^>]+>", " ", figure).split()) for figure in figures]
    # No client is off track. The last two: the repair follow-through (no repair's
    # follow-up finished) and the typical guess gap (no guesses), so dashes.
    assert shown == [
        "2",
        "4",
        "0",
        "10",
        "71%",
        "7.5 (below the cut-off of 9.0)",
        "4",
        "2",
        "—",
        "— no guesses in this period",
    ]


def test_the_response_rate_is_a_dash_without_attended_sessions(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    session(client_record, local(dt.date(2025, 4, 2)), CANCELLED)
    client.force_login(supervisor)
    response = client.get(CUSTOM)
    [row] = rows_of(response)
    assert (row.sessions, row.attended, row.response_rate) == (1, 0, None)
    assert response.context["totals"]["response_rate"] is None
    assert cells(row_html(response, therapist))[4] == "—"


def test_a_rated_session_corrected_to_a_no_show_counts_in_neither_part_of_the_rate(
    supervisor: User, therapist: User, client_record: Client
) -> None:
    """Client ratings ÷ attended sessions: a rating of a session that turned out not to
    have been attended had counted above the line and not below it (200 %)."""
    now = timezone.now()
    for days_ago in (3, 2):
        rated = SessionFactory(client=client_record, starts_at=now - dt.timedelta(days=days_ago))
        RatingFactory(session=rated)
    session_update(
        actor=therapist,
        session=rated,
        starts_at=rated.starts_at,
        duration_minutes=rated.duration_minutes,
        attendance=Session.Attendance.NO_SHOW,
        modality=rated.modality,
        notes="",
    )
    numbers = dashboard.team_numbers(supervisor, dashboard.period_of_days(30))
    [row] = numbers.rows
    assert (row.client_ratings, row.attended, row.response_rate) == (1, 1, 1)
    assert numbers.totals["response_rate"] == 1


def test_the_boundary_sessions_move_with_the_period(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    """Widening by one day at each end brings in the two sessions left out before."""
    client.force_login(supervisor)
    wider = f"{URL}?period=custom&from=2025-03-30&to=2025-04-14"
    wes, tara = rows_of(client.get(wider))
    assert wes.sessions == 2  # Wes had nothing at either edge
    assert tara.sessions == 8 + 2  # 2 (23:59:59.999999 on the 30th) and 4 (00:00 on the 14th)
    assert tara.client_ratings == 4 + 1  # 2 was rated by the client; 4 was not
    assert tara.attended == 5 + 2


def concerns_of_every_age_and_status(therapist: User) -> None:
    """Five of `therapist`'s clients, each with one concern (one waiting per client)."""
    now = timezone.now()
    for days, status in [
        (8, Concern.Status.OPEN),
        (6, Concern.Status.OPEN),
        (30, Concern.Status.ACKNOWLEDGED),
        (30, Concern.Status.RESOLVED),
        (30, Concern.Status.DISMISSED),
    ]:
        record = ClientFactory(therapist=therapist)
        concern(session(record, now - dt.timedelta(days=days)), status=status, days_old=days)


def test_the_stale_threshold_is_a_week_of_being_left_open(
    supervisor: User, therapist: User
) -> None:
    # Open 8 days: stale. Open 6 days: not yet. Acknowledged 30 days: seen, so not
    # stale. Resolved and dismissed: neither to review nor stale.
    concerns_of_every_age_and_status(therapist)
    [row] = dashboard.therapist_rows(supervisor, dashboard.period_of_days(30))
    assert (row.open_concerns, row.stale_concerns) == (3, 1)
    totals = dashboard.team_totals(supervisor, dashboard.period_of_days(30))
    assert (totals["open_concerns"], totals["stale_concerns"]) == (3, 1)


def test_the_stale_threshold_follows_the_escalation_setting(
    supervisor: User, therapist: User, settings: Any
) -> None:
    settings.ALLIANCE_ESCALATE_AFTER_DAYS = 5
    concerns_of_every_age_and_status(therapist)
    # Now the 6-day one is stale too; the acknowledged one still is not.
    [row] = dashboard.therapist_rows(supervisor, dashboard.period_of_days(30))
    assert (row.open_concerns, row.stale_concerns) == (3, 2)
    totals = dashboard.team_totals(supervisor, dashboard.period_of_days(30))
    assert (totals["open_concerns"], totals["stale_concerns"]) == (3, 2)


@pytest.mark.parametrize(
    ("days", "label"), [(7, "Unacknowledged > 7 days"), (1, "Unacknowledged > 1 day")]
)
def test_the_page_names_the_stale_column_after_the_escalation_setting(
    client: Any, supervisor: User, settings: Any, days: int, label: str
) -> None:
    settings.ALLIANCE_ESCALATE_AFTER_DAYS = days
    client.force_login(supervisor)
    page = client.get(reverse("reports:dashboard")).content.decode()
    # The team's total and the table's sortable heading.
    assert page.count(escape(label)) == 2


# --- Weekly sparkline -----------------------------------------------------------


def test_the_sparkline_has_one_value_per_local_week_with_client_ratings(
    therapist: User, client_record: Client, colleague: User, colleague_client: Client
) -> None:
    now = local(dt.date(2025, 4, 24), 12)  # a Thursday; 12 weeks back is 30 Jan
    # Week of Mon 31 Mar: Tue 10 and Sun 8 → (10 + 8) / 2 = 9.0. Sunday 23:30 BST is
    # 22:30 UTC, Monday 00:30 BST is Sunday 23:30 UTC: by UTC weeks all three would
    # fall in one week.
    rate(session(client_record, local(dt.date(2025, 4, 1), 10)), 10)
    rate(session(client_record, local(dt.date(2025, 4, 6), 23, 30)), 8)
    # Week of Mon 7 Apr: 6.0, and the therapist's own rating does not count.
    monday = session(client_record, local(dt.date(2025, 4, 7), 0, 30))
    rate(monday, 6)
    rate(monday, 10, rater=Rating.Rater.THERAPIST)
    # Week of 14 Apr: no ratings, so no value. Week of 21 Apr: 9, 9, 9, 9, 10, 10 = 56/6 → 9.3.
    rate(session(client_record, local(dt.date(2025, 4, 14), 10), NO_SHOW), 1, rater="therapist")
    rate(session(client_record, local(dt.date(2025, 4, 22), 10)), 9, 9, 9, 9, 10, 10)
    # More than 12 weeks before `now`: left out.
    rate(session(client_record, local(dt.date(2025, 1, 20), 10)), 2)
    # Another therapist's ratings are theirs.
    rate(session(colleague_client, local(dt.date(2025, 4, 2), 10)), 3)

    lines = dashboard.weekly_means([therapist.pk, colleague.pk], now=now)
    assert lines[therapist.pk] == [Decimal("9.0"), Decimal("6.0"), Decimal("9.3")]
    assert lines[colleague.pk] == [Decimal("3.0")]


def test_the_weekly_line_has_twelve_whole_weeks_this_one_included(
    therapist: User, client_record: Client
) -> None:
    """Twelve weeks back from a Wednesday began mid-week: its part of a week made a 13th
    point. The line starts on the Monday 11 weeks before this week's."""
    now = local(dt.date(2025, 6, 18), 15)  # a Wednesday
    first_monday = local(dt.date(2025, 3, 31), 0)
    for days in range(0, 7 * 13, 2):  # a rated session every other day for 13 weeks
        rate(session(client_record, now - dt.timedelta(days=days, hours=1)), 9 if days else 7)
    before_it = session(client_record, first_monday - dt.timedelta(minutes=1))
    rate(before_it, 2)  # Sunday 23:59 before that Monday: the week before, left out
    rate(session(client_record, first_monday), 9)
    line = dashboard.weekly_means([therapist.pk], now=now)[therapist.pk]
    assert len(line) == 12
    assert line[0] == Decimal("9.0") and line[-1] == Decimal("8.0")  # (7 + 9) / 2 this week


def test_the_sparkline_shows_on_the_dashboard(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    today = timezone.localdate()
    this_monday = today - dt.timedelta(days=today.weekday())
    rate(session(client_record, local(this_monday - dt.timedelta(weeks=2), 12)), 10)
    rate(session(client_record, local(this_monday - dt.timedelta(weeks=1), 12)), 8)
    client.force_login(supervisor)
    response = client.get(URL)
    [row] = rows_of(response)
    assert row.sparkline == [Decimal("10.0"), Decimal("8.0")]
    assert 'aria-label="Last 2 client scores: 10.0, 8.0"' in row_html(response, therapist)


# --- Clients needing attention --------------------------------------------------


def test_clients_needing_attention_are_their_concerns_most_severe_first_then_oldest(
    client: Any,
    supervisor: User,
    therapist: User,
    colleague_client: Client,
) -> None:
    def client_with(label: str, *concerns: tuple[str, str, float]) -> Client:
        record = ClientFactory(therapist=therapist, label=label)
        for severity, status, days_old in concerns:
            concern(
                session(record, timezone.now() - dt.timedelta(days=days_old)),
                severity=severity,
                status=status,
                days_old=days_old,
            )
        return record

    open_, seen = Concern.Status.OPEN, Concern.Status.ACKNOWLEDGED
    resolved, dismissed = Concern.Status.RESOLVED, Concern.Status.DISMISSED
    lowly = client_with("Lowly", ("low", open_, 40))
    recent_medium = client_with("Recent medium", ("medium", open_, 10))
    # An older high concern, closed: only the one waiting counts, and the client once.
    old_medium = client_with("Old medium", ("high", resolved, 60), ("medium", seen, 20))
    newest_high = client_with("Newest high", ("low", dismissed, 30), ("high", open_, 1))
    client_with("All done", ("high", resolved, 50), ("medium", dismissed, 60))
    concern(session(colleague_client, timezone.now()), severity="high", days_old=90)

    client.force_login(supervisor)
    response = client.get(URL)
    attention = list(response.context["attention"])
    # High before medium even though newer; within medium, 20 days before 10; low last.
    # "All done" has only closed concerns; Colin's client is not Sue's to see.
    assert all(isinstance(item, Concern) for item in attention)
    assert [item.client for item in attention] == [newest_high, old_medium, recent_medium, lowly]
    assert [(item.severity, item.status) for item in attention] == [
        ("high", "open"),
        ("medium", "acknowledged"),
        ("medium", "open"),
        ("low", "open"),
    ]
    html = response.content.decode()
    positions = [html.index(f">{item.client.label}</a>") for item in attention]
    assert positions == sorted(positions)
    for item in attention:
        assert f'href="{reverse("measures:concern-detail", args=[item.pk])}"' in html
    assert "All done" not in html and "M.P." not in html


def test_the_attention_list_stops_at_twenty_keeping_the_most_severe_and_oldest(
    client: Any, supervisor: User, therapist: User
) -> None:
    def waiting(days_old: float, severity: str) -> Concern:
        record = ClientFactory(therapist=therapist)
        when = timezone.now() - dt.timedelta(days=days_old)
        return concern(session(record, when), severity=severity, days_old=days_old)

    lows = {days: waiting(days, "low") for days in range(1, 22)}  # 21 low, 1 to 21 days old
    high = waiting(0.5, "high")  # the newest of all, and the most severe
    client.force_login(supervisor)
    attention = list(client.get(URL).context["attention"])
    # 22 waiting: the high one first, then the lows oldest first; the two newest lows
    # (1 and 2 days old) fall past the twentieth place.
    assert len(attention) == dashboard.ATTENTION_LIMIT == 20
    assert attention == [high, *(lows[days] for days in range(21, 2, -1))]


def test_a_cut_attention_list_says_more_are_waiting(
    client: Any, supervisor: User, therapist: User
) -> None:
    """Twenty listed of thirty waiting read as the team's every concern: the list says when
    it stops short, and only then."""
    for days_old in range(1, dashboard.ATTENTION_LIMIT + 1):
        record = ClientFactory(therapist=therapist)
        concern(session(record, timezone.now() - dt.timedelta(days=days_old)), days_old=days_old)
    client.force_login(supervisor)
    response = client.get(URL)
    assert len(response.context["attention"]) == 20
    assert not says(response, "more are waiting")
    record = ClientFactory(therapist=therapist)
    concern(session(record, timezone.now()), days_old=0.5)
    response = client.get(URL)
    assert len(response.context["attention"]) == 20
    assert says(
        response,
        "Only the 20 most severe, then oldest, are listed: more are waiting. Each "
        "therapist’s row counts theirs under Concerns to review.",
    )


def test_with_nothing_waiting_the_attention_list_says_so(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    concern(session(client_record, timezone.now()), status=Concern.Status.RESOLVED)
    client.force_login(supervisor)
    response = client.get(URL)
    assert list(response.context["attention"]) == []
    assert says(response, "No client of your team has a concern waiting for review.")


# --- Sorting and periods ----------------------------------------------------------


def test_rows_sort_by_a_column_either_way(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    client.force_login(supervisor)
    # Concerns to review: Tara 3, Wes 1.
    response = client.get(f"{CUSTOM}&sort=open_concerns&dir=desc")
    assert rows_of(response) == [team.tara, team.wes]
    assert 'aria-sort="descending"' in response.content.decode()
    assert rows_of(client.get(f"{CUSTOM}&sort=open_concerns")) == [team.wes, team.tara]
    # Sessions: Tara 8, Wes 2; mean latest: Tara 8.25, Wes 6.0; response: 0.8, 0.5.
    for column in ("sessions", "mean_latest", "response_rate", "active_clients"):
        assert rows_of(client.get(f"{CUSTOM}&sort={column}&dir=desc")) == [team.tara, team.wes]
    # By surname: Abbott, Young; reversed.
    assert rows_of(client.get(f"{CUSTOM}&sort=therapist&dir=desc")) == [team.tara, team.wes]


NAME_ORDER = ("last_name", "first_name", "pk")


@pytest.mark.parametrize("descending", [False, True])
def test_the_therapist_column_sorts_as_the_database_orders_names(
    supervisor: User, therapist: User, descending: bool
) -> None:
    """Rows are sorted in Python, but names in the database's own collation, so the page
    agrees with every other list of staff; descending is that order reversed whole."""
    for first, last in [("Ann", "de Vries"), ("Bo", "Dawson"), ("Al", "Dawson"), ("Cy", "abbott")]:
        colleague = TherapistFactory(clinic=therapist.clinic, first_name=first, last_name=last)
        Supervision.objects.create(supervisor=supervisor, therapist=colleague)
    order = [F(name).desc() if descending else F(name).asc() for name in NAME_ORDER]
    expected = list(User.objects.overseen_by(supervisor).order_by(*order))
    period = dashboard.period_of_days(30)
    assert dashboard.therapist_rows(supervisor, period, "therapist", descending) == expected


def test_sorting_by_therapist_again_reverses_first_names_within_a_surname_too(
    client: Any, clinic: Any
) -> None:
    """README: "Every column sorts (select its heading; again to reverse)": Ann and Bob
    Smith swap places too, on the page and in its CSV."""
    supervisor = SupervisorFactory(clinic=clinic)
    for first, last in (("Ann", "Smith"), ("Bob", "Smith"), ("Cy", "Adams")):
        therapist = TherapistFactory(clinic=clinic, first_name=first, last_name=last)
        Supervision.objects.create(supervisor=supervisor, therapist=therapist)
    client.force_login(supervisor)

    def page(query: str) -> list[str]:
        return [str(row) for row in client.get(f"{URL}{query}").context["rows"]]

    def csv_names(query: str) -> list[str]:
        response = client.get(f"{reverse('reports:dashboard-csv')}{query}")
        lines = b"".join(response.streaming_content).decode().splitlines()[1:]
        return [line.split(",")[0] for line in lines]

    ascending = ["Cy Adams", "Ann Smith", "Bob Smith"]
    assert page("?sort=therapist") == csv_names("?sort=therapist") == ascending
    descending = "?sort=therapist&dir=desc"
    assert page(descending) == csv_names(descending) == ascending[::-1]


def test_rows_sort_by_unacknowledged_concerns(
    client: Any, supervisor: User, team: SimpleNamespace
) -> None:
    client.force_login(supervisor)
    # One stale each: tied, so by surname either way (Abbott, Young).
    for direction in ("asc", "desc"):
        response = client.get(f"{CUSTOM}&sort=stale_concerns&dir={direction}")
        assert rows_of(response) == [team.wes, team.tara]
    # A second client of Tara's left open nine days: Tara 2, Wes 1.
    concern(session(ClientFactory(therapist=team.tara), timezone.now()), days_old=9)
    response = client.get(f"{CUSTOM}&sort=stale_concerns&dir=desc")
    assert [row.stale_concerns for row in rows_of(response)] == [2, 1]
    assert rows_of(response) == [team.tara, team.wes]
    assert rows_of(client.get(f"{CUSTOM}&sort=stale_concerns")) == [team.wes, team.tara]


def test_rows_without_a_value_sort_last_either_way(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    rate(session(client_record, local(dt.date(2025, 4, 2))), 9)
    evaluated()
    unrated = TherapistFactory(clinic=therapist.clinic, username="una")
    Supervision.objects.create(supervisor=supervisor, therapist=unrated)
    client.force_login(supervisor)
    for direction in ("asc", "desc"):
        response = client.get(f"{CUSTOM}&sort=mean_latest&dir={direction}")
        assert rows_of(response) == [therapist, unrated]


@pytest.mark.parametrize("column", ["password", "open_flags", "stale_flags"])
def test_an_unknown_sort_column_falls_back_to_the_therapist(
    client: Any, supervisor: User, team: SimpleNamespace, column: str
) -> None:
    """The old flag columns are gone: a bookmark that sorts by them is told so."""
    client.force_login(supervisor)
    response = client.get(f"{URL}?sort={column}")
    assert response.status_code == 200
    assert response.context["sort"] == "therapist"
    assert rows_of(response) == [team.wes, team.tara]  # by surname: Abbott, Young
    assert says(response, "That column cannot be sorted; sorted by therapist.")


@pytest.mark.parametrize("days", [7, 30, 90])
def test_a_preset_period_is_the_last_days_up_to_today(
    client: Any, supervisor: User, days: int
) -> None:
    client.force_login(supervisor)
    response = client.get(f"{URL}?period={days}")
    period = response.context["period"]
    assert (period.days, period.last_day) == (days, timezone.localdate())
    assert period.start == local(timezone.localdate() - dt.timedelta(days=days - 1), 0, 0)
    assert not response.context["messages"]


def test_a_preset_period_counts_sessions_up_to_now(
    client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    today = timezone.localdate()
    session(client_record, local(today - dt.timedelta(days=6), 0, 0))  # first day of 7: in
    session(client_record, local(today - dt.timedelta(days=7), 23, 59))  # the day before: out
    session(client_record, local(today - dt.timedelta(days=20)))  # in 30, not 7
    client.force_login(supervisor)
    [row] = rows_of(client.get(f"{URL}?period=7"))
    assert row.sessions == 1
    [row] = rows_of(client.get(f"{URL}?period=30"))
    assert row.sessions == 3


@pytest.mark.parametrize("period", ["365", "0", "-7", "week", "²", "٣٠", "30.0", "custom2"])
def test_an_unknown_period_falls_back_to_30_days(
    client: Any, supervisor: User, period: str
) -> None:
    client.force_login(supervisor)
    response = client.get(URL, {"period": period})
    assert response.status_code == 200
    assert response.context["period"].days == 30
    assert response.context["period"].last_day == timezone.localdate()
    assert says(response, "That period is not one we know; showing the last 30 days.")


def test_a_custom_period_is_shown_and_kept_in_the_form(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    response = client.get(CUSTOM)
    period = response.context["period"]
    assert period.days is None
    assert (period.start, period.last_day) == (local(FIRST_DAY, 0, 0), LAST_DAY)
    html = response.content.decode()
    assert 'value="2025-03-31"' in html and 'value="2025-04-13"' in html
    assert '<option value="custom" selected>' in html
    assert "31 Mar 2025 – 13 Apr 2025" in html
    assert not response.context["messages"]


def test_a_custom_period_of_a_full_year_is_allowed(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    # 2024 is a leap year: 366 days, first to last.
    response = client.get(f"{URL}?period=custom&from=2024-01-01&to=2024-12-31")
    assert (response.context["period"].days, response.context["period"].last_day) == (
        None,
        dt.date(2024, 12, 31),
    )
    one_day = client.get(f"{URL}?period=custom&from=2024-02-29&to=2024-02-29")
    assert one_day.context["period"].last_day == dt.date(2024, 2, 29)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2025-04-13&to=2025-03-31", "The start date is after the end date"),
        ("from=2025-03-31", "Enter both dates as YYYY-MM-DD"),
        ("to=2025-03-31", "Enter both dates as YYYY-MM-DD"),
        ("from=&to=", "Enter both dates as YYYY-MM-DD"),
        ("from=2024-01-01&to=2025-01-01", "Choose at most a year"),
        ("from=2000-01-01&to=2025-01-01", "Choose at most a year"),
        ("from=2025-02-30&to=2025-03-31", "Enter both dates as YYYY-MM-DD"),
        ("from=yesterday&to=today", "Enter both dates as YYYY-MM-DD"),
        ("from=31/03/2025&to=13/04/2025", "Enter both dates as YYYY-MM-DD"),
        ("from=%F0%9F%93%85&to=2025-04-13", "Enter both dates as YYYY-MM-DD"),
        # The ends of the calendar: no whole local day can be built around them.
        ("from=9999-12-31&to=9999-12-31", "Enter both dates as YYYY-MM-DD"),
        ("from=0001-01-01&to=0001-01-01", "Enter both dates as YYYY-MM-DD"),
    ],
)
def test_a_bad_custom_period_says_so_and_shows_30_days(
    client: Any, supervisor: User, therapist: User, client_record: Client, query: str, message: str
) -> None:
    client.force_login(supervisor)
    response = client.get(f"{URL}?period=custom&{query}")
    assert response.status_code == 200
    period = response.context["period"]
    assert (period.days, period.last_day) == (30, timezone.localdate())
    assert says(response, message)
    assert "showing the last 30 days" in response.content.decode()


@pytest.mark.parametrize("zone", ["Europe/London", "Asia/Tokyo", "America/Los_Angeles"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_ends_of_the_calendar_are_refused_in_any_time_zone(
    client: Any, supervisor: User, settings: Any, zone: str, day: str
) -> None:
    settings.TIME_ZONE = zone
    client.force_login(supervisor)
    response = client.get(f"{URL}?period=custom&from={day}&to={day}")
    assert response.status_code == 200
    assert response.context["period"].days == 30
    assert says(response, "Enter both dates as YYYY-MM-DD")


# --- Empty states ---------------------------------------------------------------


def test_a_supervisor_with_no_supervisees_is_told_how_to_get_some(
    client: Any, clinic: Any, therapist: User
) -> None:
    lonely = SupervisorFactory(clinic=clinic, username="lonely")
    client.force_login(lonely)
    response = client.get(URL)
    assert response.status_code == 200
    assert rows_of(response) == []
    assert says(response, "You supervise nobody yet.")
    assert not says(response, "team-totals")


def test_a_clinic_admin_of_a_clinic_without_therapists_is_told_where_to_add_them(
    client: Any, clinic_admin: User, outsider: User
) -> None:
    client.force_login(clinic_admin)
    response = client.get(URL)
    assert response.status_code == 200
    assert rows_of(response) == []
    assert says(response, "Therapists appear here once they have the therapist role")
    assert not says(response, "You supervise nobody yet")


# --- Cost ---------------------------------------------------------------------------


def build_clinic(clinic: Any, therapists: int, clients_each: int) -> None:
    """`therapists` × `clients_each` clients, each with three sessions (two attended, one
    rated recently), a client and a therapist rating (with a guess of the client's score),
    an outcome answer at each attended session (the latest not on track for every other
    client), a closed concern and one waiting."""
    now = timezone.now()
    staff = User.objects.bulk_create(
        [
            User(
                clinic=clinic,
                username=f"load-{clinic.pk}-{n}",
                last_name=f"Load{n:03}",
                is_therapist=True,
            )
            for n in range(therapists)
        ]
    )
    records = Client.objects.bulk_create(
        [
            Client(clinic=clinic, therapist=t, label=f"L{t.pk}-{n}")
            for t in staff
            for n in range(clients_each)
        ]
    )
    sessions = Session.objects.bulk_create(
        [
            Session(
                client=record,
                therapist=record.therapist,
                number=number,
                starts_at=now - dt.timedelta(days=days),
                attendance=attendance,
            )
            for record in records
            for number, days, attendance in [(1, 40, ATTENDED), (2, 12, NO_SHOW), (3, 5, ATTENDED)]
        ]
    )
    ratings, concerns, answers = [], [], []
    instrument = built_in_check()
    for n, s in enumerate(sessions):
        if s.attendance == ATTENDED:
            ratings.append(
                Rating(session=s, rater="client", **dict.fromkeys(DIMENSIONS, 5 + n % 6))
            )
            behind = s.number == 3 and (n // 3) % 2 == 1  # every other client, lately
            track = "not_on_track" if behind else "on_track"
            answers.append(
                OutcomeAnswer(
                    session=s, instrument=instrument, answers=[6] * 4, score=6, track=track
                )
            )
        if s.number == 1:  # an earlier concern, closed
            concerns.append(
                Concern(
                    client=s.client,
                    first_session=s,
                    last_session=s,
                    opening_rule="below_cutoff",
                    severity="low",
                    status=Concern.Status.RESOLVED,
                    opened_at=now - dt.timedelta(days=38),
                    closed_at=now - dt.timedelta(days=30),
                    note="Talked through.",
                )
            )
        if s.number == 3:
            ratings.append(
                Rating(
                    session=s,
                    rater="therapist",
                    guessed_client_score=8,
                    **dict.fromkeys(DIMENSIONS, 9),
                )
            )
            # The concern waiting now: open or acknowledged, of every severity and age.
            status = [Concern.Status.OPEN, Concern.Status.ACKNOWLEDGED][n % 2]
            concerns.append(
                Concern(
                    client=s.client,
                    first_session=s,
                    last_session=s,
                    opening_rule="reliable_drop",
                    severity=["low", "medium", "high"][n % 3],
                    status=status,
                    opened_at=now - dt.timedelta(days=n % 12),
                    acknowledged_at=now if status == Concern.Status.ACKNOWLEDGED else None,
                )
            )
    Rating.objects.bulk_create(ratings)
    copy_ratings_to_sessions(Session.objects.filter(pk__in=[s.pk for s in sessions]))
    Concern.objects.bulk_create(concerns)
    OutcomeAnswer.objects.bulk_create(answers)
    evaluated()


# Measured at the small size: the session and user, the therapists, their counts grouped
# by therapist (clients, sessions, concerns, follow-ups: the rows and the totals both come
# from them), the sparklines, the clients needing attention.
DASHBOARD_QUERIES = 9


@pytest.mark.parametrize(("therapists", "clients_each"), [(2, 5), (20, 30)])
def test_the_dashboard_costs_the_same_queries_at_any_size(
    client: Any,
    clinic_admin: User,
    django_assert_num_queries: Any,
    therapists: int,
    clients_each: int,
) -> None:
    build_clinic(clinic_admin.clinic, therapists, clients_each)
    client.force_login(clinic_admin)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(f"{URL}?sort=open_concerns&dir=desc")
    assert len(response.context["rows"]) == therapists
    assert response.context["totals"]["active_clients"] == therapists * clients_each
    # One concern waiting per client; the closed ones count nowhere.
    assert response.context["totals"]["open_concerns"] == therapists * clients_each
    assert all(row.sparkline for row in response.context["rows"])
    # Every other client's latest answer (at their third session) is not on track.
    assert response.context["totals"]["not_on_track"] == therapists * clients_each // 2
    assert sum(row.not_on_track for row in response.context["rows"]) == (
        therapists * clients_each // 2
    )
    # One guess per client, at the recent session (within the default 30 days).
    assert all(row.guess_gap.guesses == clients_each for row in response.context["rows"])
    assert response.context["totals"]["guess_gap"].guesses == therapists * clients_each
    assert len(response.context["attention"]) == min(therapists * clients_each, 20)


# --- Erased clients ---------------------------------------------------------------------


@pytest.mark.parametrize("counted", [True, False])
def test_an_erased_clients_numbers_count_only_if_the_clinic_keeps_them(
    supervisor: User, therapist: User, client_record: Client, counted: bool
) -> None:
    """An erased client is discharged; whether their sessions and ratings still count in
    the team's numbers is the clinic's setting (keep_numbers_after_erasure). Their concern
    waiting for review counts either way (below)."""
    session = SessionFactory(client=client_record, starts_at=timezone.now() - dt.timedelta(days=3))
    rate(session, 8)
    ConcernFactory(client=client_record)
    Client.objects.filter(pk=client_record.pk).update(
        status=Client.Status.DISCHARGED, excluded_from_statistics=not counted
    )
    period = dashboard.period_of_days(30)
    [row] = dashboard.therapist_rows(supervisor, period)
    totals = dashboard.team_totals(supervisor, period)
    expected = (1, 1, 1) if counted else (0, 0, 1)
    assert (row.sessions, row.client_ratings, row.open_concerns) == expected
    assert (totals["sessions"], totals["client_ratings"], totals["open_concerns"]) == expected
    weeks = dashboard.weekly_means([therapist.pk])
    assert bool(weeks.get(therapist.pk)) is counted


def test_an_erased_clients_concern_still_waiting_is_counted_as_it_is_listed(
    client: Any, supervisor: User, clinic_admin: User, client_record: Client
) -> None:
    """Erasure leaves a concern still open for the treating therapist to dismiss (README
    "The client's rights"): it waits in their review queue, so the dashboard's count, its
    list of clients needing attention and its CSV all have it, whether or not the clinic
    keeps an erased client's numbers. Those numbers are scores and dates (the sessions, the
    ratings, the weekly means); a concern waiting is work still to do, not a statistic."""
    from measures.rights import client_erase

    clinic_admin.clinic.keep_numbers_after_erasure = False
    clinic_admin.clinic.save(update_fields=["keep_numbers_after_erasure"])
    rated = session(client_record, timezone.now() - dt.timedelta(days=10))
    rate(rated, 4)
    waiting = concern(rated, days_old=10)
    Client.objects.filter(pk=client_record.pk).update(status=Client.Status.DISCHARGED)
    erased = client_erase(actor=clinic_admin, client=client_record)
    assert erased.excluded_from_statistics

    client.force_login(supervisor)
    response = client.get(URL)
    [row] = response.context["rows"]
    assert [item.pk for item in response.context["attention"]] == [waiting.pk]
    # Waiting, but not unacknowledged too long: escalation chases no discharged or erased
    # client's concern, and the column counts as escalation does.
    assert (row.open_concerns, row.stale_concerns) == (1, 0)
    totals = response.context["totals"]
    assert (totals["open_concerns"], totals["stale_concerns"]) == (1, 0)
    # Its scores and dates are still left out, as the clinic chose.
    assert (row.sessions, row.client_ratings, row.active_clients) == (0, 0, 0)
    assert row.sparkline == []
    from measures.concern_selectors import review_queue

    assert list(review_queue(supervisor)) == [waiting]  # as their review queue has it
    export = client.get(reverse("reports:dashboard-csv"))
    header, line = b"".join(export.streaming_content).decode().splitlines()
    named = dict(zip(header.split(","), line.split(","), strict=True))
    assert (named["concerns_to_review"], named["sessions"]) == ("1", "0")


# --- A team of hundreds: a page of therapists at a time ---------------------


def paged_team(supervisor: User, count: int) -> list[User]:
    """`count` more supervisees (Aa00, Aa01, …), no clients; the whole team, by surname."""
    people = [
        TherapistFactory(clinic=supervisor.clinic, first_name="T", last_name=f"Aa{n:02}")
        for n in range(count)
    ]
    Supervision.objects.bulk_create(Supervision(supervisor=supervisor, therapist=p) for p in people)
    return list(User.objects.overseen_by(supervisor).order_by("last_name", "first_name", "pk"))


def test_a_large_team_is_shown_a_page_at_a_time(
    client: Any, supervisor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "THERAPISTS_A_PAGE", 2)
    people = paged_team(supervisor, 4)
    assert len(people) == 5  # with the supervisor's own supervisee
    client.force_login(supervisor)
    first = client.get(URL)
    assert rows_of(first) == people[:2]
    assert first.context["totals"]["therapists"] == 5  # the totals are the whole team's
    assert says(first, "Therapists 1–2 of 5")
    assert says(first, 'href="?page=2"')
    assert rows_of(client.get(f"{URL}?page=2")) == people[2:4]
    last = client.get(f"{URL}?page=3")
    assert rows_of(last) == people[4:]
    assert says(last, "Therapists 5–5 of 5") and not says(last, "Next</a>")


@pytest.mark.parametrize(("asked", "shown"), [("99", 3), ("0", 1), ("two", 1), ("-1", 1)])
def test_a_page_past_the_end_or_not_a_number_shows_a_page_that_exists(
    client: Any, supervisor: User, monkeypatch: pytest.MonkeyPatch, asked: str, shown: int
) -> None:
    monkeypatch.setattr(dashboard, "THERAPISTS_A_PAGE", 2)
    paged_team(supervisor, 4)
    client.force_login(supervisor)
    response = client.get(f"{URL}?page={asked}")
    assert response.status_code == 200
    assert response.context["page"].number == shown


def test_pages_follow_the_sort_and_a_new_sort_starts_at_the_first_page(
    client: Any, supervisor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "THERAPISTS_A_PAGE", 2)
    people = paged_team(supervisor, 4)
    client.force_login(supervisor)
    response = client.get(f"{URL}?sort=therapist&dir=desc&page=2")
    assert rows_of(response) == [people[2], people[1]]
    # The page link keeps the order; a column heading drops the page.
    assert says(response, 'href="?sort=therapist&amp;dir=desc&amp;page=3"')
    assert says(response, 'href="?sort=therapist"')
    assert not re.search(r'<th[^>]*><a href="\?[^"]*page=', response.content.decode())


def test_a_page_costs_the_same_queries_as_the_first(
    client: Any,
    supervisor: User,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: Any,
) -> None:
    monkeypatch.setattr(dashboard, "THERAPISTS_A_PAGE", 2)
    paged_team(supervisor, 4)
    client.force_login(supervisor)
    client.get(URL)
    for query in ("page=2", "page=3&sort=guess_gap", "sort=open_concerns&dir=desc&page=2"):
        with django_assert_num_queries(DASHBOARD_QUERIES):
            assert len(rows_of(client.get(f"{URL}?{query}"))) in (1, 2)


@pytest.mark.parametrize(
    "name", ["reports:dashboard", "reports:precision", "reports:audit"], ids=lambda n: n
)
def test_a_preset_period_drops_the_old_custom_dates_from_the_address(
    client: Any, clinic_admin: User, name: str
) -> None:
    """The form sends its from–to dates whatever the period: choosing "Last 7 days" after a
    custom period goes to the address without them (so links and bookmarks carry none)."""
    client.force_login(clinic_admin)
    url = reverse(name)
    response = client.get(f"{url}?period=7&from=2024-01-01&to=2024-02-01&sort=label")
    assert response.status_code == 302 and response["Location"] == f"{url}?period=7&sort=label"
    assert client.get(f"{url}?from=2024-01-01")["Location"] == url  # the default, 30 days
    followed = client.get(response["Location"])
    assert followed.status_code == 200 and b"2024-01-01" not in followed.content
    # A custom period keeps its dates.
    custom = client.get(f"{url}?period=custom&from=2024-01-01&to=2024-02-01")
    assert custom.status_code == 200


# --- One moment ----------------------------------------------------------------------


def _counted(numbers: dashboard.TeamNumbers) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [{name: getattr(row, name) for name in dashboard.COUNTED} for row in numbers.rows]
    return rows, numbers.totals


@pytest.mark.django_db(transaction=True)
def test_a_rating_sent_while_the_dashboard_counts_is_in_all_its_numbers_or_none(
    postgresql: None, supervisor: User, therapist: User, client_record: Client
) -> None:
    """Each count reads the database as the first one found it: a rating committed by
    another request between the clients' count and the sessions' is in neither (the session
    counted as answered while its score was not yet in the mean, on READ COMMITTED)."""
    rate(session(client_record, timezone.now() - dt.timedelta(days=3)), 8)
    evaluated()
    period = dashboard.period_of_days(30)
    before = _counted(dashboard.team_numbers(supervisor, period))

    def another_request() -> None:  # committed at once
        rate(session(client_record, timezone.now() - dt.timedelta(days=1)), 3)
        evaluate_clients([client_record.pk])  # as the worker does, on commit

    with committed_after_first(another_request, is_grouped_count) as landed:
        during = _counted(dashboard.team_numbers(supervisor, period))
    after = _counted(dashboard.team_numbers(supervisor, period))

    assert landed and "clients_client" in landed[0]  # it landed after the clients' count
    assert during == before
    [row] = after[0]
    assert (row["attended"], row["client_ratings"]) == (2, 2)
    assert row["latest_total"] == Decimal(3)  # the new session's score is the latest


@pytest.mark.django_db(transaction=True)
def test_the_list_and_sparklines_are_read_in_the_moment_of_the_counts(
    postgresql: None, client: Any, supervisor: User, therapist: User, client_record: Client
) -> None:
    """A rating and a concern committed by another request while the page is read, after
    its first count: in none of the page, neither counted nor listed nor drawn. Read after
    the counts' snapshot, the list showed a concern "Concerns to review" did not count, and
    the sparkline a rating the mean left out."""
    now = timezone.now()
    rate(session(client_record, now - dt.timedelta(days=15)), 8)
    concern(session(client_record, now - dt.timedelta(days=14)), days_old=14)
    evaluated()
    other = ClientFactory(therapist=therapist, label="N.W.")
    client.force_login(supervisor)

    def shown() -> tuple[int, list[int], list[Decimal]]:
        response = client.get(URL)
        [row] = response.context["rows"]
        attention = [item.pk for item in response.context["attention"]]
        return response.context["totals"]["open_concerns"], attention, row.sparkline

    before = shown()

    def another_request() -> None:  # committed at once
        rate(session(client_record, now - dt.timedelta(minutes=30)), 3)
        concern(session(other, now - dt.timedelta(hours=1)), severity="high", days_old=0)

    with committed_after_first(another_request, is_grouped_count) as landed:
        during = shown()
    after = shown()

    assert landed
    assert before[0] == len(before[1]) == 1
    assert during == before
    assert after[0] == len(after[1]) == 2 and after[2] != before[2]


def test_a_colleague_moved_to_another_clinic_brings_no_numbers_of_the_one_they_left(
    therapist: User, client_record: Client, colleague: User, other_clinic: Any
) -> None:
    """Tara held rated sessions at Riverside; her client went to Colin and a superuser
    moved her to the other clinic. Its dashboard shows her, with none of Riverside's
    sessions, ratings or weekly means: nothing of another clinic's clients is seen."""
    from clients.tests.factories import ClinicAdminFactory

    now = timezone.now()
    rate(session(client_record, now - dt.timedelta(days=3)), 4)
    Client.objects.filter(pk=client_record.pk).update(therapist=colleague)
    User.objects.filter(pk=therapist.pk).update(clinic=other_clinic)
    admin = ClinicAdminFactory(clinic=other_clinic, username="hilda")
    numbers = dashboard.team_numbers(admin, dashboard.period_of_days(30))
    [row] = [row for row in numbers.rows if row.pk == therapist.pk]
    assert (row.sessions, row.attended, row.client_ratings) == (0, 0, 0)
    assert numbers.totals["sessions"] == 0
    assert dashboard.weekly_means([therapist.pk], now=now) == {}


def test_a_discharged_clients_concern_waits_for_review_but_is_not_stale_as_escalation_skips_it(
    supervisor: User, therapist: User
) -> None:
    """Escalation chases no discharged (or erased) client's concern — there is no next
    session to repair in (`measures.notifications`) — and the column says it counts as
    escalation does: the concern waits for review, and is not unacknowledged too long."""
    from measures.notifications import _due_for_escalation

    seen = ClientFactory(therapist=therapist)
    concern(session(seen, timezone.now() - dt.timedelta(days=10)), days_old=10)
    gone = ClientFactory(therapist=therapist)
    concern(session(gone, timezone.now() - dt.timedelta(days=10)), days_old=10)
    Client.objects.filter(pk=gone.pk).update(status=Client.Status.DISCHARGED)
    [row] = dashboard.therapist_rows(supervisor, dashboard.period_of_days(30))
    assert (row.open_concerns, row.stale_concerns) == (2, 1)
    assert _due_for_escalation(timezone.now()).count() == row.stale_concerns
