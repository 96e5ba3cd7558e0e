"""The alliance score, in Python and in SQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from measures.models import Rating
from measures.scoring import alliance_score
from measures.tests.factories import RatingFactory
from sessions.tests.factories import SessionFactory


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([10, 10, 10, 10, 10, 10], "10.0"),
        ([0, 0, 0, 0, 0, 0], "0.0"),
        ([9, 9, 9, 9, 9, 8], "8.8"),  # 53/6 = 8.833…
        ([9, 9, 9, 9, 9, 10], "9.2"),  # 55/6 = 9.166…
        ([10, 10, 10, 10, 10, 9], "9.8"),  # 59/6 = 9.833…
        ([5, 6, 7, 8, 9, 10], "7.5"),
    ],
)
def test_the_score_is_the_mean_to_one_decimal(values: list[int], expected: str) -> None:
    assert alliance_score(values) == Decimal(expected)


def test_a_score_needs_all_six_dimensions() -> None:
    with pytest.raises(ValueError, match="needs 6 values"):
        alliance_score([10, 10, 10])


@pytest.mark.django_db
def test_the_database_annotation_agrees_with_python_for_every_total() -> None:
    """Every total from 0 to 60, so a rounding difference between the two cannot hide."""
    for total in range(61):
        values = [total // 6 + (1 if i < total % 6 else 0) for i in range(6)]
        RatingFactory(
            session=SessionFactory(),
            **dict(
                zip(
                    ["trust", "empathy", "collaboration", "boundaries", "growth", "respect"],
                    values,
                    strict=True,
                )
            ),
        )
    for rating in Rating.objects.with_alliance_score():
        assert rating.score == rating.alliance_score, rating.dimension_scores
