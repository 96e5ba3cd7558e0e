"""The alliance score: pure arithmetic on one rating's six dimensions."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

# The six dimensions, in the order the forms and charts show them.
DIMENSIONS: tuple[str, ...] = (
    "trust",
    "empathy",
    "collaboration",
    "boundaries",
    "growth",
    "respect",
)
SCORE_MIN = 0
SCORE_MAX = 10


def alliance_score(values: Iterable[int]) -> Decimal:
    """The mean of the six dimension scores, to one decimal (half rounds up).

    With six integer items the mean is k/6, whose tenths never end in exactly
    5, so this agrees with the database's rounding in `with_alliance_score()`.
    """
    items = list(values)
    if len(items) != len(DIMENSIONS):
        raise ValueError(f"An alliance score needs {len(DIMENSIONS)} values, got {len(items)}.")
    mean = Decimal(sum(items)) / Decimal(len(items))
    return mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def one_decimal(value: Decimal | float) -> Decimal:
    """A score as the database returned it (SQLite hands back floats) to one decimal."""
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
