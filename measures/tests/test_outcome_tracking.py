"""On track or not, in the database: judged answers, their signal, raised concerns, courses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from measures import findings_store
from measures.courses import course_for
from measures.detection import evaluate_clients
from measures.models import Concern, ConcernEvent, ExpectedCourse, Flag, OutcomeAnswer
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_run
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory, built_in_check
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def week(
    client: Client,
    weeks_ago: float,
    outcome: float | None,
    alliance: int | None = None,
    **dims: int,
) -> Session:
    """A session `weeks_ago`: an outcome answer of four equal items scoring `outcome` (the
    built-in check's mean) and, if given, a client rating of six dimensions at `alliance`
    (or as `dims` say)."""
    session = SessionFactory(
        client=client, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
    )
    if outcome is not None:
        OutcomeAnswerFactory(session=session, answers=[outcome] * 4)
    if alliance is not None:
        RatingFactory(session=session, **{**dict.fromkeys(DIMENSIONS, alliance), **dims})
    return session


def tracks(client: Client) -> list[str]:
    return list(
        OutcomeAnswer.objects.filter(session__client=client)
        .order_by("session__starts_at")
        .values_list("track", flat=True)
    )


def signals(client: Client) -> list[tuple[int, str]]:
    return sorted(
        Flag.objects.filter(client=client, rule="not_on_track").values_list(
            "session__number", "severity"
        )
    )


def test_a_reliable_deterioration_puts_the_client_off_track_and_opens_a_concern(
    client_record: Client,
) -> None:
    # The built-in check: 0–10, reliable change 1.25. 6 → 6 → 4.75 is a reliable fall.
    for weeks_ago, score in [(3, 6), (2, 6), (1, 4.75)]:
        week(client_record, weeks_ago, score)
    evaluate_clients([client_record.pk])
    assert tracks(client_record) == ["starting", "on_track", "not_on_track"]
    assert signals(client_record) == [(3, "medium")]
    concern = Concern.objects.get(client=client_record)
    assert (concern.opening_rule, concern.severity, concern.raised_from) == (
        "not_on_track",
        "medium",
        "",
    )
    flag = Flag.objects.get(rule="not_on_track")
    assert flag.description == ("Outcome 4.75: worse than the first score of 6 by 1.25 or more")


@pytest.mark.parametrize("copy_from", [0, 10_000], ids=["copy", "arrays"])
def test_judgements_written_a_few_at_a_time_are_all_stored(
    client_record: Client, monkeypatch: pytest.MonkeyPatch, copy_from: int
) -> None:
    """A sweep's many judged answers are COPYed (on PostgreSQL), then stored in
    statements of JUDGED_A_STATEMENT (so the planner looks each up by index): split
    across statements, every one is stored. One client's few go in one statement."""
    monkeypatch.setattr(findings_store, "JUDGED_A_STATEMENT", 2)
    monkeypatch.setattr(findings_store, "COPY_FROM", copy_from)
    for weeks_ago, score in [(5, 6), (4, 6), (3, 5.5), (2, 4.75), (1, 4.5)]:
        week(client_record, weeks_ago, score)
    evaluate_clients([client_record.pk])
    assert tracks(client_record) == [
        "starting", "on_track", "on_track", "not_on_track", "not_on_track"
    ]  # fmt: skip
    judged = OutcomeAnswer.objects.filter(session__client=client_record)
    assert judged.filter(judged_at__isnull=False).count() == 5


@override_settings(ALLIANCE_OUTCOME_MIN_CLIENTS=3)
def test_both_ways_of_storing_judgements_store_the_same_values(
    client_record: Client, therapist: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The track, the expected score and the lowest still on track arrive whole, whether
    COPYed (a sweep's many answers) or sent as arrays (one client's few)."""
    for _ in range(3):  # an expected course, as in the test below
        peer = ClientFactory(therapist=therapist)
        week(peer, 3, 4)
        week(peer, 2, 6)
    week(client_record, 3, 4)
    week(client_record, 2, 4)
    sweep_run()  # the clinic's expected courses
    answers = OutcomeAnswer.objects.order_by("pk")
    stored = []
    for copy_from in (0, 10_000):
        monkeypatch.setattr(findings_store, "COPY_FROM", copy_from)
        answers.update(track="", expected=None, lowest_on_track=None, judged_at=None)
        evaluate_clients(Client.objects.values_list("pk", flat=True))
        stored.append(list(answers.values_list("track", "expected", "lowest_on_track")))
    assert stored[0] == stored[1]
    assert stored[0][-1] == ("not_on_track", Decimal("6.00"), Decimal("4.75"))


@override_settings(ALLIANCE_OUTCOME_MIN_CLIENTS=3)
@pytest.mark.parametrize("copy_from", [0, 10_000], ids=["copy", "arrays"])
def test_an_answer_judged_as_it_is_stored_is_not_written_again(
    client_record: Client, therapist: User, monkeypatch: pytest.MonkeyPatch, copy_from: int
) -> None:
    """The stored judgement (two places, read back as a number) meets the new one as equal
    when nothing changed, so evaluating again writes no answer: not even the time judged."""
    monkeypatch.setattr(findings_store, "COPY_FROM", copy_from)
    # An expected course (the median improvement 2.1) whose numbers no float holds exactly.
    for _ in range(3):
        for first, second in [(4, 5.9), (4, 6.1), (4, 6.7)]:
            peer = ClientFactory(therapist=therapist)
            week(peer, 3, first)
            week(peer, 2, second)
    week(client_record, 3, 4)
    week(client_record, 2, 4.5)
    sweep_run()
    answers = OutcomeAnswer.objects.order_by("pk").values_list(
        "track", "expected", "lowest_on_track", "judged_at"
    )
    before = list(answers.all())
    assert before[-1][:3] == ("not_on_track", Decimal("6.10"), Decimal("4.85"))
    evaluate_clients(
        Client.objects.values_list("pk", flat=True),
        now=timezone.now() + dt.timedelta(hours=1),
    )
    assert list(answers.all()) == before


def test_a_fall_smaller_than_the_reliable_change_stays_on_track(client_record: Client) -> None:
    for weeks_ago, score in [(3, 6), (2, 5.5), (1, 5)]:
        week(client_record, weeks_ago, score)
    evaluate_clients([client_record.pk])
    assert tracks(client_record) == ["starting", "on_track", "on_track"]
    assert not Flag.objects.exists() and not Concern.objects.exists()


def test_evaluating_again_adds_nothing(client_record: Client) -> None:
    for weeks_ago, score in [(3, 6), (2, 4), (1, 3)]:
        week(client_record, weeks_ago, score)
    evaluate_clients([client_record.pk])
    before = (Flag.objects.count(), Concern.objects.count(), ConcernEvent.objects.count())
    evaluate_clients([client_record.pk])
    assert (Flag.objects.count(), Concern.objects.count(), ConcernEvent.objects.count()) == before
    # Off track at session 2 and still at 3: one signal, at the session it went off track.
    assert signals(client_record) == [(2, "medium")]


def test_going_off_track_again_after_recovering_is_a_new_signal(client_record: Client) -> None:
    for weeks_ago, score in [(4, 6), (3, 4), (2, 6.5), (1, 4)]:
        week(client_record, weeks_ago, score)
    evaluate_clients([client_record.pk])
    assert tracks(client_record) == ["starting", "not_on_track", "on_track", "not_on_track"]
    assert [number for number, _ in signals(client_record)] == [2, 4]


def test_an_alliance_concern_of_a_client_off_track_is_raised_one_level_and_says_so(
    client_record: Client,
) -> None:
    # A steady alliance of 10, then trust falls by 4: a drop in one dimension (medium) …
    for weeks_ago, alliance in [(6, 10), (5, 10), (4, 10), (3, 10), (2, 10)]:
        week(client_record, weeks_ago, 6, alliance)
    evaluate_clients([client_record.pk])
    assert not Concern.objects.exists()
    week(client_record, 1, 4.5, 10, trust=6)  # … as the outcome falls reliably.
    evaluate_clients([client_record.pk])
    concern = Concern.objects.get(client=client_record)
    assert concern.opening_rule != "not_on_track"
    assert (concern.severity, concern.raised_from) == ("high", "medium")
    assert "Raised one level (from medium)" in concern.raised_words


def test_an_open_concern_is_raised_when_the_client_goes_off_track_later(
    client_record: Client,
) -> None:
    for weeks_ago, alliance in [(7, 10), (6, 10), (5, 10), (4, 10), (3, 10)]:
        week(client_record, weeks_ago, 6, alliance)
    week(client_record, 2, 6, 10, trust=6)
    evaluate_clients([client_record.pk])
    concern = Concern.objects.get(client=client_record)
    assert (concern.severity, concern.raised_from) == ("medium", "")
    week(client_record, 1, 4, None)
    evaluate_clients([client_record.pk])
    concern.refresh_from_db()
    assert (concern.severity, concern.raised_from) == ("high", "medium")
    event = ConcernEvent.objects.get(concern=concern, action="severity_raised")
    assert (event.severity, event.evidence) == ("high", {"not_on_track": True, "from": "medium"})
    assert event.numbers == [("Raised because", "the client is not on track on their outcome")]


def test_the_concern_page_says_why_it_was_raised(
    client: Any, therapist: User, client_record: Client
) -> None:
    for weeks_ago, alliance in [(6, 10), (5, 10), (4, 10), (3, 10), (2, 10)]:
        week(client_record, weeks_ago, 6, alliance)
    week(client_record, 1, 4.5, 10, trust=6)
    evaluate_clients([client_record.pk])
    concern = Concern.objects.get()
    client.force_login(therapist)
    html = client.get(reverse("measures:concern-detail", args=[concern.pk])).content.decode()
    assert "Raised one level (from medium)" in html
    assert "Outcome 4.5: worse than the first score of 6" in html


@override_settings(ALLIANCE_OUTCOME_MIN_CLIENTS=3)
def test_the_expected_course_comes_from_the_clinics_own_clients(
    client_record: Client, therapist: User
) -> None:
    # Three clients of the clinic who started at 4 (inside the clinical range, near the
    # cut-off: "moderate") improved by 2 by their second answer.
    for _ in range(3):
        peer = ClientFactory(therapist=therapist)
        week(peer, 3, 4)
        week(peer, 2, 6)
    # Another client starting at 4 stays at 4: not worse than they began, but more than
    # the reliable change (1.25) below the 6 expected of clients like them (the median
    # improvement of the four, themselves included, is 2).
    week(client_record, 3, 4)
    week(client_record, 2, 4)
    sweep_run()
    assert course_for(client_record.clinic_id, built_in_check().pk)["moderate"][2].clients == 4
    answer = OutcomeAnswer.objects.filter(session__client=client_record).last()
    assert (answer.track, float(answer.expected)) == ("not_on_track", 6.0)
    flag = Flag.objects.get(client=client_record, rule="not_on_track")
    assert flag.evidence["below_expected"] and not flag.evidence["deteriorated"]
    assert "more than 1.25 worse than the 6 expected by now" in flag.description


@override_settings(ALLIANCE_OUTCOME_MIN_CLIENTS=5)
def test_until_enough_clients_there_is_no_expected_course_to_fall_below(
    client_record: Client, therapist: User
) -> None:
    for _ in range(3):
        peer = ClientFactory(therapist=therapist)
        week(peer, 3, 4)
        week(peer, 2, 6)
    week(client_record, 3, 4)
    week(client_record, 2, 4)
    sweep_run()
    answer = OutcomeAnswer.objects.filter(session__client=client_record).last()
    assert (answer.track, answer.expected) == ("on_track", None)
    assert not Flag.objects.filter(rule="not_on_track").exists()


def test_voided_sessions_and_erased_clients_do_not_count_in_the_course(
    client_record: Client, therapist: User
) -> None:
    peer = ClientFactory(therapist=therapist, excluded_from_statistics=True)
    week(peer, 3, 4)
    week(peer, 2, 6)
    voided = week(client_record, 3, 4)
    week(client_record, 2, 8)
    Session.objects.filter(pk=voided.pk).update(
        voided_at=timezone.now(), voided_by=therapist, void_reason="Logged for the wrong client."
    )
    sweep_run()
    assert not ExpectedCourse.objects.exists()
