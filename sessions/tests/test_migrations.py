"""The migration that gives sessions copies of their ratings' numbers, run on a database
that already holds ratings: every session gets its client's score and its therapist's
guess, as Rating.save would have written them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from alliance.tests.migrating import migrate, migrated_back

RATINGS = ("measures", "0013_outcome_answer_fillfactor")
BEFORE = [("therapy_sessions", "0003_void_and_revisions"), RATINGS]
AFTER = [("therapy_sessions", "0004_rating_copies"), RATINGS]


@pytest.fixture
def old_apps(transactional_db: None) -> Any:
    with migrated_back(BEFORE) as apps:
        yield apps


def test_sessions_rated_before_the_migration_get_their_copies(old_apps: Any) -> None:
    Clinic = old_apps.get_model("clients", "Clinic")
    User = old_apps.get_model("clients", "User")
    Client = old_apps.get_model("clients", "Client")
    Session = old_apps.get_model("therapy_sessions", "Session")
    Rating = old_apps.get_model("measures", "Rating")
    now = timezone.now()
    clinic = Clinic.objects.create(name="Riverside", slug="riverside")
    tara = User.objects.create(username="tara", clinic=clinic, is_therapist=True)
    person = Client.objects.create(clinic=clinic, therapist=tara, label="R.K.")
    sessions = [
        Session.objects.create(
            client=person, therapist=tara, number=n, starts_at=now - dt.timedelta(weeks=4 - n)
        )
        for n in (1, 2, 3)
    ]
    scores = {"trust": 9, "empathy": 8, "collaboration": 9, "boundaries": 10, "growth": 7}
    # Session 1: both raters, a guess; 2: the client alone; 3: nobody.
    for session in sessions[:2]:
        Rating.objects.create(
            session=session,
            rater="client",
            respect=10 if session.number == 1 else 2,
            notice_version=1,
            notice_language="en",
            notice_shown_at=now,
            **scores,
        )
    Rating.objects.create(
        session=sessions[0],
        rater="therapist",
        respect=9,
        guessed_client_score=7,
        submitted_by=tara,
        **scores,
    )

    new = migrate(AFTER).get_model("therapy_sessions", "Session")

    copies = list(
        new.objects.order_by("number").values_list("client_score", "guessed_client_score")
    )
    # (9 + 8 + 9 + 10 + 7 + 10) / 6 = 8.83…; with respect 2: 7.5
    assert copies == [(Decimal("8.8"), 7), (Decimal("7.5"), None), (None, None)]
