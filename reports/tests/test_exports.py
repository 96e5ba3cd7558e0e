"""The CSV exports: scoped like their pages, the dashboard's numbers, nothing identifying."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from clients.models import AuditAction, AuditEntry, Client, User
from clients.tests.factories import ClientFactory
from measures.models import Concern, Flag
from measures.tests.factories import (
    ConcernFactory,
    OutcomeAnswerFactory,
    RatingFactory,
    evaluated,
)
from reports.exports import LINES_A_CHUNK, csv_lines, spreadsheet_safe
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("reports:dashboard-csv")
DASHBOARD_HEADER = (
    "therapist,active_clients,clients_not_on_track,sessions,attended_sessions,client_ratings,"
    "response_rate,mean_latest_alliance,concerns_to_review,unacknowledged_over_7_days,"
    "repairs_recovered,repairs_not_recovered,repair_follow_through,"
    "typical_guess_gap,guesses_compared,period_start,period_end"
)
RATINGS_HEADER = (
    "client,session,session_date,attendance,modality,rater,"
    "trust,empathy,collaboration,boundaries,growth,respect,"
    "alliance_score,rupture,rupture_resolved,submitted_at"
)


def ratings_url(client: Client) -> str:
    return reverse("reports:client-ratings-csv", args=[client.pk])


def text(response: Any) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8")


def table(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text(response))))


def scores(value: int) -> dict[str, int]:
    return dict.fromkeys(
        ("trust", "empathy", "collaboration", "boundaries", "growth", "respect"), value
    )


def days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@pytest.fixture
def caseload(therapist: User, colleague: User, client_record: Client) -> dict[str, Any]:
    """Tara's month: 3 attended sessions and 1 no-show, 2 client ratings (latest 7.0),
    and a rated session 60 days ago, outside the default 30-day period. Two concerns
    to review (one open 10 days, one acknowledged) and one closed."""
    never_rated = ClientFactory(therapist=therapist, label="A.B.")  # active, never rated
    ClientFactory(therapist=therapist, label="D.C.", status=Client.Status.DISCHARGED)
    old = SessionFactory(client=client_record, starts_at=days_ago(60))
    RatingFactory(session=old, **scores(10))
    first = SessionFactory(client=client_record, starts_at=days_ago(20))
    RatingFactory(session=first, **scores(9))
    RatingFactory(session=first, rater="therapist", **scores(9))  # not a client rating
    SessionFactory(client=client_record, starts_at=days_ago(10), attendance="no_show")
    latest = SessionFactory(client=client_record, starts_at=days_ago(5))
    RatingFactory(session=latest, **scores(7))
    SessionFactory(client=client_record, starts_at=days_ago(2))
    ConcernFactory(session=latest, opened_at=days_ago(10))  # open for 10 days: stale
    ConcernFactory(
        session=old,
        status=Concern.Status.RESOLVED,
        opened_at=days_ago(60),
        closed_at=days_ago(50),
        note="We talked it through.",
    )  # closed: counts nowhere
    # A.B.'s concern opened at a session long before any period the tests ask for.
    ConcernFactory(
        session=SessionFactory(client=never_rated, starts_at=days_ago(200)),
        opening_rule="rupture_unresolved",
        status=Concern.Status.ACKNOWLEDGED,
        acknowledged_at=days_ago(1),
        opened_at=days_ago(19),
    )  # seen: to review, not stale
    colleague_client = ClientFactory(therapist=colleague, label="M.P.")
    SessionFactory(client=colleague_client, starts_at=days_ago(3))
    evaluated()  # the latest scores, as detection last saw them
    return {"first": first}


# --- Access -------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in_from_both_exports(client: Any, client_record: Client) -> None:
    for url in (DASHBOARD, ratings_url(client_record)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("someone", ["outsider", "colleague"])
def test_someone_elses_client_export_is_not_found(
    client: Any, client_record: Client, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(ratings_url(client_record)).status_code == 404


def test_an_unknown_client_export_is_not_found(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert client.get("/clients/999999/ratings.csv").status_code == 404


@pytest.mark.parametrize("someone", ["therapist", "outsider"])
def test_a_plain_therapist_is_refused_the_dashboard_export(
    client: Any, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(DASHBOARD).status_code == 403


@pytest.mark.parametrize("someone", ["therapist", "supervisor", "clinic_admin"])
def test_everyone_who_sees_the_client_may_export_their_ratings(
    client: Any, client_record: Client, someone: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert text(client.get(ratings_url(client_record))).splitlines() == [RATINGS_HEADER]


def test_the_exports_only_answer_reads(
    client: Any, supervisor: User, client_record: Client
) -> None:
    client.force_login(supervisor)
    assert client.post(DASHBOARD).status_code == 405
    assert client.post(ratings_url(client_record)).status_code == 405


def test_a_supervisor_gets_only_their_supervisees(
    client: Any, supervisor: User, therapist: User, colleague: User, caseload: Any
) -> None:
    client.force_login(supervisor)
    assert [row["therapist"] for row in table(client.get(DASHBOARD))] == [str(therapist)]


def test_a_clinic_admin_gets_every_therapist_of_the_clinic(
    client: Any, clinic_admin: User, therapist: User, colleague: User, outsider: User, caseload: Any
) -> None:
    client.force_login(clinic_admin)
    names = {row["therapist"] for row in table(client.get(DASHBOARD))}
    assert names == {str(therapist), str(colleague)}


# --- The dashboard export -----------------------------------------------------


def test_the_dashboard_export_names_its_columns_in_order(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    assert text(client.get(DASHBOARD)).splitlines()[0] == DASHBOARD_HEADER


def test_the_stale_column_is_named_after_the_escalation_delay(
    client: Any, supervisor: User, settings: Any
) -> None:
    settings.ALLIANCE_ESCALATE_AFTER_DAYS = 10
    client.force_login(supervisor)
    header = text(client.get(DASHBOARD)).splitlines()[0].split(",")
    assert "unacknowledged_over_10_days" in header
    assert "unacknowledged_over_7_days" not in header


def test_the_dashboard_export_has_the_hand_counted_numbers(
    client: Any, supervisor: User, caseload: Any
) -> None:
    client.force_login(supervisor)
    [row] = table(client.get(DASHBOARD))
    today = timezone.localdate()
    assert row == {
        "therapist": row["therapist"],
        "active_clients": "2",
        "clients_not_on_track": "0",
        "sessions": "4",
        "attended_sessions": "3",
        "client_ratings": "2",
        "response_rate": "0.667",
        "mean_latest_alliance": "7.0",
        "concerns_to_review": "2",
        "unacknowledged_over_7_days": "1",
        # No repair's follow-up finished: nothing to divide by.
        "repairs_recovered": "0",
        "repairs_not_recovered": "0",
        "repair_follow_through": "",
        # The therapist's rating of the first session gave no guess of the client's score.
        "typical_guess_gap": "",
        "guesses_compared": "0",
        "period_start": (today - dt.timedelta(days=29)).isoformat(),
        "period_end": today.isoformat(),
    }


def test_the_dashboard_export_equals_the_dashboard_page(
    client: Any, clinic_admin: User, caseload: Any
) -> None:
    client.force_login(clinic_admin)
    page = {str(row): row for row in client.get(reverse("reports:dashboard")).context["rows"]}
    exported = table(client.get(DASHBOARD))
    assert [row["therapist"] for row in exported] == list(page)
    for line in exported:
        row = page[line["therapist"]]
        assert line["active_clients"] == str(row.active_clients)
        assert line["clients_not_on_track"] == str(row.not_on_track)
        assert line["sessions"] == str(row.sessions)
        assert line["attended_sessions"] == str(row.attended)
        assert line["client_ratings"] == str(row.client_ratings)
        rate = "" if row.response_rate is None else f"{row.response_rate:.3f}"
        assert line["response_rate"] == rate
        mean = "" if row.mean_latest is None else f"{row.mean_latest:.1f}"
        assert line["mean_latest_alliance"] == mean
        assert line["concerns_to_review"] == str(row.open_concerns)
        assert line["unacknowledged_over_7_days"] == str(row.stale_concerns)
        assert line["repairs_recovered"] == str(row.repairs_recovered)
        assert line["repairs_not_recovered"] == str(row.repairs_not_recovered)
        share = row.repair_follow_through
        assert line["repair_follow_through"] == ("" if share is None else f"{share:.3f}")
        gap = row.guess_gap.typical
        assert line["typical_guess_gap"] == ("" if gap is None else f"{gap:.2f}")
        assert line["guesses_compared"] == str(row.guess_gap.guesses)


def test_a_therapist_with_no_attended_sessions_has_empty_rate_and_mean(
    client: Any, supervisor: User, therapist: User
) -> None:
    client.force_login(supervisor)
    [row] = table(client.get(DASHBOARD))
    assert (row["sessions"], row["response_rate"], row["mean_latest_alliance"]) == ("0", "", "")


def test_the_period_changes_the_counts(client: Any, supervisor: User, caseload: Any) -> None:
    client.force_login(supervisor)
    [row] = table(client.get(DASHBOARD, {"period": "90"}))
    assert (row["sessions"], row["attended_sessions"], row["client_ratings"]) == ("5", "4", "3")
    assert row["response_rate"] == "0.750"
    day = timezone.localtime(caseload["first"].starts_at).date().isoformat()
    response = client.get(DASHBOARD, {"period": "custom", "from": day, "to": day})
    assert response["Content-Disposition"] == (
        f'attachment; filename="alliance-dashboard-{day}-{day}.csv"'
    )
    [row] = table(response)
    assert (row["sessions"], row["client_ratings"], row["response_rate"]) == ("1", "1", "1.000")
    assert (row["period_start"], row["period_end"]) == (day, day)


def test_the_dashboard_export_follows_the_sort(
    client: Any, clinic_admin: User, therapist: User, colleague: User, caseload: Any
) -> None:
    client.force_login(clinic_admin)
    by_sessions = table(client.get(DASHBOARD, {"sort": "sessions", "dir": "desc"}))
    assert [row["therapist"] for row in by_sessions] == [str(therapist), str(colleague)]
    by_sessions = table(client.get(DASHBOARD, {"sort": "sessions"}))
    assert [row["therapist"] for row in by_sessions] == [str(colleague), str(therapist)]


def test_the_dashboard_export_is_an_uncached_attachment(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    response = client.get(DASHBOARD)
    today = timezone.localdate()
    start = (today - dt.timedelta(days=29)).isoformat()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="alliance-dashboard-{start}-{today.isoformat()}.csv"'
    )
    assert "no-store" in response["Cache-Control"]


def test_a_therapist_name_cannot_become_a_formula(
    client: Any, supervisor: User, therapist: User
) -> None:
    therapist.first_name, therapist.last_name = "@SUM(A1:A9)", ""
    therapist.save()
    client.force_login(supervisor)
    [row] = table(client.get(DASHBOARD))
    assert row["therapist"] == "'@SUM(A1:A9)"


# --- The client's ratings -----------------------------------------------------


@pytest.fixture
def rated(client_record: Client) -> Client:
    """Two sessions logged out of date order; the second carries both raters' views."""
    client_record.external_id = "MRN-4471"
    client_record.email = "rk@example.org"
    client_record.save()
    # 23:30 UTC on 1 June is 00:30 on 2 June in London (summer time).
    later = SessionFactory(
        client=client_record,
        number=2,
        starts_at=dt.datetime(2024, 6, 1, 23, 30, tzinfo=dt.UTC),
        modality="video",
        notes="Talked about her brother Daniel's arrest.",
    )
    earlier = SessionFactory(
        client=client_record,
        number=1,
        starts_at=dt.datetime(2024, 5, 25, 10, 0, tzinfo=dt.UTC),
        notes="First meeting at St Mary's.",
    )
    RatingFactory(session=earlier, **scores(10), comment="Lovely, thank you Dr Okafor")
    RatingFactory(
        session=later,
        trust=5,
        empathy=7,
        collaboration=7,
        boundaries=7,
        growth=7,
        respect=7,
        rupture="a_little",
        rupture_resolved="partly",
        comment="My manager Priya at Acme keeps calling.",
        submitted_at=dt.datetime(2024, 6, 1, 23, 45, tzinfo=dt.UTC),
    )
    RatingFactory(session=later, rater="therapist", **scores(9), comment="Missed the tension.")
    SessionFactory(client=client_record, number=3, attendance="no_show")  # no ratings
    return client_record


