"""What the database itself refuses, whatever path a write takes."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.tests.factories import ClinicFactory
from measures.models import ClinicThresholds, Concern, Flag, Rating
from measures.tests.factories import ConcernFactory, FlagFactory, RatingFactory
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "dimension", ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"]
)
@pytest.mark.parametrize("value", [-1, 11])
def test_a_score_outside_0_to_10_is_refused_by_the_database(dimension: str, value: int) -> None:
    session = SessionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingFactory(session=session, **{dimension: value})
    assert not Rating.objects.exists()


def test_a_second_rating_by_the_same_rater_is_refused_by_the_database() -> None:
    first = RatingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingFactory(session=first.session, rater=first.rater)
    RatingFactory(session=first.session, rater=Rating.Rater.THERAPIST)
    assert first.session.ratings.count() == 2


def test_talked_through_is_only_recorded_after_a_rupture() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingFactory(rupture="none", rupture_resolved="fully")
    RatingFactory(rupture="a_little", rupture_resolved="partly")


def test_a_flag_is_unique_per_session_and_rule() -> None:
    flag = FlagFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        FlagFactory(session=flag.session, rule=flag.rule)
    FlagFactory(session=flag.session, rule=Flag.Rule.RUPTURE_UNRESOLVED)


def test_a_concern_cannot_be_closed_without_a_note() -> None:
    concern = ConcernFactory()
    for status in ("resolved", "dismissed"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Concern.objects.filter(pk=concern.pk).update(status=status, closed_at=timezone.now())
    Concern.objects.filter(pk=concern.pk).update(
        status="resolved", closed_at=timezone.now(), note="We talked it through."
    )


def test_a_concern_cannot_be_acknowledged_without_a_time() -> None:
    concern = ConcernFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Concern.objects.filter(pk=concern.pk).update(status="acknowledged")
    Concern.objects.filter(pk=concern.pk).update(
        status="acknowledged", acknowledged_at=timezone.now()
    )


def test_a_client_has_at_most_one_concern_open() -> None:
    concern = ConcernFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConcernFactory(
            session=concern.first_session, status="acknowledged", acknowledged_at=timezone.now()
        )
    # Closed ones are history: any number of them.
    for _ in range(2):
        ConcernFactory(
            session=concern.first_session, status="dismissed", closed_at=timezone.now(), note="No."
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "closed"), ("severity", "urgent"), ("opening_rule", "a_rule_of_thumb")],
)
def test_a_concern_takes_only_known_choices(field: str, value: str) -> None:
    concern = ConcernFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Concern.objects.filter(pk=concern.pk).update(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sd", 0),
        ("reliability", 1.0),
        ("reliability", -0.1),
        ("dimension_drop", 11),
        ("trend_min_fall", -1),
        ("discrepancy", 0),
    ],
)
def test_a_clinics_thresholds_stay_in_range(field: str, value: float) -> None:
    clinic = ClinicFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicThresholds.objects.create(clinic=clinic, **{field: value})
    ClinicThresholds.objects.create(clinic=clinic)  # nothing set: the settings apply
