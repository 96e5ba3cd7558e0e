"""The filters in a page's address go through forms: digits 0–9, dates within the
session bounds, one line of search; anything else is said above the page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from measures.tests.factories import concern_with_signal
from reports.forms import CaseloadFilterForm
from sessions.dates import session_date_bounds

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("reports:dashboard")
PRECISION = reverse("reports:precision")
CASELOAD = reverse("reports:caseload")
QUEUE = reverse("measures:review-queue")


def warnings_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("url", [DASHBOARD, PRECISION])
@pytest.mark.parametrize(
    ("first", "last"),
    [("1900-01-01", "1900-01-31"), ("1999-12-01", "2000-01-31"), ("9998-01-01", "9998-01-31")],
)
def test_a_custom_period_outside_the_session_dates_names_the_bounds(
    client: Any, supervisor: User, url: str, first: str, last: str
) -> None:
    client.force_login(supervisor)
    response = client.get(url, {"period": "custom", "from": first, "to": last})
    assert response.status_code == 200
    assert response.context["period"].days == 30
    bounds = session_date_bounds()
    assert warnings_of(response) == [f"Choose dates {bounds}; showing the last 30 days."]


def test_a_custom_period_up_to_a_year_ahead_is_shown(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    latest = session_date_bounds().latest
    first = latest - dt.timedelta(days=10)
    response = client.get(DASHBOARD, {"period": "custom", "from": first, "to": latest})
    assert response.context["period"].last_day == latest
    assert warnings_of(response) == []


@pytest.mark.parametrize(
    ("first", "last"),
    [("٢٠٢٥-٠٣-٣١", "2025-04-13"), ("2025-03-31", "２０２５-04-13"), ("2025-03-31", "2025-04-1٣")],
)
def test_a_custom_period_in_other_digits_asks_for_0_to_9(
    client: Any, supervisor: User, first: str, last: str
) -> None:
    client.force_login(supervisor)
    response = client.get(DASHBOARD, {"period": "custom", "from": first, "to": last})
    assert response.context["period"].days == 30
    assert warnings_of(response) == [
        "Enter both dates as YYYY-MM-DD, in the digits 0–9; showing the last 30 days."
    ]


def test_dates_beside_a_preset_period_are_not_read(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    response = client.get(
        DASHBOARD, {"period": "7", "from": "0001-01-01", "to": "garbage"}, follow=True
    )
    assert response.redirect_chain == [(f"{DASHBOARD}?period=7", 302)]  # the dates dropped
    assert response.context["period"].days == 7
    assert warnings_of(response) == []


def shown_period(response: Any) -> tuple[str, str, str]:
    """What the page's period form shows: the chosen option, and the two dates."""
    html = response.content.decode()
    chosen = re.search(r'<option value="([^"]+)" selected>', html)
    dates = [
        re.search(rf'id="{name}"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*id="{name}"', html)
        for name in ("from", "to")
    ]
    values = [
        next(group for group in match.groups() if group is not None) for match in dates if match
    ]
    assert chosen is not None and len(values) == 2, html
    return chosen.group(1), values[0], values[1]


@pytest.mark.parametrize("url", [DASHBOARD, PRECISION])
def test_the_period_form_shows_the_period_in_use(client: Any, supervisor: User, url: str) -> None:
    client.force_login(supervisor)
    latest = session_date_bounds().latest
    first = latest - dt.timedelta(days=10)
    custom = client.get(url, {"period": "custom", "from": first, "to": latest})
    assert shown_period(custom) == ("custom", first.isoformat(), latest.isoformat())
    preset = client.get(url, {"period": "7"}).context["period"]
    start = timezone.localtime(preset.start).date().isoformat()
    assert shown_period(client.get(url, {"period": "7"})) == (
        "7",
        start,
        preset.last_day.isoformat(),
    )
    # A refused range keeps the dates typed, to be corrected; what the numbers are for
    # (the last 30 days) is said above the form and under it.
    refused = client.get(url, {"period": "custom", "from": "2026-12-01", "to": "2026-11-01"})
    assert shown_period(refused) == ("custom", "2026-12-01", "2026-11-01")
    assert "showing the last 30 days" in refused.content.decode()
    default = client.get(url, {"period": "30"}).context["period"]
    assert refused.context["period"] == default
    # A period not offered cannot be shown as asked: the form shows the 30 days in use.
    unknown = client.get(url, {"period": "week"})
    assert shown_period(unknown)[0] == "30"


def test_the_sort_direction_is_desc_or_else_ascending(client: Any, supervisor: User) -> None:
    client.force_login(supervisor)
    for direction, descending in [("desc", True), ("asc", False), ("DESC", False), ("", False)]:
        response = client.get(DASHBOARD, {"sort": "sessions", "dir": direction})
        assert (response.context["sort"], response.context["descending"]) == (
            "sessions",
            descending,
        )
        assert warnings_of(response) == []


@pytest.mark.parametrize("search", ["R.\nK.", "\x1b[31m", "R.\x7fK."])
def test_a_search_with_control_characters_says_so_and_shows_every_client(
    client: Any, therapist: User, client_record: Client, search: str
) -> None:
    client.force_login(therapist)
    response = client.get(CASELOAD, {"q": search})
    assert response.status_code == 200
    assert list(response.context["page"]) == [client_record]
    assert warnings_of(response) == ["Search for one line of text, without control characters."]


def test_a_search_with_a_nul_byte_never_reaches_the_database() -> None:
    """The request guard answers 400 first; the form refuses it on its own too."""
    filters, problems = CaseloadFilterForm({"q": "R.\x00K."}).chosen()
    assert (filters.status, filters.search) == ("active", "")
    assert problems == ["Search for one line of text, without control characters."]


def test_a_long_search_uses_its_first_40_characters(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.get(CASELOAD, {"q": "R.K." + "x" * 100})
    assert response.context["search"] == "R.K." + "x" * 36
    assert warnings_of(response) == ["Search uses the first 40 characters."]


# Not named `page`: that is Playwright's fixture, and would make this a browser test.
@pytest.mark.parametrize(
    ("asked", "shown"),
    [
        ("2", 2),
        ("٢", 1),
        ("2.0", 2),
        ("-1", 1),
        ("9" * 30, 2),
        ("99", 2),
        (str(2**31), 2),
        ("+2", 2),
        ("+" + "9" * 30, 2),
    ],
)
def test_the_page_number_is_read_in_the_digits_0_to_9(
    client: Any, therapist: User, asked: str, shown: int
) -> None:
    for number in range(51):
        concern_with_signal(ClientFactory(therapist=therapist), days_ago=1 + number / 24)
    client.force_login(therapist)
    for url in (CASELOAD, QUEUE):
        response = client.get(url, {"page": asked})
        assert response.status_code == 200
        assert response.context["page"].number == shown, url


def test_a_refused_filter_keeps_the_page_number_beside_it(client: Any, therapist: User) -> None:
    """Only the refused filter is left out (said above the page), not the page asked for."""
    for number in range(51):
        concern_with_signal(ClientFactory(therapist=therapist), days_ago=1 + number / 24)
    client.force_login(therapist)
    for url in (CASELOAD, QUEUE):
        response = client.get(url, {"status": "bogus", "page": "2"})
        assert warnings_of(response), url
        assert response.context["page"].number == 2, url


def test_the_review_queue_filter_takes_only_its_statuses(client: Any, therapist: User) -> None:
    concern = concern_with_signal(ClientFactory(therapist=therapist))
    client.force_login(therapist)
    response = client.get(QUEUE, {"status": "OPEN"})
    assert list(response.context["page"]) == [concern]
    assert response.context["status"] == "all"