def test_the_ratings_export_has_both_raters_in_session_order(
    client: Any, therapist: User, rated: Client
) -> None:
    client.force_login(therapist)
    rows = table(client.get(ratings_url(rated)))
    assert [(row["session"], row["rater"]) for row in rows] == [
        ("1", "Client"),
        ("2", "Client"),
        ("2", "Therapist"),
    ]
    assert rows[1] == {
        "client": "R.K.",
        "session": "2",
        "session_date": "2024-06-02",
        "attendance": "Attended",
        "modality": "Video",
        "rater": "Client",
        "trust": "5",
        "empathy": "7",
        "collaboration": "7",
        "boundaries": "7",
        "growth": "7",
        "respect": "7",
        "alliance_score": "6.7",
        "rupture": "A little",
        "rupture_resolved": "Partly",
        "submitted_at": "2024-06-02T00:45:00+01:00",
    }
    assert (rows[0]["alliance_score"], rows[2]["alliance_score"]) == ("10.0", "9.0")
    # No rupture: "None", and the question that follows it left blank.
    assert (rows[0]["rupture"], rows[0]["rupture_resolved"]) == ("None", "")
    assert rows[0]["modality"] == "In person"


# Every stored code of every choice the ratings export writes, and the words it
# writes instead (as the pages say them).
CHOICE_WORDS = {
    "attendance": {"attended": "Attended", "cancelled": "Cancelled", "no_show": "No-show"},
    "modality": {"in_person": "In person", "video": "Video", "phone": "Phone"},
    "rater": {"client": "Client", "therapist": "Therapist"},
    "rupture": {"none": "None", "a_little": "A little", "a_lot": "A lot"},
    "rupture_resolved": {
        "": "",
        "not_at_all": "Not at all",
        "partly": "Partly",
        "fully": "Fully",
    },
}


