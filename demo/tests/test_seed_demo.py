"""`manage.py seed_demo` and the pure generator of demo histories behind it."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from clients.models import Client, Clinic, Supervision, User
from clients.services import clinic_create
from demo.histories import MAX_SESSIONS, MIN_SESSIONS, PROFILES, SessionPlan, client_history
from measures.models import Concern, Flag, Rating
from measures.scoring import DIMENSIONS, alliance_score
from sessions.models import Session

MODELS = (Clinic, User, Supervision, Client, Session, Rating)
SEEDS = range(40)
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def rating_rows() -> list[tuple[Any, ...]]:
    fields = ("session__client__external_id", "session__client__label", "session__number")
    return sorted(Rating.objects.values_list(*fields, "rater", *DIMENSIONS, "rupture"))


def client_scores(history: list[SessionPlan]) -> list[Decimal]:
    return [score(plan["client"]) for plan in history if plan["client"] is not None]


def score(answers: dict[str, Any]) -> Decimal:
    return alliance_score(answers[name] for name in DIMENSIONS)


def histories(profile: str) -> list[list[SessionPlan]]:
    return [client_history(random.Random(number), profile) for number in SEEDS]


# --- The command ------------------------------------------------------------


@pytest.fixture(scope="class")
def seeded_demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """Seed the demo once for a class of tests, into the empty test database, and give the
    command's output.

    Like Django's `TestCase.setUpTestData`: the seed is written inside a transaction that
    is rolled back after the class, and each test's own transaction (pytest-django's `db`)
    is a savepoint inside it, so what one test changes is undone before the next and the
    tests after the class find the database empty. Seeding costs seconds; reading costs
    nothing.
    """
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            # The hashing the tests use (conftest's fast_password_hashing), as they would seed.
            with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
                output = seed("--if-empty")
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield output
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


@pytest.mark.django_db
@pytest.mark.usefixtures("seeded_demo")
class TestTheSeededDemo:
    """One demo seeded into an empty database by `seed_demo --if-empty`, shared by the class."""

    def test_it_seeds_an_empty_database_with_staff_and_prints_the_log_ins(
        self, seeded_demo: str
    ) -> None:
        output = seeded_demo

        clinic = Clinic.objects.get()
        assert (clinic.slug, clinic.name) == ("demo", "Riverside Counselling (demo)")
        staff = {user.username: user for user in User.objects.all()}
        assert set(staff) == {"supervisor", "therapist1", "therapist2", "therapist3", "clinicadmin"}
        assert all(
            user.is_staff and user.check_password("alliance-demo") for user in staff.values()
        )
        assert staff["supervisor"].roles == ["supervisor"]
        assert staff["clinicadmin"].roles == ["clinic admin"]
        supervised = Supervision.objects.filter(supervisor=staff["supervisor"])
        assert sorted(supervised.values_list("therapist__username", flat=True)) == [
            "therapist1",
            "therapist2",
            "therapist3",
        ]
        assert "therapist1" in output and "alliance-demo" in output
        assert "http://127.0.0.1:8000/admin/" in output and "30 clients" in output
        assert "concerns" in output
        for label, external_id in Client.objects.values_list("label", "external_id"):
            assert f" {label} " not in output and external_id not in output

    def test_the_demo_log_ins_work_in_the_admin_and_see_their_own_scope(self, client: Any) -> None:
        expected_clients = {"therapist1": 10, "supervisor": 30, "clinicadmin": 30}
        for username in ("supervisor", "therapist1", "therapist2", "therapist3", "clinicadmin"):
            assert client.login(username=username, password="alliance-demo"), username
            # Past the password, the clinic admin's second factor (accounts/tests prove that step).
            client.force_login(User.objects.get(username=username))
            assert client.get("/admin/").status_code == 200
            if username in expected_clients:
                changelist = client.get("/admin/clients/client/")
                assert changelist.context["cl"].full_result_count == expected_clients[username]
            client.logout()

    def test_it_gives_each_therapist_ten_weekly_histories_of_the_promised_kinds(self) -> None:
        per_therapist = Counter(Client.objects.values_list("therapist__username", flat=True))
        assert per_therapist == {"therapist1": 10, "therapist2": 10, "therapist3": 10}
        assert {"en", "es"} == set(Client.objects.values_list("language", flat=True))
        assert Client.objects.filter(external_id__startswith="DEMO-").count() == 30
        discharged = Counter(
            Client.objects.filter(status="discharged").values_list("therapist__username", flat=True)
        )
        assert set(discharged) == {"therapist1", "therapist2", "therapist3"}
        assert set(discharged.values()) <= {1, 2}
        for client in Client.objects.all():
            starts = list(client.sessions.in_history_order().values_list("starts_at", flat=True))
            assert MIN_SESSIONS <= len(starts) <= MAX_SESSIONS
            # Weekly on the clinic's clock, so the same hour across a change to summer time.
            local = [timezone.localtime(start).replace(tzinfo=None) for start in starts]
            assert {later - earlier for earlier, later in pairwise(local)} == {
                dt.timedelta(weeks=1)
            }
            assert dt.timedelta(hours=12) < timezone.now() - starts[-1] < dt.timedelta(days=11)
        assert Session.objects.filter(attendance="no_show").exists()
        assert Session.objects.filter(attendance="cancelled").exists()
        assert Rating.objects.by_client().exclude(rupture="none").exists()
        unrated = Session.objects.attended().exclude(ratings__rater="client").count()
        assert 0.05 < unrated / Session.objects.attended().count() < 0.2
        for name in DIMENSIONS:
            assert set(Rating.objects.values_list(name, flat=True)) <= set(range(11))
        for rating in Rating.objects.select_related("session"):
            assert rating.session.starts_at < rating.submitted_at <= timezone.now()

    def test_the_demo_tells_one_concern_per_story_worked_through_as_a_practice_would(
        self,
    ) -> None:
        concerns = Concern.objects.select_related("client__therapist")
        # Each therapist has four clients with a story (two ruptures, a drift, a drop-out);
        # their calm clients raise none, and no slide is told twelve times over.
        per_therapist = Counter(concern.client.therapist.username for concern in concerns)
        assert set(per_therapist) == {"therapist1", "therapist2", "therapist3"}
        assert all(3 <= count <= 5 for count in per_therapist.values()), per_therapist
        assert max(Counter(concern.client_id for concern in concerns).values()) <= 2
        assert {"reliable_drop", "disengagement"} <= {c.opening_rule for c in concerns}
        # Every kind of review is on show: worked through, being looked at, and let slide.
        statuses = Counter(concern.status for concern in concerns)
        assert statuses["resolved"] and statuses["dismissed"] and statuses["open"]
        for concern in concerns:
            assert concern.signals.exists()
            assert concern.opened_at < timezone.now() - dt.timedelta(hours=1)  # when rated
            if concern.is_closed:
                assert concern.note and concern.closed_at > concern.opened_at
        stale = timezone.now() - dt.timedelta(days=7)
        assert concerns.filter(status="open", opened_at__lt=stale).exists()  # for the dashboard
        # Scores under the cut-off on their own stay context.
        assert Flag.objects.filter(rule="below_cutoff", concern__isnull=True).exists()

    def test_running_it_twice_changes_nothing(self) -> None:
        counts, rows = row_counts(), rating_rows()

        output = seed()

        assert "nothing changed" in output
        assert row_counts() == counts
        assert rating_rows() == rows


# The database is empty again below: these need one with no demo in it.


@pytest.mark.django_db
def test_it_seeds_the_same_demo_into_every_fresh_database() -> None:
    with transaction.atomic():
        seed()
        first = rating_rows()
        transaction.set_rollback(True)
    assert not Clinic.objects.exists()

    seed()

    assert rating_rows() == first


@pytest.mark.django_db
def test_if_empty_does_nothing_when_another_clinic_exists() -> None:
    clinic_create(name="Hillside", slug="hillside")
    counts = row_counts()

    output = seed("--if-empty")

    assert row_counts() == counts
    assert "no demo data added" in output


# --- The pure history generator --------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_the_same_seed_gives_the_same_history(profile: str) -> None:
    assert client_history(random.Random(7), profile) == client_history(random.Random(7), profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_history_is_plausible(profile: str) -> None:
    for history in histories(profile):
        assert MIN_SESSIONS <= len(history) <= MAX_SESSIONS
        assert history[0]["attendance"] == "attended"
        for plan in history:
            assert plan["modality"] in {"in_person", "video", "phone"}
            if plan["attendance"] != "attended":
                assert plan["client"] is None and plan["therapist"] is None
            for answers in (plan["client"], plan["therapist"]):
                if answers is not None:
                    assert all(0 <= answers[name] <= 10 for name in DIMENSIONS)


def test_a_stable_history_stays_near_the_ceiling() -> None:
    for history in histories("stable"):
        assert min(client_scores(history)) >= Decimal("8.5")
        assert all(
            plan["client"]["rupture"] == "none" for plan in history if plan["client"] is not None
        )


def test_a_repaired_history_dips_at_a_rupture_and_recovers() -> None:
    for history in histories("repaired"):
        rated = [plan["client"] for plan in history if plan["client"] is not None]
        ruptures = [i for i, answers in enumerate(rated) if answers["rupture_resolved"] != "fully"]
        ruptures = [i for i in ruptures if rated[i]["rupture"] != "none"]
        assert len(ruptures) == 1
        rupture = rated[ruptures[0]]
        assert score(rupture) < 8 and rupture["rupture_resolved"] in {"partly", "not_at_all"}
        assert all(score(answers) >= 9 for answers in rated[ruptures[0] + 1 :])


def test_a_drifting_history_slides_down_while_the_therapist_rates_it_high() -> None:
    for history in histories("drifting"):
        scores = client_scores(history)
        assert scores[-1] <= scores[0] - 2
        assert scores[-4:] == sorted(scores[-4:], reverse=True) and len(set(scores[-4:])) == 4
        last = history[-1]
        assert score(last["therapist"]) - score(last["client"]) >= 2


def test_a_disengaging_history_ends_with_two_no_shows() -> None:
    for history in histories("disengaging"):
        assert [plan["attendance"] for plan in history[-2:]] == ["no_show", "no_show"]


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown profile"):
        client_history(random.Random(1), "miraculous")
