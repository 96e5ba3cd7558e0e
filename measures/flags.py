"""The review of a flag: acknowledge, then resolve with a repair note or dismiss with a reason.

Only the client's treating therapist moves a flag on; supervisors and clinic
admins read it (and may comment). Each step is a conditional UPDATE on the
flag's current status, so two clicks or two tabs cannot both succeed, and each
step is recorded as a FlagEvent: who, what, when, and what they wrote.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clients.models import User
from measures.models import Flag, FlagEvent

NOTE_MAX_LENGTH = 4000
REVIEWABLE = (Flag.Status.OPEN, Flag.Status.ACKNOWLEDGED)


def _check_is_treating_therapist(actor: User, flag: Flag) -> None:
    client = flag.client
    if actor.pk != client.therapist_id or actor.clinic_id != client.clinic_id:
        raise PermissionDenied("Only the client's therapist can review this flag.")


def _clean_note(note: str, *, field: str, required: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationError({field: required})
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({field: f"Please keep it under {NOTE_MAX_LENGTH} characters."})
    return note


def _move(flag: Flag, *, allowed_from: tuple[str, ...], **changes: object) -> Flag:
    """Change the flag only if it is still in one of `allowed_from`; refuse otherwise."""
    moved = Flag.objects.filter(pk=flag.pk, status__in=allowed_from).update(**changes)
    if not moved:
        flag.refresh_from_db(fields=["status"])
        raise ValidationError(f"This flag is already {flag.get_status_display().lower()}.")
    flag.refresh_from_db()
    return flag


@transaction.atomic
def flag_acknowledge(*, flag: Flag, actor: User) -> Flag:
    """The therapist has seen the flag and will look into it."""
    _check_is_treating_therapist(actor, flag)
    now = timezone.now()
    flag = _move(
        flag,
        allowed_from=(Flag.Status.OPEN,),
        status=Flag.Status.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=actor,
    )
    FlagEvent.objects.create(flag=flag, action=FlagEvent.Action.ACKNOWLEDGED, actor=actor, at=now)
    return flag


def _close(flag: Flag, actor: User, *, status: str, note: str, action: str) -> Flag:
    now = timezone.now()
    changes: dict[str, object] = {"status": status, "note": note}
    if flag.acknowledged_at is None:
        # Closing a flag straight from "open" acknowledges it on the way.
        changes.update(acknowledged_at=now, acknowledged_by=actor)
    prefix = "resolved" if status == Flag.Status.RESOLVED else "dismissed"
    changes.update({f"{prefix}_at": now, f"{prefix}_by": actor})
    flag = _move(flag, allowed_from=REVIEWABLE, **changes)
    FlagEvent.objects.create(flag=flag, action=action, actor=actor, note=note, at=now)
    return flag


@transaction.atomic
def flag_resolve(*, flag: Flag, actor: User, note: str) -> Flag:
    """Close the flag with a repair note: what was talked through or changed."""
    _check_is_treating_therapist(actor, flag)
    note = _clean_note(note, field="note", required="A repair note is needed to resolve a flag.")
    return _close(
        flag, actor, status=Flag.Status.RESOLVED, note=note, action=FlagEvent.Action.RESOLVED
    )


@transaction.atomic
def flag_dismiss(*, flag: Flag, actor: User, reason: str) -> Flag:
    """Close the flag as not needing repair, saying why."""
    _check_is_treating_therapist(actor, flag)
    reason = _clean_note(reason, field="reason", required="A reason is needed to dismiss a flag.")
    return _close(
        flag, actor, status=Flag.Status.DISMISSED, note=reason, action=FlagEvent.Action.DISMISSED
    )


def flag_comment(*, flag: Flag, actor: User, note: str) -> FlagEvent:
    """Add a comment to the flag's history (a supervisor's, or the therapist's own).

    Supervision is read-only for the flag's status, but a supervisor's comment
    belongs in its history.
    """
    visible = Flag.objects.visible_to(actor).filter(pk=flag.pk).exists()
    if not visible or not (actor.is_supervisor or actor.pk == flag.client.therapist_id):
        raise PermissionDenied("Only the therapist and their supervisors can comment on a flag.")
    note = _clean_note(note, field="note", required="Please write a comment.")
    return FlagEvent.objects.create(
        flag=flag, action=FlagEvent.Action.COMMENTED, actor=actor, note=note
    )
