"""What the database itself refuses, whatever path a write takes."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from measures.models import Flag, Rating
from measures.tests.factories import FlagFactory, RatingFactory
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


def test_a_flag_cannot_be_resolved_without_a_note() -> None:
    flag = FlagFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.filter(pk=flag.pk).update(status="resolved", resolved_at=timezone.now())
    Flag.objects.filter(pk=flag.pk).update(
        status="resolved", resolved_at=timezone.now(), note="We talked it through."
    )


def test_a_flag_cannot_be_acknowledged_without_a_time() -> None:
    flag = FlagFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.filter(pk=flag.pk).update(status="acknowledged")
