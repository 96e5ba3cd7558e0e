"""Writes for therapy sessions."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from alliance.fields import spoken_date
from clients import audit
from clients.models import AuditAction, Client, User
from sessions.dates import earliest_session_date

# Rating links are written in their own module; the service is named here too,
# beside the other session writes.
from sessions.invitations import invitation_create
from sessions.models import Session

__all__ = ["invitation_create", "session_delete", "session_log", "session_update"]

# A session is logged after it happens; a little slack covers clock skew and
# logging the session that is about to start.
LOG_AHEAD_LIMIT = dt.timedelta(days=1)


def _check_may_log_for(client: Client, therapist: User) -> None:
    if therapist.clinic_id != client.clinic_id:
        raise PermissionDenied("This client belongs to another clinic.")
    if not therapist.is_therapist:
        raise PermissionDenied("Only a therapist can log sessions.")
    if client.therapist_id != therapist.pk:
        raise PermissionDenied("You can only log sessions for clients in your own caseload.")


def _check_when(starts_at: dt.datetime) -> None:
    earliest = earliest_session_date()
    # Compared as instants: turning an extreme date into local time could overflow.
    if starts_at < dt.datetime.combine(earliest, dt.time.min, timezone.get_current_timezone()):
        message = f"A session can't be dated before {spoken_date(earliest)}."
        raise ValidationError({"starts_at": message})
    if starts_at > timezone.now() + LOG_AHEAD_LIMIT:
        raise ValidationError({"starts_at": "A session can't be logged more than a day ahead."})


@transaction.atomic
def session_log(
    *,
    client: Client,
    therapist: User,
    starts_at: dt.datetime,
    duration_minutes: int = 50,
    attendance: str = Session.Attendance.ATTENDED,
    modality: str = Session.Modality.IN_PERSON,
    notes: str = "",
) -> Session:
    """Record a session for a client in `therapist`'s caseload and number it."""
    _check_may_log_for(client, therapist)
    # Lock the client so two sessions logged at once get distinct numbers.
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.status != Client.Status.ACTIVE:
        raise ValidationError("This client is discharged; re-open them before logging a session.")
    _check_when(starts_at)
    last = client.sessions.aggregate(last=Max("number"))["last"] or 0
    session = Session(
        client=client,
        therapist=therapist,
        number=last + 1,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        attendance=attendance,
        modality=modality,
        notes=notes,
    )
    session.full_clean()
    session.save()
    audit.written(therapist, AuditAction.CREATED, session, clinic_id=client.clinic_id)
    return session


# What `session_update` may change; the audit names the ones that did.
SESSION_DETAILS = ("starts_at", "duration_minutes", "attendance", "modality", "notes")


def _check_is_author(actor: User, session: Session) -> None:
    if actor.pk != session.therapist_id or actor.clinic_id != session.client.clinic_id:
        raise PermissionDenied("Only the therapist who logged this session can change it.")


@transaction.atomic
def session_update(
    *,
    actor: User,
    session: Session,
    starts_at: dt.datetime,
    duration_minutes: int,
    attendance: str,
    modality: str,
    notes: str,
) -> Session:
    _check_is_author(actor, session)
    _check_when(starts_at)
    before = {name: getattr(session, name) for name in SESSION_DETAILS}
    session.starts_at = starts_at
    session.duration_minutes = duration_minutes
    session.attendance = attendance
    session.modality = modality
    session.notes = notes
    session.updated_at = timezone.now()
    session.full_clean()
    session.save()
    changed = audit.changed_fields(before, session)
    if changed:
        audit.written(
            actor, AuditAction.CHANGED, session, fields=changed, clinic_id=session.client.clinic_id
        )
    if not session.was_attended:
        # Only an attended session can be rated: close its link, so neither the client nor
        # a reminder reaches a form whose answer would be refused.
        session.invitations.filter(used_at__isnull=True, voided_at__isnull=True).update(
            voided_at=session.updated_at
        )
    return session


@transaction.atomic
def session_delete(*, actor: User, session: Session) -> None:
    """Delete a session and everything recorded about it (ratings, flags, links)."""
    _check_is_author(actor, session)
    session.delete()
