"""`manage.py seed_demo` and the pure generator of demo histories behind it (the outcome
courses and guesses: test_outcome_histories)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, Clinic, Supervision, User
from clients.services import clinic_create
from demo.histories import MAX_SESSIONS, MIN_SESSIONS, PROFILES, SessionPlan, client_history
from measures.grouping import one_level_up
from measures.models import (
    Concern,
    ConcernEvent,
    ExpectedCourse,
    Flag,
    Instrument,
    OutcomeAnswer,
    Rating,
    sessions_with_stale_copies,
)
from measures.scoring import DIMENSIONS, alliance_score
from measures.tracking import MILD, MODERATE, NOT_ON_TRACK, ON_TRACK, starting_band
from reports.reading import reading_page
from sessions.models import Session

MODELS = (Clinic, User, Supervision, Client, Session, Rating, OutcomeAnswer, ExpectedCourse)
SEEDS = range(40)
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DANIEL = "therapist2"  # the demo's generous reader of his clients (demo.seed.READERS)


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def demo_rows() -> list[tuple[Any, ...]]:
    """The clinical content of the demo: ratings, outcome answers, the expected course."""
    fields = ("session__client__external_id", "session__client__label", "session__number")
    ratings = Rating.objects.values_list(
        *fields, "rater", *DIMENSIONS, "rupture", "guessed_client_score"
    )
    outcomes = OutcomeAnswer.objects.values_list(*fields, "answers", "score", "track")
    return [
        *sorted(ratings),
        *sorted(outcomes, key=lambda row: row[:3]),
        *ExpectedCourse.objects.values_list("band", "index", "improvement", "clients"),
    ]


def outcome_tracks() -> dict[int, list[str]]:
    """Each client's outcome answers judged, in answer order."""
    tracks: dict[int, list[str]] = {}
    answers = OutcomeAnswer.objects.order_by("session__starts_at")
    for client_id, track in answers.values_list("session__client_id", "track"):
        tracks.setdefault(client_id, []).append(track)
    return tracks


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
        assert "concerns" in output and "outcome answers" in output
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
            # The last session 1 to 10 days ago by the clinic's calendar (just after
            # midnight, yesterday's 5 pm session is only hours ago).
            days_ago = timezone.localdate() - timezone.localtime(starts[-1]).date()
            assert dt.timedelta(days=1) <= days_ago <= dt.timedelta(days=10)
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
        # Each therapist has four clients with a story (two ruptures, a drift, a drop-out),
        # whose outcome may add a concern after one has been closed; their calm clients raise
        # none, and no slide is told twelve times over.
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

    def test_most_client_ratings_come_with_a_valid_outcome_answer_as_the_link_stores_it(
        self,
    ) -> None:
        check = Instrument.objects.get(clinic__isnull=True)
        client_ratings = {rating.session_id: rating for rating in Rating.objects.by_client()}
        answers = OutcomeAnswer.objects.select_related("session__client")
        assert answers.count() > 0.85 * len(client_ratings)
        for answer in answers:
            assert answer.instrument == check and answer.session.client.asks_outcome
            assert len(answer.answers) == check.item_count
            assert all(isinstance(item, int) and 0 <= item <= 10 for item in answer.answers)
            assert float(answer.score) == check.score(answer.answers)
            # With the client's rating of the same session, sent together.
            assert answer.submitted_at == client_ratings[answer.session_id].submitted_at
            assert answer.track and answer.judged_at
        # Every client asked answered with every rating; the two not asked, never.
        asked = Rating.objects.by_client().filter(session__client__asks_outcome=True)
        assert asked.count() == answers.count()
        switched_off = Client.objects.filter(asks_outcome=False)
        assert switched_off.count() == 2
        assert not answers.filter(session__client__in=switched_off).exists()
        assert Client.objects.filter(shows_own_chart=True).count() == 1

    def test_most_clients_improve_and_the_expected_course_rests_on_enough_of_them(self) -> None:
        scale = Instrument.objects.get(clinic__isnull=True).scale()
        scores: dict[int, list[float]] = {}
        answers = OutcomeAnswer.objects.order_by("session__starts_at")
        for client_id, score in answers.values_list("session__client_id", "score"):
            scores.setdefault(client_id, []).append(float(score))
        bands = Counter(starting_band(series[0], scale) for series in scores.values())
        assert set(bands) == {"severe", "moderate", "mild"} and bands[MODERATE] >= 20
        improved = [
            client_id
            for client_id, series in scores.items()
            if scale.improvement(series[0], series[-1]) >= scale.reliable_change
        ]
        assert len(improved) > len(scores) / 2
        # The clinic's own experience: the first answers after the intake of clients who
        # started near the cut-off rest on enough clients to judge by, and they improve.
        usable = ExpectedCourse.objects.filter(
            clients__gte=settings.ALLIANCE_OUTCOME_MIN_CLIENTS
        ).order_by("index")
        assert {(MODERATE, index) for index in range(2, 6)} <= set(
            usable.values_list("band", "index")
        )
        assert set(usable.values_list("band", flat=True)) == {MODERATE}
        improvements = list(usable.values_list("improvement", flat=True))
        assert improvements == sorted(improvements) and improvements[0] > 0
        assert OutcomeAnswer.objects.filter(expected__isnull=False).count() >= 80

    def test_the_client_page_shows_the_expected_course_where_it_rests_on_enough_clients(
        self, client: Any
    ) -> None:
        scale = Instrument.objects.get(clinic__isnull=True).scale()
        answers: dict[int, list[OutcomeAnswer]] = {}
        for answer in OutcomeAnswer.objects.select_related("session").order_by(
            "session__starts_at"
        ):
            answers.setdefault(answer.session.client_id, []).append(answer)
        judged_by_course = next(c for c, given in answers.items() if given[-1].expected)
        started_outside = next(
            c for c, given in answers.items() if starting_band(float(given[0].score), scale) == MILD
        )
        client.force_login(User.objects.get(username="supervisor"))

        page = client.get(reverse("reports:client-detail", args=[judged_by_course]))
        assert "expected by now" in page.content.decode()
        page = client.get(reverse("reports:client-detail", args=[started_outside]))
        needs = settings.ALLIANCE_OUTCOME_MIN_CLIENTS
        assert "No expected course yet at this client" in page.content.decode()
        assert f"it needs {needs} clients of this clinic" in page.content.decode()

    def test_some_clients_are_not_on_track_and_one_alliance_concern_is_raised_for_it(
        self,
    ) -> None:
        tracks = outcome_tracks()
        not_on_track = [client for client, judged in tracks.items() if judged[-1] == NOT_ON_TRACK]
        assert 1 <= len(not_on_track) <= 5
        recovered = [
            client
            for client, judged in tracks.items()
            if NOT_ON_TRACK in judged and judged[-1] == ON_TRACK
        ]
        assert recovered
        assert Flag.objects.filter(rule=NOT_ON_TRACK, client__in=recovered).exists()
        raised = [
            event
            for event in ConcernEvent.objects.filter(action="severity_raised").select_related(
                "concern__client__therapist"
            )
            if event.evidence.get("not_on_track")
        ]
        for event in raised:
            concern = event.concern
            assert concern.opening_rule != NOT_ON_TRACK
            assert concern.severity == one_level_up(concern.raised_from) == event.severity
            assert NOT_ON_TRACK in tracks[concern.client_id]
        # Daniel's client whose alliance slid while he guessed it high: getting worse on
        # the outcome too, and the concern about the alliance raised a level for it.
        (slid,) = [event for event in raised if event.concern.client.therapist.username == DANIEL]
        assert slid.concern.client_id in not_on_track
        assert slid.concern.opening_rule == "rater_discrepancy"

    def test_most_therapist_ratings_carry_a_guess_and_one_therapist_guesses_high(self) -> None:
        by_therapist = Rating.objects.by_therapist()
        guessed = by_therapist.exclude(guessed_client_score=None)
        assert guessed.count() > 0.75 * by_therapist.count()
        assert not Rating.objects.by_client().exclude(guessed_client_score=None).exists()
        readings = {
            therapist.username: reading_page(therapist, therapist).reading
            for therapist in User.objects.filter(username__startswith="therapist")
        }
        generous = readings.pop(DANIEL)
        assert generous.bias >= 0.5 and generous.missed_drops >= 1
        for reading in readings.values():
            assert reading.compared >= 30
            assert reading.mean_absolute_difference <= 0.5 and abs(reading.bias) < 0.25
            assert reading.missed_drops == 0

    def test_every_session_carries_its_ratings_copies(self) -> None:
        """The demo's ratings go through the services, so their sessions' copies agree."""
        assert Session.objects.exclude(client_score=None).count() == (
            Rating.objects.by_client().count()
        )
        assert not sessions_with_stale_copies(Session.objects.all()).exists()

    def test_running_it_twice_changes_nothing(self) -> None:
        counts, rows = row_counts(), demo_rows()

        output = seed()

        assert "nothing changed" in output
        assert row_counts() == counts
        assert demo_rows() == rows


# The database is empty again below: these need one with no demo in it.


@pytest.mark.django_db
def test_it_seeds_the_same_demo_into_every_fresh_database() -> None:
    with transaction.atomic():
        seed()
        first = demo_rows()
        transaction.set_rollback(True)
    assert not Clinic.objects.exists()

    seed()

    assert demo_rows() == first


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


def test_stable_clients_differ_from_one_another_more_than_from_week_to_week() -> None:
    """Successive scores correlate as real ones do (0.64 for the Session Rating Scale), so a
    clinic calibrating on the demo estimates a reliability near the settings' 0.70: each
    client keeps a level and a way of answering of their own, not fresh draws each week."""
    first: list[float] = []
    second: list[float] = []
    means, spreads = [], []
    for number in range(300):
        scores = [float(s) for s in client_scores(client_history(random.Random(number), "stable"))]
        pairs = list(pairwise(scores))
        first += [a for a, _ in pairs]
        second += [b for _, b in pairs]
        means.append(statistics.fmean(scores))
        spreads.append(statistics.pstdev(scores))
    assert 0.55 < statistics.correlation(first, second) < 0.8
    assert statistics.pstdev(means) > statistics.fmean(spreads)


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
