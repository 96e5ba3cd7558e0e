"""The sparkline: recent client scores scaled so that a change shows, the cut-off dashed."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from measures.history import Thresholds
from reports.templatetags.alliance import (
    SPARK_HEIGHT,
    SPARK_MIN_SPAN,
    score_badge,
    spark_range,
    sparkline,
)

pytestmark = pytest.mark.django_db  # the cut-off is the clinic's setting


def heights(svg: str) -> list[float]:
    points = re.search(r'<polyline class="sparkline-line" points="([^"]+)"', svg).group(1)
    return [float(point.split(",")[1]) for point in points.split()]


def cutoff_height(svg: str) -> float:
    return float(re.search(r'class="sparkline-cutoff"[^>]*y1="([\d.]+)"', svg).group(1))


def test_twelve_weeks_near_the_ceiling_are_drawn_tall_not_flat() -> None:
    """On the whole 0–10 scale 9.4 → 8.6 moved 1.8 px of 28; scaled, half the box."""
    weeks = [Decimal(v) for v in ("9.4", "9.3", "9.4", "9.2", "9.3", "9.1", "9.0", "8.9", "8.8",
                                  "8.7", "8.6", "8.6")]  # fmt: skip
    drawn = heights(sparkline(weeks))
    assert max(drawn) - min(drawn) > SPARK_HEIGHT / 3
    assert drawn[0] == min(drawn) and drawn[-1] == max(drawn)  # y grows downward


def test_the_cut_off_stays_in_the_box_and_between_the_scores_it_divides() -> None:
    svg = sparkline([Decimal("9.6"), Decimal("8.2")])
    high, low = heights(svg)
    assert 0 <= cutoff_height(svg) <= SPARK_HEIGHT
    assert high < cutoff_height(svg) < low  # 9.0 between 9.6 and 8.2


def test_a_wobble_of_a_tenth_is_not_drawn_as_a_cliff() -> None:
    drawn = heights(sparkline([Decimal("9.5"), Decimal("9.6"), Decimal("9.5")]))
    assert max(drawn) - min(drawn) < SPARK_HEIGHT / 10


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([9.0, 9.0], (8.25, 9.75)),  # the least span, centred
        ([10.0, 9.5], (8.5, 10.0)),  # pushed down from above the scale
        ([0.0, 0.5], (0.0, 1.5)),  # pushed up from below it
        ([3.0, 9.0], (3.0, 9.0)),  # wide enough already
    ],
)
def test_the_range_spans_the_values_within_the_scale(
    values: list[float], expected: tuple[float, float]
) -> None:
    low, high = spark_range(values)
    assert (low, high) == expected
    assert high - low >= SPARK_MIN_SPAN and low >= 0 and high <= 10


@pytest.mark.parametrize(("operator", "below"), [("lt", False), ("le", True)])
def test_a_score_at_the_cut_off_is_shown_below_it_exactly_when_the_rule_fires(
    settings: Any, operator: str, below: bool
) -> None:
    """With `ALLIANCE_CUTOFF_OPERATOR=le` a 9.0 raises the cut-off signal: its badge and
    sparkline must not show it above the line, in green."""
    settings.ALLIANCE_CUTOFF_OPERATOR = operator
    rule = Thresholds.from_settings()
    assert rule.is_below_cutoff(9.0) is below
    badge = score_badge(Decimal("9.0"))
    assert ("score-below" in badge) is below
    if below:  # said in words as the rule's evidence says it
        assert "(at or below the cut-off of 9.0)" in badge
    assert ("is-below" in sparkline([Decimal("9.5"), Decimal("9.0")])) is below
    assert "score-above" in score_badge(Decimal("9.1"))