@pytest.fixture
def every_choice(client_record: Client) -> Client:
    """Ratings covering every attendance, modality, rater, rupture and talked-through answer."""
    ruptures = [
        ("none", ""),
        ("a_little", ""),
        ("a_little", "not_at_all"),
        ("a_lot", "partly"),
        ("a_lot", "fully"),
        ("a_lot", "not_at_all"),
    ]
    attendances = list(CHOICE_WORDS["attendance"])
    modalities = list(CHOICE_WORDS["modality"])
    for n, (rupture, resolved) in enumerate(ruptures):
        session = SessionFactory(
            client=client_record,
            starts_at=days_ago(30 - n),
            attendance=attendances[n % 3],
            modality=modalities[n % 3],
        )
        RatingFactory(session=session, rupture=rupture, rupture_resolved=resolved)
        RatingFactory(session=session, rater="therapist", rupture=rupture, rupture_resolved="")
    return client_record


def test_the_ratings_export_writes_every_choice_in_words_never_as_a_stored_code(
    client: Any, therapist: User, every_choice: Client
) -> None:
    client.force_login(therapist)
    content = text(client.get(ratings_url(every_choice)))
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 12
    for column, words in CHOICE_WORDS.items():
        written = {row[column] for row in rows}
        # Every answer was given, and each is written as its words.
        assert written == set(words.values()), column
        assert not any("_" in cell for cell in written), column
    # "a_lot" itself, or any other code with an underscore, appears nowhere in the file.
    for code in ("a_lot", "a_little", "not_at_all", "no_show", "in_person"):
        assert code not in content, code


