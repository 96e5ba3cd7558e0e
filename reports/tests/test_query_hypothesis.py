"""Every parameter in a page's address, under hostile input: the caseload's filter and
search, the review queue's filter, the dashboard's period and sort (on the page, the
precision page and the CSV), pages; and junk parameters on every other page. Never a
server error, never a write, a search echoed escaped, a period within the session dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st

from alliance.fields import has_other_digits
from alliance.tests.hostile import (
    DATE_CASES,
    NUMBER_CASES,
    TEXT_CASES,
    HostileInputTestCase,
    assert_shown_escaped,
    get,
    hostile_choice,
    hostile_date,
    hostile_number,
    hostile_text,
    last,
    row_counts,
    submission,
    welcome_text,
    with_examples,
)
from clients.models import Client, Supervision
from clients.tests.factories import (
    ClientFactory,
    ClinicAdminFactory,
    ClinicFactory,
    SupervisorFactory,
    TherapistFactory,
)
from measures.review_forms import REVIEW_STATUSES
from measures.scoring import DIMENSIONS
from measures.tests.factories import RatingFactory, concern_with_signal
from reports import dashboard
from reports.forms import CUSTOM, PRESETS
from sessions.dates import session_date_bounds
from sessions.tests.factories import SessionFactory

STATUSES = [value for value, _label in Client.Status.choices]
PERIODS = [*(str(days) for days in PRESETS), CUSTOM]
SORTS = list(dashboard.SORTABLE)
JUNK = st.dictionaries(hostile_text(12), hostile_text(30), max_size=3)

CASELOAD_QUERY = {
    "status": st.sampled_from(STATUSES),
    "q": welcome_text(max_size=60),
    "outcome": st.sampled_from(["", "not_on_track"]),
    "page": st.integers(1, 3).map(str),
}
HOSTILE_CASELOAD_QUERY = {
    "status": hostile_choice(STATUSES),
    "q": hostile_text(200),
    "outcome": hostile_choice(["not_on_track"]),
    "page": hostile_number(-2, 5),
}
PERIOD_QUERY = {
    "period": st.sampled_from(PERIODS),
    "from": st.dates(dt.date(2020, 1, 1), dt.date(2026, 1, 1)).map(dt.date.isoformat),
    "to": st.dates(dt.date(2020, 1, 1), dt.date(2026, 1, 1)).map(dt.date.isoformat),
    "sort": st.sampled_from(SORTS),
    "dir": st.sampled_from(["asc", "desc"]),
}
HOSTILE_PERIOD_QUERY = {
    "period": hostile_choice(PERIODS),
    "from": hostile_date(),
    "to": hostile_date(),
    "sort": hostile_choice(SORTS),
    "dir": hostile_choice(["asc", "desc"]),
}
VALID_PERIOD = {"period": CUSTOM, "from": "2025-03-31", "to": "2025-04-13", "sort": "sessions"}
PERIOD_CASES = {
    "period": ["٣٠", "３٠", "365", "-7", "custom\x00", "CUSTOM", ["7", "custom"], None],
    "from": [*DATE_CASES, ["2025-03-31", "1900-01-01"]],
    "to": ["1900-01-01", "٢٠٢٥-٠٤-١٣", "9999-12-31", "2025-03-30"],
    "sort": ["<script>", "last_name", "__class__", "-sessions", None],
    "dir": ["DESC", "desc\x00"],
}


class QueryParametersTestCase(HostileInputTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.clinic = ClinicFactory(name="Riverside", slug="riverside")
        cls.tara = TherapistFactory(clinic=cls.clinic, username="tara", last_name="Tara")
        cls.sue = SupervisorFactory(clinic=cls.clinic, username="sue")
        Supervision.objects.create(supervisor=cls.sue, therapist=cls.tara)
        cls.ada = ClinicAdminFactory(clinic=cls.clinic, username="ada")
        cls.otto = TherapistFactory(clinic=ClinicFactory(slug="hillside"), username="otto")
        cls.record = ClientFactory(therapist=cls.tara, label="<b>R.K.</b>")
        ClientFactory(therapist=cls.tara, label="Gone", status="discharged")
        for weeks in range(1, 4):
            session = SessionFactory(
                client=cls.record, starts_at=timezone.now() - dt.timedelta(weeks=weeks)
            )
            RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, 7 + weeks))
        cls.concern = concern_with_signal(cls.record)

    def as_(self, who: str) -> None:
        self.client.force_login(getattr(self, who))

    @given(
        data=submission(CASELOAD_QUERY, HOSTILE_CASELOAD_QUERY),
        junk=JUNK,
        who=st.sampled_from(["tara", "sue", "ada", "otto"]),
    )
    @with_examples(
        {"status": "active", "q": "R.K.", "outcome": "not_on_track", "page": "1"},
        {
            "status": ["<script>", "ACTIVE", "active\x00", ["active", "discharged"]],
            "outcome": ["NOT_ON_TRACK", "on_track", "not_on_track\x00", "<b>"],
            "q": [*TEXT_CASES, "%", "_", "\\", "' OR 1=1 --", "R.K.\x00"],
            "page": [*NUMBER_CASES, "٢", "last"],
        },
        junk={},
        who="tara",
    )
    def test_the_caseload_reads_any_filter_and_search(
        self, data: dict[str, Any], junk: dict[str, str], who: str
    ) -> None:
        self.as_(who)
        before = row_counts()
        response = get(self.client, reverse("reports:caseload"), {**junk, **data})
        assert row_counts() == before
        if response.status_code != 200:
            return
        context = response.context
        assert context["status"] in STATUSES
        assert len(context["search"]) <= 40
        assert_shown_escaped(response.content.decode(), context["search"])
        if has_other_digits(last(data.get("page")) or ""):
            assert context["page"].number == 1

    @given(
        data=submission(
            {"status": st.sampled_from(list(REVIEW_STATUSES)), "page": st.just("1")},
            {"status": hostile_choice(list(REVIEW_STATUSES)), "page": hostile_number(-2, 5)},
        ),
        junk=JUNK,
        who=st.sampled_from(["tara", "sue", "ada", "otto"]),
    )
    @with_examples(
        {"status": "all", "page": "1"},
        {"status": ["<script>", "resolved", "open\x00"], "page": [*NUMBER_CASES, "٢"]},
        junk={},
        who="tara",
    )
    def test_the_review_queue_reads_any_filter(
        self, data: dict[str, Any], junk: dict[str, str], who: str
    ) -> None:
        self.as_(who)
        before = row_counts()
        response = get(self.client, reverse("measures:review-queue"), {**junk, **data})
        assert row_counts() == before
        if response.status_code == 200:
            assert response.context["status"] in REVIEW_STATUSES

    @given(
        data=submission(PERIOD_QUERY, HOSTILE_PERIOD_QUERY),
        junk=JUNK,
        who=st.sampled_from(["sue", "ada"]),
        page=st.sampled_from(["reports:dashboard", "reports:precision", "reports:dashboard-csv"]),
    )
    @with_examples(VALID_PERIOD, PERIOD_CASES, junk={}, who="sue", page="reports:dashboard")
    # Whole periods outside the session dates, each shorter than a year.
    @example(
        data={"period": CUSTOM, "from": "1900-01-01", "to": "1900-01-31"},
        junk={},
        who="sue",
        page="reports:dashboard",
    )
    @example(
        data={"period": CUSTOM, "from": "9998-01-01", "to": "9998-01-31"},
        junk={},
        who="ada",
        page="reports:precision",
    )
    def test_the_dashboard_reads_any_period_and_sort(
        self, data: dict[str, Any], junk: dict[str, str], who: str, page: str
    ) -> None:
        self.as_(who)
        before = row_counts()
        response = get(self.client, reverse(page), {**junk, **data})
        if response.streaming:
            body = b"".join(response.streaming_content)  # a CSV fails while it streams
            assert body.startswith(b"therapist") or response.status_code != 200
        assert row_counts() == before
        if response.status_code != 200 or response.streaming:
            return
        period = response.context["period"]
        bounds = session_date_bounds()
        assert bounds.earliest <= timezone.localtime(period.start).date() <= bounds.latest
        assert bounds.earliest <= period.last_day <= bounds.latest
        assert period.last_day - timezone.localtime(period.start).date() < dt.timedelta(days=366)
        typed = [last(data.get(name)) or "" for name in ("period", "from", "to")]
        if any(has_other_digits(value) for value in typed):
            assert period.days == 30

    @given(
        page=st.sampled_from(
            [
                ("reports:client-detail", "record"),
                ("reports:session-detail", "session"),
                ("measures:concern-detail", "concern"),
                ("measures:flag-detail", "flag"),
                ("reports:therapist-caseload", "tara"),
                ("reports:client-ratings-csv", "record"),
                ("measures:thresholds", None),
                ("clients:client-create", None),
                ("clients:client-edit", "record"),
                ("sessions:session-log", "record"),
                ("account", None),
            ]
        ),
        junk=JUNK,
        who=st.sampled_from(["tara", "sue", "ada", "otto"]),
    )
    def test_every_other_page_ignores_junk_in_its_address(
        self, page: tuple[str, str | None], junk: dict[str, str], who: str
    ) -> None:
        name, target = page
        objects = {
            "record": self.record,
            "session": self.concern.last_session,
            "concern": self.concern,
            "flag": self.concern.signals.first(),
            "tara": self.tara,
        }
        args = [] if target is None else [objects[target].pk]
        self.as_(who)
        before = row_counts()
        response = get(self.client, reverse(name, args=args), junk)
        if response.streaming:
            b"".join(response.streaming_content)
        assert row_counts() == before
