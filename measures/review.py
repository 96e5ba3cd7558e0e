"""The review of a concern: acknowledge, then resolve with a repair note or dismiss with a reason.

Only the client's treating therapist moves a concern on; supervisors and clinic
admins read it (and supervisors may comment). Each step is a conditional UPDATE on
the concern's current status, so two clicks or two tabs cannot both succeed, and
each step is kept as a ConcernEvent: who, what, when, and what they wrote. The audit
trail names the step's fields ("status", "note", "comment"), never what was written.

An erased client's concern takes no new words (`clients.scoping.takes_personal_data`):
no comment, repair note or reason. It can be acknowledged, and dismissed without a reason
(its note reads "(erased)"), but not resolved: a repair note would be new words.

Closing records the stretch the therapist reviewed — the client's latest session
and score at that moment — so a later signal opens a new concern only for
something new (`measures.grouping.is_new`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from alliance.fields import refuse_direction_controls, written
from clients import audit
from clients.models import AuditAction, Client, User
from clients.scoping import is_treating_therapist, may_comment_on, takes_personal_data
from clients.services import check_takes_personal_data
from measures.models import Concern, ConcernEvent, Rating, alliance_score_expression
from measures.rights import ERASED_NOTE
from sessions.models import Session

NOTE_MAX_LENGTH = 4000
WITHDRAWN_MESSAGE = (
    "Alliance has withdrawn this concern: its signals no longer hold on the ratings as they "
    "now stand, so there is nothing to review."
)
NEW_SIGNALS = (
    'A new signal joined this concern after this page was opened (it is under "Signals in '
    'this concern"), so nothing was saved: closing the concern closes every signal in it. '
    "Read it, then send this again; what you wrote is kept."
)
ERASED_DISMISSAL = (
    "This client's record was erased: it keeps no new words, so the concern is dismissed "
    "without a reason, and nothing was saved."
)


def _locked(concern: Concern) -> Concern:
    """The concern's row locked till the step commits, then read again with its client: an
    erasure or a move committed since the page was drawn counts. An erasure under way
    (which locks the client's concerns, `measures.rights.client_erase`) waits for the step
    and erases its words with the rest; checked before it and written after, a note stayed
    on the erased record for ever. The client is read after the lock, in a statement of its
    own: read with the locked row, it would be as it stood before the wait."""
    locked = Concern.objects.select_for_update(of=("self",)).get(pk=concern.pk)
    locked.client = Client.objects.get(pk=locked.client_id)
    return locked


def _check_is_treating_therapist(actor: User, concern: Concern) -> None:
    if not is_treating_therapist(actor, concern.client):
        raise PermissionDenied("Only the client's therapist can review this concern.")


def _clean_note(note: str, *, field: str, required: str) -> str:
    note = written(note)
    if not note:
        raise ValidationError({field: required})
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {field: f"Please keep it to {NOTE_MAX_LENGTH:,} characters or fewer."}
        )
    refuse_direction_controls(note, field=field)
    return note


def _move(concern: Concern, *, allowed_from: tuple[str, ...], **changes: object) -> Concern:
    """Change the concern only if it is still in one of `allowed_from`; refuse otherwise."""
    moved = Concern.objects.filter(pk=concern.pk, status__in=allowed_from).update(**changes)
    if not moved:
        concern.refresh_from_db(fields=["status"])
        raise _moved_on(concern)
    concern.refresh_from_db()
    return concern


def _moved_on(concern: Concern) -> ValidationError:
    """The refusal for a step on a concern that is no longer where the step starts from."""
    if concern.is_withdrawn:
        return ValidationError(WITHDRAWN_MESSAGE)
    return ValidationError(f"This concern is already {concern.get_status_display().lower()}.")


def _check_nothing_new(concern: Concern, seen: Collection[int] | None, field: str) -> None:
    """Closing marks every signal in the concern reviewed (a later one opens a concern only
    for something new): one that joined after the page was drawn (`seen`, the signals it
    showed) would be closed unread, a rupture reported since under a note about a fall."""
    if seen is None:
        return
    if concern.signals.filter(withdrawn_at__isnull=True).exclude(pk__in=list(seen)).exists():
        raise ValidationError({field: ValidationError(NEW_SIGNALS, code="new_signals")})


def _check_still_to_review(concern: Concern) -> None:
    """Said before a note is checked: a note missing for a concern closed meanwhile is not
    what the therapist needs to hear (the conditional update decides, `_move`)."""
    if not concern.needs_review:
        raise _moved_on(concern)


@transaction.atomic
def concern_acknowledge(
    *, concern: Concern, actor: User, now: dt.datetime | None = None
) -> Concern:
    """The therapist has seen the concern and will look into it with the client."""
    concern = _locked(concern)
    _check_is_treating_therapist(actor, concern)
    clinic_id = concern.client.clinic_id  # before _move's refresh forgets the client
    now = now or timezone.now()
    concern = _move(
        concern,
        allowed_from=(Concern.Status.OPEN,),
        status=Concern.Status.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=actor,
        updated_at=now,
    )
    ConcernEvent.objects.create(
        concern=concern, action=ConcernEvent.Action.ACKNOWLEDGED, actor=actor, at=now
    )
    _audit(actor, concern, ["status"], clinic_id)
    return concern


def _audit(actor: User, concern: Concern, fields: list[str], clinic_id: int) -> None:
    audit.written(actor, AuditAction.CHANGED, concern, fields=fields, clinic_id=clinic_id)


def reviewed_stretch(client_id: int) -> tuple[int | None, Decimal | None]:
    """The client's latest session number and latest client alliance score, now."""
    latest_number = (
        Session.objects.current().filter(client_id=client_id).aggregate(n=Max("number"))["n"]
    )
    latest_score = (
        Rating.objects.by_client()
        .of_current_sessions()
        .filter(session__client_id=client_id)
        .order_by("-session__starts_at", "-session__number")
        .annotate(score=alliance_score_expression())
        .values_list("score", flat=True)
        .first()
    )
    return latest_number, latest_score


def _close(
    concern: Concern, actor: User, *, status: str, note: str, action: str, now: dt.datetime
) -> Concern:
    clinic_id = concern.client.clinic_id  # before _move's refresh forgets the client
    through, level = reviewed_stretch(concern.client_id)
    changes: dict[str, object] = {
        "status": status,
        "note": note,
        "closed_at": now,
        "closed_by": actor,
        "reviewed_through": through,
        "level_at_closing": level,
        # A repair is followed up over the client's next ratings (measures.follow_up).
        "recovery": Concern.Recovery.WATCHING if status == Concern.Status.RESOLVED else "",
        "recovered_at_session": None,
        "updated_at": now,
    }
    if concern.acknowledged_at is None:
        # Closing a concern straight from "open" acknowledges it on the way.
        changes.update(acknowledged_at=now, acknowledged_by=actor)
    concern = _move(concern, allowed_from=Concern.REVIEWABLE, **changes)
    ConcernEvent.objects.create(concern=concern, action=action, actor=actor, note=note, at=now)
    _audit(actor, concern, ["status", "note"], clinic_id)
    return concern


@transaction.atomic
def concern_resolve(
    *,
    concern: Concern,
    actor: User,
    note: str,
    signals_seen: Collection[int] | None = None,
    now: dt.datetime | None = None,
) -> Concern:
    """Close the concern with a repair note: what was talked through or changed.
    `signals_seen`: the signals the page showed, when it says (`_check_nothing_new`)."""
    concern = _locked(concern)
    _check_is_treating_therapist(actor, concern)
    _check_still_to_review(concern)
    _check_nothing_new(concern, signals_seen, "note")
    check_takes_personal_data(concern.client)
    note = _clean_note(note, field="note", required="A repair note is needed to resolve a concern.")
    return _close(
        concern,
        actor,
        status=Concern.Status.RESOLVED,
        note=note,
        action=ConcernEvent.Action.RESOLVED,
        now=now or timezone.now(),
    )


@transaction.atomic
def concern_dismiss(
    *,
    concern: Concern,
    actor: User,
    reason: str,
    signals_seen: Collection[int] | None = None,
    now: dt.datetime | None = None,
) -> Concern:
    """Close the concern as needing no repair, saying why.

    An erased client's concern is dismissed without a reason: their record takes no new
    words, and without this it would wait in the therapist's queue for ever (the nightly
    retention erases discharged clients whose concerns nobody closed). Its note reads as
    erasure leaves every note, "(erased)"."""
    concern = _locked(concern)
    _check_is_treating_therapist(actor, concern)
    _check_still_to_review(concern)
    _check_nothing_new(concern, signals_seen, "reason")
    if takes_personal_data(concern.client):
        reason = _clean_note(
            reason, field="reason", required="A reason is needed to dismiss a concern."
        )
    elif written(reason):
        raise ValidationError({"reason": ERASED_DISMISSAL})
    else:
        reason = ERASED_NOTE
    return _close(
        concern,
        actor,
        status=Concern.Status.DISMISSED,
        note=reason,
        action=ConcernEvent.Action.DISMISSED,
        now=now or timezone.now(),
    )


@transaction.atomic
def concern_comment(*, concern: Concern, actor: User, note: str) -> ConcernEvent:
    """Add a comment to the concern's history (a supervisor's, or the therapist's own).

    Supervision is read-only for the concern's status, but a supervisor's comment
    belongs in its history.
    """
    concern = _locked(concern)
    if not may_comment_on(actor, concern.client):
        raise PermissionDenied("Only the therapist and their supervisors can comment on a concern.")
    check_takes_personal_data(concern.client)
    note = _clean_note(note, field="note", required="Please write a comment.")
    event = ConcernEvent.objects.create(
        concern=concern, action=ConcernEvent.Action.COMMENTED, actor=actor, note=note
    )
    _audit(actor, concern, ["comment"], concern.client.clinic_id)
    return event
