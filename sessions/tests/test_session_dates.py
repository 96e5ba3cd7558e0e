"""The dates a session can fall on: from ALLIANCE_EARLIEST_SESSION_DATE to a year ahead,
checked by the form (naming the bound) and by the services (so nothing goes around it);
and the times of the nights the clocks change."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from sessions.dates import DEFAULT_EARLIEST_SESSION_DATE, DateBounds, session_date_bounds
from sessions.forms import SessionForm
from sessions.models import Session
from sessions.services import session_log, session_update
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def clinic_in_london(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/London"


def form_data(starts_at: str, **changes: str) -> dict[str, str]:
    return {
        "starts_at": starts_at,
        "duration_minutes": "50",
        "attendance": "attended",
        "modality": "in_person",
        "notes": "Kept.",
        **changes,
    }


def errors_of(response: Any) -> dict[str, list[str]]:
    return response.context["form"].errors


def test_the_bounds_run_from_the_setting_to_a_year_ahead(settings: Any) -> None:
    assert session_date_bounds(dt.date(2026, 3, 12)) == DateBounds(
        DEFAULT_EARLIEST_SESSION_DATE, dt.date(2027, 3, 12)
    )
    # 29 February has no anniversary: the year ends on the 28th.
    assert session_date_bounds(dt.date(2028, 2, 29)).latest == dt.date(2029, 2, 28)
    settings.ALLIANCE_EARLIEST_SESSION_DATE = dt.date(2015, 9, 1)
    assert session_date_bounds(dt.date(2026, 3, 12)).earliest == dt.date(2015, 9, 1)
    assert (
        str(session_date_bounds(dt.date(2026, 3, 12))) == "from 1 September 2015 to 12 March 2027"
    )


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        ("0001-01-02T10:00", "A session can't be dated before 1 January 2000."),
        ("1900-01-01T10:00", "A session can't be dated before 1 January 2000."),
        ("1999-12-31T23:59", "A session can't be dated before 1 January 2000."),
        ("9999-12-30T10:00", "A session can't be dated after "),
        ("0001-01-01T00:00", "Enter a valid date/time."),
        ("9999-12-31T23:59", "Enter a valid date/time."),
        ("٢٠٢٥-٠٣-٠١T١٠:٠٠", "Use the digits 0–9."),
    ],
)
def test_logging_refuses_an_impossible_date_naming_the_bound(
    client: HttpClient, therapist: User, client_record: Client, starts_at: str, message: str
) -> None:
    client.force_login(therapist)
    url = reverse("sessions:session-log", args=[client_record.pk])
    response = client.post(url, form_data(starts_at))
    assert response.status_code == 200
    [error] = errors_of(response)["starts_at"]
    assert error.startswith(message)
    assert not Session.objects.exists()


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Tokyo", "America/Los_Angeles"])
@pytest.mark.parametrize("starts_at", ["0001-01-01T00:00", "9999-12-31T23:00"])
def test_the_calendars_ends_are_a_form_error_in_any_time_zone(
    client: HttpClient,
    therapist: User,
    client_record: Client,
    settings: Any,
    zone: str,
    starts_at: str,
) -> None:
    """Regression: east of Greenwich, 0001-01-01T00:00 overflowed on its way to UTC (500)."""
    settings.TIME_ZONE = zone
    client.force_login(therapist)
    url = reverse("sessions:session-log", args=[client_record.pk])
    response = client.post(url, form_data(starts_at))
    assert response.status_code == 200
    assert errors_of(response)["starts_at"] == ["Enter a valid date/time."]
    assert not Session.objects.exists()


def test_the_first_day_of_the_bound_is_allowed(
    client: HttpClient, therapist: User, client_record: Client, settings: Any
) -> None:
    settings.ALLIANCE_EARLIEST_SESSION_DATE = dt.date(2020, 5, 1)
    client.force_login(therapist)
    url = reverse("sessions:session-log", args=[client_record.pk])
    assert client.post(url, form_data("2020-05-01T00:00")).status_code == 302
    response = client.post(url, form_data("2020-04-30T23:59"))
    assert errors_of(response)["starts_at"] == ["A session can't be dated before 1 May 2020."]
    assert Session.objects.count() == 1


def test_editing_refuses_an_impossible_date_and_changes_nothing(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    session = SessionFactory(
        client=client_record, starts_at=dt.datetime(2025, 11, 12, 10, 0, tzinfo=LONDON)
    )
    client.force_login(therapist)
    url = reverse("sessions:session-edit", args=[session.pk])
    response = client.post(url, form_data("1900-01-01T10:00", notes="Changed."))
    assert errors_of(response)["starts_at"] == ["A session can't be dated before 1 January 2000."]
    session.refresh_from_db()
    assert (session.starts_at.year, session.notes) == (2025, "")


@pytest.mark.parametrize("zone", [dt.UTC, LONDON, ZoneInfo("Pacific/Kiritimati")])
def test_the_services_refuse_a_session_before_the_bound(
    therapist: User, client_record: Client, zone: dt.tzinfo
) -> None:
    too_early = [dt.datetime(1, 1, 1, tzinfo=zone), dt.datetime(1999, 12, 31, 23, 0, tzinfo=zone)]
    for starts_at in too_early:
        with pytest.raises(ValidationError) as refused:
            session_log(client=client_record, therapist=therapist, starts_at=starts_at)
        assert refused.value.message_dict == {
            "starts_at": ["A session can't be dated before 1 January 2000."]
        }
    assert not Session.objects.exists()
    logged_at = timezone.now() - dt.timedelta(days=1)
    session = session_log(client=client_record, therapist=therapist, starts_at=logged_at)
    with pytest.raises(ValidationError):
        session_update(
            actor=therapist,
            session=session,
            starts_at=too_early[1],
            duration_minutes=50,
            attendance="attended",
            modality="in_person",
            notes="",
        )
    session.refresh_from_db()
    assert session.starts_at == logged_at


# --- The night the clocks change ------------------------------------------------------
# 01:00–01:59 happens twice in London the night the clocks go back and never the night they
# go forward. A session logged or dated in the repeated hour is kept (as the first time
# round unless the form gave the second), one in the skipped hour refused. CI once ran the
# suite in the repeated hour, and the log form refused its own default ("now"): Django
# reads such a time as ambiguous.

# 26 October 2025: 01:30 BST is 00:30 UTC, then 01:30 GMT is 01:30 UTC.
TWICE = "2025-10-26T01:30"
FIRST, SECOND = (dt.datetime(2025, 10, 26, hour, 30, tzinfo=dt.UTC) for hour in (0, 1))
NEVER = "2025-03-30T01:30"  # 30 March 2025: 01:00 GMT is 02:00 BST


def instant(moment: dt.datetime) -> dt.datetime:
    """In UTC: Python never finds an ambiguous local time equal to a time in another zone."""
    return moment.astimezone(dt.UTC)


def test_a_time_of_the_repeated_hour_is_read_as_the_first_time_round() -> None:
    form = SessionForm(form_data(TWICE))
    assert form.is_valid(), form.errors
    assert instant(form.cleaned_data["starts_at"]) == FIRST


def test_a_time_of_the_skipped_hour_is_refused_saying_why() -> None:
    form = SessionForm(form_data(NEVER))
    assert not form.is_valid()
    assert form.errors == {
        "starts_at": [
            "The clocks went forward that night, so 01:30 never happened on 30 March 2025. "
            "Enter the time the clock showed (an hour later)."
        ]
    }


def test_a_half_hour_change_is_said_as_such(settings: Any) -> None:
    settings.TIME_ZONE = "Australia/Lord_Howe"  # its clocks move by 30 minutes
    form = SessionForm(form_data("2025-10-05T02:15"))
    assert not form.is_valid()
    assert form.errors["starts_at"] == [
        "The clocks went forward that night, so 02:15 never happened on 5 October 2025. "
        "Enter the time the clock showed (30 minutes later)."
    ]


def test_the_form_given_the_second_time_round_keeps_it() -> None:
    form = SessionForm(form_data(TWICE), initial={"starts_at": SECOND.astimezone(LONDON)})
    assert form.is_valid(), form.errors
    assert instant(form.cleaned_data["starts_at"]) == SECOND


def test_logging_a_session_in_the_repeated_hour(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.post(
        reverse("sessions:session-log", args=[client_record.pk]), form_data(TWICE)
    )
    assert response.status_code == 302
    assert Session.objects.get().starts_at == FIRST


def test_logging_now_in_the_second_time_round_keeps_the_default(
    client: HttpClient, therapist: User, client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log form's default is now; in the second 01:30 it is saved as that 01:30."""
    monkeypatch.setattr("sessions.views.default_starts_at", lambda: SECOND.astimezone(LONDON))
    client.force_login(therapist)
    response = client.post(
        reverse("sessions:session-log", args=[client_record.pk]), form_data(TWICE)
    )
    assert response.status_code == 302
    assert Session.objects.get().starts_at == SECOND


@pytest.mark.parametrize("moment", [FIRST, SECOND])
def test_editing_a_session_of_the_repeated_hour_leaves_its_time_alone(
    client: HttpClient, therapist: User, client_record: Client, moment: dt.datetime
) -> None:
    session = SessionFactory(client=client_record, starts_at=moment)
    client.force_login(therapist)
    url = reverse("sessions:session-edit", args=[session.pk])
    assert f'value="{TWICE}"' in client.get(url).content.decode()
    response = client.post(url, form_data(TWICE, notes="Rang to say thanks."))
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.starts_at, session.notes) == (moment, "Rang to say thanks.")
