"""Writes for outcome answers: the client's outcome check, stored with their rating.

The answers arrive with the alliance questions on the same link and are stored in the
same transaction as the rating, so a submission is whole or absent. The page says which
instrument it showed (as it says which privacy notice): answers are kept against the
questions the client actually read, even if the clinic changed instrument meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from clients import audit
from clients.models import AuditAction
from measures.models import Instrument, OutcomeAnswer
from sessions.models import Session

# Shown to the client above their answers, which are all kept.
UNKNOWN_INSTRUMENT = gettext_lazy(
    "This page showed questions we do not recognise. Please answer the questions above "
    "and send your answers again: nothing you entered is lost."
)


def instrument_check(
    session: Session, instrument: Instrument | None, *, shown_since: dt.datetime | None = None
) -> Instrument:
    """The instrument the client's page showed, if it is one their clinic offered since the
    page could be drawn (`shown_since`: the link's opening): its own, or a built-in one,
    not retired before then. Checked on the row the page was drawn from, not read again."""
    if instrument is None or instrument.clinic_id not in (None, session.client.clinic_id):
        raise ValidationError({"instrument": UNKNOWN_INSTRUMENT}, code="unknown_instrument")
    retired = instrument.retired_at
    if retired is not None and (shown_since is None or retired <= shown_since):
        raise ValidationError({"instrument": UNKNOWN_INSTRUMENT}, code="unknown_instrument")
    return instrument


def answers_check(instrument: Instrument, answers: Sequence[object]) -> list[int]:
    """The answers as whole numbers in the instrument's range, one per item."""
    low, high = instrument.minimum, instrument.maximum
    message = gettext_lazy("Please choose a number from %(low)s to %(high)s.") % {
        "low": low,
        "high": high,
    }
    if len(answers) != instrument.item_count:
        raise ValidationError({"instrument": UNKNOWN_INSTRUMENT}, code="wrong_item_count")
    checked: list[int] = []
    for value in answers:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(message, code="out_of_range")
        checked.append(value)
    return checked


def outcome_answer_save(
    *,
    session: Session,
    instrument: Instrument | None,
    answers: Sequence[object],
    actor: str,
    shown_since: dt.datetime | None = None,
) -> OutcomeAnswer:
    """Store one session's outcome answers (inside the caller's transaction), with the
    score the instrument's own scoring gives. `instrument` is the one the page showed
    (None when the page named one it did not show: refused); one retired since
    `shown_since` (the link's opening) is taken, as the page may have shown it."""
    instrument = instrument_check(session, instrument, shown_since=shown_since)
    checked = answers_check(instrument, answers)
    answer = OutcomeAnswer.objects.create(
        session=session,
        instrument=instrument,
        answers=checked,
        score=round(instrument.score(checked), 2),
    )
    audit.written(
        actor,
        AuditAction.CREATED,
        answer,
        client_id=session.client_id,
        clinic_id=session.client.clinic_id,
    )
    return answer