def test_neither_export_holds_a_stored_code(
    client: Any, supervisor: User, therapist: User, every_choice: Client
) -> None:
    """Stored codes never reach a file: the dashboard's cells are counts, rates, dates and
    names; the ratings' choices are words."""
    for days, status, extra in [
        (10, Concern.Status.OPEN, {}),
        (40, Concern.Status.DISMISSED, {"closed_at": days_ago(35), "note": "A hard week."}),
        (60, Concern.Status.RESOLVED, {"closed_at": days_ago(55), "note": "Talked through."}),
    ]:
        ConcernFactory(
            session=SessionFactory(client=every_choice, starts_at=days_ago(days)),
            status=status,
            opened_at=days_ago(days),
            opening_rule="below_cutoff",
            **extra,
        )
    client.force_login(supervisor)
    dashboard_text = text(client.get(DASHBOARD))
    client.force_login(therapist)
    ratings_text = text(client.get(ratings_url(every_choice)))
    stored = {code for words in CHOICE_WORDS.values() for code in words if code} | {
        *Concern.Status.values,
        *Concern.Severity.values,
        *Flag.Rule.values,
    }
    number_or_date = re.compile(r"\d+(\.\d+)?|\d{4}-\d\d-\d\d")
    for name, content in (("dashboard", dashboard_text), ("ratings", ratings_text)):
        [header, *lines] = csv.reader(io.StringIO(content))
        assert lines, name
        for code in ("a_lot", "a_little", "not_at_all", "no_show", "in_person", "below_cutoff"):
            assert code not in content, (name, code)
        for line in lines:
            for column, cell in zip(header, line, strict=True):
                if column in ("therapist", "client", "submitted_at"):
                    continue  # a typed name or label, and an ISO time
                assert cell not in stored, (name, column, cell)
                assert "_" not in cell, (name, column, cell)
                if column in CHOICE_WORDS:
                    assert cell in CHOICE_WORDS[column].values(), (name, column, cell)
                else:
                    assert cell == "" or number_or_date.fullmatch(cell), (name, column, cell)


