"""Concerns in the database: opened by the first alerting signal, joined by the rest,
closed by the therapist, and opened again only for something new."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from clients.models import Client
from clients.tests.factories import ClientFactory, ClinicFactory, TherapistFactory
from measures.detection import evaluate_clients
from measures.models import ClinicThresholds, Concern, ConcernEvent, Flag, Rating
from measures.review import concern_dismiss, concern_resolve
from measures.scoring import DIMENSIONS
from measures.services import rating_submit, rating_update
from measures.tests.factories import FlagFactory, RatingFactory
from measures.tests.test_detection import week
from sessions.models import Session

# Each test both ways signals are stored (measures/tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signals_stored_both_ways")]


def history(client: Client, scores: list[int | None], start_weeks_ago: int = 20) -> list[Session]:
    """Weekly sessions with client ratings whose six dimensions are each score."""
    return [week(client, start_weeks_ago - n, score) for n, score in enumerate(scores)]


def therapist_rates(session: Session, score: int, **answers: Any) -> Rating:
    return RatingFactory(
        session=session,
        rater=Rating.Rater.THERAPIST,
        submitted_by=session.therapist,
        **{**dict.fromkeys(DIMENSIONS, score), **answers},
    )


def concern_of(client: Client) -> Concern:
    return Concern.objects.get(client=client, status__in=Concern.REVIEWABLE)


@pytest.fixture
def slid(client_record: Client) -> Client:
    """Five sessions at 10, then 6: one reliable drop, under the cut-off."""
    history(client_record, [10, 10, 10, 10, 10, 6])
    evaluate_clients([client_record.pk])
    return client_record


# --- The first alerting signal opens; the rest join ------------------------------------


def test_a_score_under_the_cutoff_alone_opens_no_concern(client_record: Client) -> None:
    history(client_record, [8, 8, 8, 8, 8, 8])
    outcome = evaluate_clients([client_record.pk])
    assert outcome.flags_created == 6 and outcome.concerns_opened == 0
    assert not Concern.objects.exists()
    # Each is context: placed (outside any concern), never to be judged again.
    assert Flag.objects.filter(concern__isnull=True, grouped_at__isnull=False).count() == 6


def test_a_stored_signal_not_yet_placed_is_grouped_with_the_new_ones(
    client_record: Client,
) -> None:
    """A signal stored but never placed (outside any concern, not yet grouped) is grouped
    with what the next evaluation finds, in session order: here it opens the concern the
    new drop then joins."""
    sessions = history(client_record, [10, 10, 10, 10, 10, 6])
    Rating.objects.filter(session=sessions[3]).update(
        rupture="a_lot", rupture_resolved="not_at_all"
    )
    stored = FlagFactory(
        session=sessions[3],
        rule=Flag.Rule.RUPTURE_UNRESOLVED,
        severity=Flag.Severity.HIGH,
        evidence={"client": {"rupture": "a_lot", "talked_through": "not_at_all"}},
        grouped_at=None,
    )
    outcome = evaluate_clients([client_record.pk])
    assert outcome.concerns_opened == 1
    concern = concern_of(client_record)
    stored.refresh_from_db()
    assert stored.concern == concern and stored.grouped_at is not None
    assert (concern.opening_rule, concern.first_session, concern.last_session) == (
        Flag.Rule.RUPTURE_UNRESOLVED,
        sessions[3],
        sessions[5],
    )
    assert set(concern.signals.values_list("session__number", flat=True)) == {4, 6}
    assert not Flag.objects.filter(grouped_at__isnull=True).exists()


def test_context_already_shown_stays_outside_a_concern_opened_later(client_record: Client) -> None:
    history(client_record, [10, 10, 10, 10])
    low = week(client_record, 11, 9, trust=8)  # 8.8: under the cut-off, within reach of usual
    assert evaluate_clients([client_record.pk]).concerns_opened == 0
    week(client_record, 10, 5)
    assert evaluate_clients([client_record.pk]).concerns_opened == 1
    concern = concern_of(client_record)
    assert set(concern.signals.values_list("session__number", "rule")) == {
        (6, "below_cutoff"),
        (6, "reliable_drop"),
        (6, "dimension_drop"),
        (6, "declining_trend"),
    }
    assert Flag.objects.get(session=low).concern is None


def test_later_signals_join_the_open_concern_and_raise_its_severity(slid: Client) -> None:
    concern = concern_of(slid)
    Concern.objects.filter(pk=concern.pk).update(severity="medium", notified_at=timezone.now())
    week(slid, 0.5, 5, rupture="a_lot", rupture_resolved="not_at_all")
    assert evaluate_clients([slid.pk]).concerns_opened == 0
    concern.refresh_from_db()
    assert concern.severity == "high"
    assert concern.last_session.number == 7
    assert concern.notified_at is None  # the next digest says it got worse
    event = ConcernEvent.objects.get(concern=concern)
    assert (event.action, event.severity, event.actor) == ("severity_raised", "high", None)
    assert Concern.objects.filter(client=slid).count() == 1


def test_an_acknowledged_concern_still_takes_new_signals(slid: Client, therapist: Any) -> None:
    from measures.review import concern_acknowledge

    concern_acknowledge(concern=concern_of(slid), actor=therapist)
    week(slid, 0.5, 5, rupture="a_lot", rupture_resolved="partly")
    evaluate_clients([slid.pk])
    concern = Concern.objects.get(client=slid)
    assert concern.status == "acknowledged"
    assert concern.signals.filter(rule="rupture_unresolved").exists()


# --- Closing, and what may open a new concern -------------------------------------------


def test_closing_records_the_stretch_reviewed(slid: Client, therapist: Any) -> None:
    concern = concern_resolve(concern=concern_of(slid), actor=therapist, note="Talked it over.")
    assert (concern.reviewed_through, concern.level_at_closing) == (6, Decimal("6.0"))
    assert concern.closed_by == therapist and concern.closed_at is not None


def test_the_same_low_stretch_does_not_reopen_a_closed_concern(
    slid: Client, therapist: Any
) -> None:
    concern_dismiss(concern=concern_of(slid), actor=therapist, reason="A hard month at work.")
    for weeks_ago in (0.8, 0.6, 0.4):
        session = week(slid, weeks_ago, 6)
        therapist_rates(session, 9)  # the therapist rates it well above the client
        outcome = evaluate_clients([slid.pk])
        assert outcome.flags_created > 0 and outcome.concerns_opened == 0
    assert Concern.objects.filter(client=slid).count() == 1
    repeats = Flag.objects.filter(client=slid, session__number__gt=6)
    assert repeats.filter(rule="rater_discrepancy").count() == 3
    assert not repeats.filter(concern__isnull=False).exists()


def test_a_further_reliable_fall_opens_a_new_concern(slid: Client, therapist: Any) -> None:
    concern_dismiss(concern=concern_of(slid), actor=therapist, reason="A hard month at work.")
    session = week(slid, 0.5, 4)  # 6.0 at closing → 4.0: a fall of 2.0 > 1.52
    therapist_rates(session, 9)
    assert evaluate_clients([slid.pk]).concerns_opened == 1
    assert concern_of(slid).first_session == session


def test_a_new_rupture_opens_a_new_concern_whatever_the_level(slid: Client, therapist: Any) -> None:
    concern_resolve(concern=concern_of(slid), actor=therapist, note="Talked it over.")
    week(slid, 0.5, 6, rupture="a_lot", rupture_resolved="partly")
    assert evaluate_clients([slid.pk]).concerns_opened == 1
    assert concern_of(slid).opening_rule == "rupture_unresolved"


def test_after_a_recovery_a_new_fall_is_a_new_episode(slid: Client, therapist: Any) -> None:
    concern_resolve(concern=concern_of(slid), actor=therapist, note="Talked it over.")
    for weeks_ago in (0.9, 0.8, 0.7, 0.6):
        week(slid, weeks_ago, 10)
    evaluate_clients([slid.pk])
    week(slid, 0.5, 7)
    assert evaluate_clients([slid.pk]).concerns_opened == 1


# --- Evidence that changes, and each clinic's thresholds --------------------------------


def test_a_revised_rating_updates_an_open_signal_but_never_a_closed_concerns(
    client_record: Client, therapist: Any
) -> None:
    sessions = history(client_record, [10, 10, 10, 10, 10, 7])
    rating = therapist_rates(sessions[-1], 10)
    evaluate_clients([client_record.pk])
    signal = Flag.objects.get(rule="rater_discrepancy")
    assert signal.evidence["difference"] == 3.0
    Rating.objects.filter(pk=rating.pk).update(**dict.fromkeys(DIMENSIONS, 9))
    assert evaluate_clients([client_record.pk]).flags_created == 1
    signal.refresh_from_db()
    assert signal.evidence["difference"] == 2.0 and signal.concern is not None
    concern_dismiss(concern=signal.concern, actor=therapist, reason="Looked at it together.")
    Rating.objects.filter(pk=rating.pk).update(**dict.fromkeys(DIMENSIONS, 10))
    assert evaluate_clients([client_record.pk]).flags_created == 0
    signal.refresh_from_db()
    assert signal.evidence["difference"] == 2.0  # the record, as the therapist saw it


def test_a_signal_that_becomes_severe_is_placed_again(client_record: Client) -> None:
    history(client_record, [10, 10, 10, 10])
    small = week(client_record, 1, 10, rupture="a_little", rupture_resolved="partly")
    evaluate_clients([client_record.pk])
    assert Flag.objects.get(rule="rupture_unresolved").severity == "low"  # context
    assert not Concern.objects.exists()
    Rating.objects.filter(session=small).update(rupture="a_lot")
    assert evaluate_clients([client_record.pk]).concerns_opened == 1
    signal = Flag.objects.get(rule="rupture_unresolved")
    assert signal.severity == "high" and signal.concern == concern_of(client_record)


def test_each_clinic_is_judged_by_its_own_thresholds(client_record: Client) -> None:
    elsewhere = ClientFactory(therapist=TherapistFactory(clinic=ClinicFactory()))
    for person in (client_record, elsewhere):
        week(person, 2, 9)
        week(person, 1, 9, trust=6)  # one dimension falls 3: under the default of 4
    ClinicThresholds.objects.create(clinic=client_record.clinic, dimension_drop=3)
    evaluate_clients([client_record.pk, elsewhere.pk])
    assert Flag.objects.filter(client=client_record, rule="dimension_drop").exists()
    assert not Flag.objects.filter(client=elsewhere, rule="dimension_drop").exists()


# --- Every rating is evaluated at once --------------------------------------------------


def test_the_therapists_rating_queues_an_evaluation_on_commit(
    client_record: Client, therapist: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sessions = history(client_record, [10, 10, 10, 10, 10, 7])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rating_submit(
            session=sessions[-1],
            rater=Rating.Rater.THERAPIST,
            answers={**dict.fromkeys(DIMENSIONS, 10), "rupture": "none"},
            submitted_by=therapist,
        )
    assert len(callbacks) == 1
    assert Flag.objects.filter(rule="rater_discrepancy", client=client_record).exists()
    assert concern_of(client_record).signals.filter(rule="rater_discrepancy").exists()


def test_a_revised_therapist_rating_is_evaluated_too(
    client_record: Client, therapist: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sessions = history(client_record, [8, 8, 8, 8, 8, 8])
    with django_capture_on_commit_callbacks(execute=True):
        rating = rating_submit(
            session=sessions[-1],
            rater=Rating.Rater.THERAPIST,
            answers={**dict.fromkeys(DIMENSIONS, 8), "rupture": "none"},
            submitted_by=therapist,
        )
    assert not Flag.objects.filter(rule="rater_discrepancy").exists()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rating_update(
            rating=rating,
            actor=therapist,
            answers={**dict.fromkeys(DIMENSIONS, 10), "rupture": "none"},
        )
    assert len(callbacks) == 1
    assert Flag.objects.filter(rule="rater_discrepancy").exists()


def test_a_bulk_load_can_leave_evaluation_to_itself(
    client_record: Client, therapist: Any, django_capture_on_commit_callbacks: Any
) -> None:
    session = week(client_record, 1, None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rating_submit(
            session=session,
            rater=Rating.Rater.CLIENT,
            answers={**dict.fromkeys(DIMENSIONS, 5), "rupture": "none"},
            evaluate=False,
        )
    assert callbacks == []


def test_signals_dated_when_found(slid: Client) -> None:
    later = timezone.now() + dt.timedelta(hours=1)
    week(slid, 0.5, 3)
    evaluate_clients([slid.pk], now=later)
    assert Flag.objects.filter(session__number=7).values_list("created_at", flat=True)[0] == later
