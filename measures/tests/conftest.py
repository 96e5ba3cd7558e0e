"""Fixtures the measures tests share."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clients.models import Client, Clinic, User
from measures import findings_store
from measures.models import Concern
from measures.tests.concern_steps import rate
from measures.tests.factories import concern_with_signal
from measures.tests.test_calibration import clinic_of_ratings
from sessions.tests.factories import SessionFactory


@pytest.fixture
def rated(therapist: User) -> Clinic:
    """The therapist's clinic, with 25 stable clients rating six weekly sessions each: enough
    ratings to calibrate its thresholds on."""
    clinic_of_ratings(therapist)
    return therapist.clinic


@pytest.fixture
def concern(client_record: Client) -> Concern:
    """R.K. rated session 1 at 10.0; the concern opened on session 2 (rated 7.0) with a
    reliable drop."""
    rate(SessionFactory(client=client_record, starts_at=timezone.now() - dt.timedelta(days=14)), 10)
    concern = concern_with_signal(client_record)
    rate(concern.last_session, 7)
    return concern


@pytest.fixture(params=["statements", "placed"])
def signals_stored_both_ways(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test run each way detection stores signals: "statements", a small batch stored
    and then placed (one client after a rating; SQLite's only way), and "placed", a large
    batch on PostgreSQL grouped first and inserted already placed (a sweep's)."""
    if request.param == "placed":
        request.getfixturevalue("postgresql")
        monkeypatch.setattr(findings_store, "COPY_FROM", 0)