def test_the_ratings_export_holds_no_notes_comments_or_identifiers(
    client: Any, therapist: User, rated: Client
) -> None:
    client.force_login(therapist)
    content = text(client.get(ratings_url(rated)))
    for secret in (
        "Daniel",
        "St Mary",
        "Okafor",
        "Priya",
        "Acme",
        "tension",
        "MRN-4471",
        "rk@example.org",
        "example.org",
    ):
        assert secret not in content
    assert "comment" not in content.splitlines()[0]
    assert "notes" not in content.splitlines()[0]


def test_the_ratings_export_is_an_uncached_attachment_named_by_the_slugified_label(
    client: Any, therapist: User, rated: Client
) -> None:
    client.force_login(therapist)
    response = client.get(ratings_url(rated))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alliance-ratings-rk.csv"'
    assert "no-store" in response["Cache-Control"]


def test_a_formula_label_is_neutralised_in_the_file_and_the_filename(
    client: Any, therapist: User, rated: Client
) -> None:
    rated.label = '=HYPERLINK("http://x.io","hi")'
    rated.save()
    client.force_login(therapist)
    response = client.get(ratings_url(rated))
    assert response["Content-Disposition"] == (
        'attachment; filename="alliance-ratings-hyperlinkhttpxiohi.csv"'
    )
    assert {row["client"] for row in table(response)} == {"'" + rated.label}


def test_a_label_with_nothing_to_slugify_falls_back_to_client(
    client: Any, therapist: User, client_record: Client
) -> None:
    client_record.label = '=+"@"'
    client_record.save()
    client.force_login(therapist)
    response = client.get(ratings_url(client_record))
    assert response["Content-Disposition"] == 'attachment; filename="alliance-ratings-client.csv"'
    assert text(response).splitlines() == [RATINGS_HEADER]


@pytest.mark.parametrize("ratings", [5, 50])
def test_the_ratings_export_costs_the_same_queries_at_any_size(
    client: Any,
    therapist: User,
    client_record: Client,
    ratings: int,
    django_assert_num_queries: Any,
) -> None:
    for week in range(ratings):
        RatingFactory(session=SessionFactory(client=client_record, starts_at=days_ago(week + 1)))
    client.force_login(therapist)
    # The session, the user, the client, the audit entry, the ratings.
    with django_assert_num_queries(5):
        lines = text(client.get(ratings_url(client_record))).splitlines()
    assert len(lines) == ratings + 1


@pytest.mark.parametrize("therapists", [2, 12])
def test_the_dashboard_export_costs_the_same_queries_at_any_size(
    client: Any,
    clinic_admin: User,
    therapists: int,
    django_assert_num_queries: Any,
) -> None:
    from clients.tests.factories import TherapistFactory

    for _ in range(therapists):
        session = SessionFactory(client__therapist=TherapistFactory(clinic=clinic_admin.clinic))
        RatingFactory(session=session)
        RatingFactory(session=session, rater="therapist", guessed_client_score=8)
        OutcomeAnswerFactory(session=session, track="not_on_track")
    evaluated()
    client.force_login(clinic_admin)
    # The session, the user, the clinic and its audit entry, the therapists and their counts
    # (clients, sessions, concerns, follow-ups: `dashboard.team_numbers`).
    with django_assert_num_queries(9):
        lines = text(client.get(DASHBOARD)).splitlines()
    assert len(lines) == therapists + 1
    exported = list(csv.DictReader(lines))
    assert all(row["clients_not_on_track"] == "1" for row in exported)
    assert all(row["guesses_compared"] == "1" for row in exported)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("R.K.", "R.K."),
        ("a=b", "a=b"),
        (-1, -1),
        ("", ""),
    ],
)
def test_spreadsheet_safe_prefixes_only_formula_text(value: Any, expected: Any) -> None:
    assert spreadsheet_safe(value) == expected


