"""Repairs followed up: did the alliance come back after a concern was resolved with a repair?

A pure function of one client's ordered history, like the flag rules. The client's usual
level is the one `reliable_drop` measures from — the mean of their own ratings, here those
before the concern began — and "back" means not reliably below it: within the
reliable-change margin (Jacobson & Truax 1991). A repaired rupture goes with better
outcomes (Eubanks, Muran & Safran 2018), so a repair that did not hold is worth a second look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from measures.history import Point, Thresholds
from measures.rules import TOLERANCE

# The Concern.Recovery values (measures.choices), kept ORM-free here.
WATCHING = "watching"
RECOVERED = "recovered"
NOT_RECOVERED = "not_recovered"
NO_BASELINE = "no_baseline"
# How many client ratings after the repair are watched before it counts as not recovered.
FOLLOW_UP_RATINGS = 2


@dataclass(frozen=True)
class Recovery:
    """The follow-up's state, the session it recovered at, and the numbers behind it."""

    state: str
    at_session: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in (RECOVERED, NOT_RECOVERED, NO_BASELINE)


def usual_level(history: Sequence[Point]) -> float | None:
    """The mean of the client's ratings in `history`, as `reliable_drop` takes it (summed in
    whole tenths, so no float drift); None when they have not rated."""
    tenths = [round(p.client_score * 10) for p in history if p.client_score is not None]
    return sum(tenths) / len(tenths) / 10 if tenths else None


def recovery(
    history: Sequence[Point], *, concern_began: int, reviewed_through: int, t: Thresholds
) -> Recovery:
    """Follow a repair up over the next two client ratings.

    `concern_began` is the session number the concern opened at: the usual level is the mean
    of the client's ratings before it. `reviewed_through` is the client's latest session when
    the concern was resolved: the ratings after it are the follow-up. The first of them that
    is no more than the reliable change below the usual level is the recovery.
    """
    usual = usual_level([p for p in history if p.number < concern_began])
    if usual is None:
        return Recovery(NO_BASELINE)
    margin = t.reliable_change
    after = [p for p in history if p.number > reviewed_through and p.client_score is not None][
        :FOLLOW_UP_RATINGS
    ]
    evidence: dict[str, Any] = {
        "usual": round(usual, 2),
        "margin": round(margin, 2),
        "scores": [p.client_score for p in after],
        "sessions": [p.number for p in after],
    }
    for point in after:
        if usual - point.client_score <= margin + TOLERANCE:
            evidence["scores"] = evidence["scores"][: after.index(point) + 1]
            evidence["sessions"] = evidence["sessions"][: after.index(point) + 1]
            return Recovery(RECOVERED, point.number, evidence)
    if len(after) < FOLLOW_UP_RATINGS:
        return Recovery(WATCHING, evidence=evidence)
    return Recovery(NOT_RECOVERED, evidence=evidence)
