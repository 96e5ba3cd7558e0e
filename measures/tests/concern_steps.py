"""What the concern page's tests share: a concern to act on, valid input for each step,
and a check that a refused step changed nothing."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from measures.models import Concern
from measures.scoring import DIMENSIONS
from measures.tests.factories import RatingFactory
from sessions.models import Session

STATUS_CHANGES = ["concern-acknowledge", "concern-resolve", "concern-dismiss"]
NOTE = "We talked about the tension over homework; agreed a slower pace."
REASON = "A hard week at work."
COMMENT = "Worth raising in supervision."

# Valid input for each step, so a refusal is about who acts, not what they wrote.
VALID = {
    "concern-acknowledge": {},
    "concern-resolve": {"note": NOTE},
    "concern-dismiss": {"reason": REASON},
    "concern-comment": {"note": COMMENT},
}


def url(name: str, concern: Concern) -> str:
    return reverse(f"measures:{name}", args=[concern.pk])


def page_of(concern: Concern) -> str:
    return url("concern-detail", concern)


def rate(session: Session, score: int) -> None:
    RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, score))


def unchanged(concern: Concern) -> bool:
    """The concern and its history are as they were before the refused step."""

    def state() -> tuple[Any, ...]:
        return (
            concern.status,
            concern.note,
            concern.acknowledged_at,
            concern.acknowledged_by_id,
            concern.closed_at,
            concern.closed_by_id,
            concern.reviewed_through,
            concern.level_at_closing,
        )

    before = state()
    concern.refresh_from_db()
    return before == state() and not concern.events.exists()


def post(client: Any, name: str, concern: Concern, data: dict[str, str] | None = None) -> Any:
    return client.post(url(name, concern), VALID[name] if data is None else data)


# Stored values that must never reach a page: the page says them in words.
CODES = [
    "reliable_drop",
    "rater_discrepancy",
    "rupture_unresolved",
    "below_cutoff",
    "declining_trend",
    "disengagement",
    "a_lot",
    "not_at_all",
    "no_show",
    "Operator",
    "operator",
    "[9.5",
    "{&#x27;",
    "{'",
]