def test_the_client_page_links_to_the_ratings_export(
    client: Any, supervisor: User, rated: Client
) -> None:
    client.force_login(supervisor)
    page = client.get(reverse("reports:client-detail", args=[rated.pk])).content.decode()
    assert f'href="{ratings_url(rated)}">Export ratings (CSV)</a>' in page


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("period=custom&from=2025-02-01&to=2025-01-01", "The start date is after the end date"),
        ("period=custom&from=2024-01-01&to=2025-06-30", "Choose at most a year"),
        ("period=custom&from=2025-01-01&to=2025-13-01", "Enter both dates as YYYY-MM-DD"),
        ("period=365", "That period is not one we know"),
        ("sort=password", "That column cannot be sorted"),
    ],
)
def test_an_export_asking_for_what_the_dashboard_cannot_use_downloads_nothing_and_says_why(
    client: Any, supervisor: User, caseload: Any, query: str, said: str
) -> None:
    """A file of the last 30 days (or another order) named only by its file name passed for
    the period asked: the address opens the dashboard instead, which says what it could not
    use and keeps the dates as typed. Nothing was exported, so nothing is recorded."""
    client.force_login(supervisor)
    before = AuditEntry.objects.filter(action=AuditAction.EXPORTED).count()
    response = client.get(f"{DASHBOARD}?{query}", follow=True)
    assert not response.streaming
    [(address, status)] = response.redirect_chain
    assert status == 302
    assert address.startswith(f"{reverse('reports:dashboard')}?")
    assert QueryDict(address.split("?", 1)[1]) == QueryDict(query)
    [message] = response.context["messages"]
    assert str(message).startswith(said)
    for typed in QueryDict(query).getlist("from") + QueryDict(query).getlist("to"):
        assert f'value="{typed}"' in response.content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.EXPORTED).count() == before
    # The warning was the dashboard's, said on it: none waits for the next page.
    assert list(client.get(reverse("reports:caseload")).context["messages"]) == []


def test_the_dashboards_export_link_asks_for_the_period_and_order_shown(
    client: Any, supervisor: User, caseload: Any
) -> None:
    """Where the dashboard fell back to the last 30 days, its Export CSV downloads those 30
    days (as shown), not the address the export would refuse."""
    client.force_login(supervisor)
    page = client.get(
        reverse("reports:dashboard"),
        {"period": "custom", "from": "2025-02-01", "to": "2025-01-01", "sort": "sessions"},
    )
    [link] = re.findall(r'href="([^"]*)">Export CSV</a>', page.content.decode())
    assert link == f"{DASHBOARD}?period=30&amp;sort=sessions"
    response = client.get(link.replace("&amp;", "&"))
    period = page.context["period"]
    first, last = timezone.localtime(period.start).date(), period.last_day
    assert response["Content-Disposition"] == (
        f'attachment; filename="alliance-dashboard-{first}-{last}.csv"'
    )
    custom = {"period": "custom", "from": "2025-01-01", "to": "2025-01-31", "sort": "sessions"}
    page = client.get(reverse("reports:dashboard"), {**custom, "dir": "desc", "page": "1"})
    [link] = re.findall(r'href="([^"]*)">Export CSV</a>', page.content.decode())
    assert link == (
        f"{DASHBOARD}?period=custom&amp;from=2025-01-01&amp;to=2025-01-31"
        "&amp;sort=sessions&amp;dir=desc"
    )


def test_a_long_export_is_sent_a_chunk_of_lines_at_a_time_and_loses_none() -> None:
    rows = [[n, f"=cmd{n}", "a,b"] for n in range(2 * LINES_A_CHUNK + 1)]
    chunks = list(csv_lines(["n", "text", "pair"], rows))
    # The header, two full chunks and the one line left over.
    assert [chunk.count("\n") for chunk in chunks] == [1, LINES_A_CHUNK, LINES_A_CHUNK, 1]
    read = list(csv.reader(io.StringIO("".join(chunks))))
    assert read[0] == ["n", "text", "pair"]
    assert read[1:] == [[str(n), f"'=cmd{n}", "a,b"] for n in range(len(rows))]
