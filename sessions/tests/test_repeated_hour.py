"""The night the clocks go back, 01:00–01:59 happens twice in London; the night they go
forward, it never happens. A session logged or dated in the repeated hour is kept (as
the first time round unless the form gave the second), one in the skipped hour refused.

CI once ran the suite in the repeated hour, and the log form refused its own default
("now"): Django reads such a time as ambiguous.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from clients.models import Client, User
from sessions.forms import SessionForm
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
# 26 October 2025: 01:30 BST is 00:30 UTC, then 01:30 GMT is 01:30 UTC.
TWICE = "2025-10-26T01:30"
FIRST, SECOND = (dt.datetime(2025, 10, 26, hour, 30, tzinfo=dt.UTC) for hour in (0, 1))
NEVER = "2025-03-30T01:30"  # 30 March 2025: 01:00 GMT is 02:00 BST


@pytest.fixture(autouse=True)
def clinic_in_london(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/London"


def instant(moment: dt.datetime) -> dt.datetime:
    """In UTC: Python never finds an ambiguous local time equal to a time in another zone."""
    return moment.astimezone(dt.UTC)


def data(starts_at: str, **changes: str) -> dict[str, str]:
    return {
        "starts_at": starts_at,
        "duration_minutes": "50",
        "attendance": "attended",
        "modality": "in_person",
        "notes": "",
        **changes,
    }


def test_a_time_of_the_repeated_hour_is_read_as_the_first_time_round() -> None:
    form = SessionForm(data(TWICE))
    assert form.is_valid(), form.errors
    assert instant(form.cleaned_data["starts_at"]) == FIRST


def test_a_time_of_the_skipped_hour_is_still_refused() -> None:
    form = SessionForm(data(NEVER))
    assert not form.is_valid()
    assert set(form.errors) == {"starts_at"}


def test_the_form_given_the_second_time_round_keeps_it() -> None:
    form = SessionForm(data(TWICE), initial={"starts_at": SECOND.astimezone(LONDON)})
    assert form.is_valid(), form.errors
    assert instant(form.cleaned_data["starts_at"]) == SECOND


def test_logging_a_session_in_the_repeated_hour(
    client: HttpClient, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.post(reverse("sessions:session-log", args=[client_record.pk]), data(TWICE))
    assert response.status_code == 302
    assert Session.objects.get().starts_at == FIRST


def test_logging_now_in_the_second_time_round_keeps_the_default(
    client: HttpClient, therapist: User, client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log form's default is now; in the second 01:30 it is saved as that 01:30."""
    monkeypatch.setattr("sessions.views.default_starts_at", lambda: SECOND.astimezone(LONDON))
    client.force_login(therapist)
    response = client.post(reverse("sessions:session-log", args=[client_record.pk]), data(TWICE))
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
    response = client.post(url, data(TWICE, notes="Rang to say thanks."))
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.starts_at, session.notes) == (moment, "Rang to say thanks.")
