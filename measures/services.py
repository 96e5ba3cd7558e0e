"""Writes for ratings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from clients.models import User
from measures.models import Rating
from measures.scoring import DIMENSIONS
from sessions.models import Session

DUPLICATE_RATING_MESSAGE = "This session has already been rated by this rater."


def _check_rater(session: Session, rater: str, submitted_by: User | None) -> None:
    if rater == Rating.Rater.THERAPIST:
        if submitted_by is None or submitted_by.pk != session.therapist_id:
            raise PermissionDenied("Only the therapist who led this session can rate it as therapist.")
        if submitted_by.clinic_id != session.client.clinic_id:
            raise PermissionDenied("This session belongs to another clinic.")
    elif rater == Rating.Rater.CLIENT:
        if submitted_by is not None:
            raise PermissionDenied("A client rating comes from the client, not from staff.")
    else:
        raise ValidationError({"rater": f"Unknown rater {rater!r}."})


def _rating_from_answers(session: Session, rater: str, answers: Mapping[str, Any]) -> Rating:
    missing = [name for name in DIMENSIONS if answers.get(name) in (None, "")]
    if missing:
        raise ValidationError({name: "Please choose a score from 0 to 10." for name in missing})
    rating = Rating(session=session, rater=rater)
    for name in DIMENSIONS:
        try:
            setattr(rating, name, int(answers[name]))
        except (TypeError, ValueError):
            raise ValidationError({name: "Please choose a score from 0 to 10."}) from None
    rating.rupture = answers.get("rupture") or Rating.Rupture.NONE
    rating.rupture_resolved = answers.get("rupture_resolved") or ""
    rating.comment = (answers.get("comment") or "").strip()
    if rating.rupture == Rating.Rupture.NONE:
        # The follow-up question is only asked after a rupture; drop a stray answer.
        rating.rupture_resolved = ""
    elif rater == Rating.Rater.CLIENT and not rating.rupture_resolved:
        raise ValidationError({"rupture_resolved": "Please say whether it was talked through."})
    return rating


def rating_submit(
    *,
    session: Session,
    rater: str,
    answers: Mapping[str, Any],
    submitted_by: User | None = None,
) -> Rating:
    """Store one rater's rating of an attended session; a second one is refused."""
    _check_rater(session, rater, submitted_by)
    if not session.was_attended:
        raise ValidationError("Only an attended session can be rated.")
    rating = _rating_from_answers(session, rater, answers)
    rating.submitted_by = submitted_by
    rating.full_clean()
    try:
        # A savepoint, so a lost race leaves the caller's transaction usable.
        with transaction.atomic():
            rating.save()
    except IntegrityError:
        # Two submissions raced past full_clean(); the database kept the first.
        if Rating.objects.filter(session=session, rater=rater).exists():
            raise ValidationError(DUPLICATE_RATING_MESSAGE) from None
        raise
    return rating
