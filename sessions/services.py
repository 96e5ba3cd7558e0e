"""Writes for therapy sessions."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import formats, timezone

from alliance.fields import refuse_direction_controls, spoken_date, written
from clients import audit
from clients.models import AuditAction, Client, User
from clients.services import check_takes_personal_data
from sessions.dates import earliest_session_date

# Rating links are written in their own module; the service is named here too,
# beside the other session writes.
from sessions.invitations import invitation_create
from sessions.models import MAX_DURATION_MINUTES, Session, SessionRevision

__all__ = ["invitation_create", "session_log", "session_update", "session_void"]

# A session is logged after it happens; a little slack covers clock skew and
# logging the session that is about to start.
LOG_AHEAD_LIMIT = dt.timedelta(days=1)

# The fields an edit can change, in the order a page lists them; each revision keeps the
# previous values of those that changed.
REVISED_FIELDS = ("starts_at", "duration_minutes", "attendance", "modality", "notes")
# A reason says why in a sentence or a short paragraph, not a case note.
VOID_REASON_MAX_LENGTH = 500
VOIDED_MESSAGE = "This session was voided; it can no longer be changed or rated."
CHANGED_MEANWHILE = (
    "This session was changed after this form was opened (in another tab or window?), so "
    "nothing was saved. What you typed is below: check it against the session's page, then "
    "save again to replace what is there now."
)


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


ALREADY_LOGGED = (
    "Session {number} with {label} is already logged at this time ({start}–{end}): a session "
    "is logged once. Change that session, or enter the time this one began."
)


def _ends_at(session: Session) -> dt.datetime:
    return session.starts_at + dt.timedelta(minutes=session.duration_minutes)


def _check_not_logged_already(session: Session) -> None:
    """A client is in one session at a time: another current session of theirs in the same
    time is this one logged twice (a double click on "Log session", a post the browser sent
    again, a second tab), which would count twice on the pages and in detection (a form
    never answered, a session missed). Voided sessions are out of the way."""
    ends_at = _ends_at(session)
    # A session that began longer ago than the longest one has ended: the index on
    # (client, starts_at) finds the few in between.
    earliest = session.starts_at - dt.timedelta(minutes=MAX_DURATION_MINUTES)
    nearby = (
        Session.objects.current()
        .filter(client_id=session.client_id, starts_at__gt=earliest, starts_at__lt=ends_at)
        .exclude(pk=session.pk)
        .order_by("starts_at", "number")
    )
    for other in nearby:
        if _ends_at(other) > session.starts_at:
            start = timezone.localtime(other.starts_at)
            message = ALREADY_LOGGED.format(
                number=other.number,
                label=session.client.label,
                start=formats.date_format(start, "j M Y, H:i"),
                end=formats.time_format(timezone.localtime(_ends_at(other)), "H:i"),
            )
            raise ValidationError({"starts_at": message})


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
    notes = _clean_notes(notes)
    # Voided sessions included: a voided session keeps its number and none is reused.
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
    # Under the client's lock: a second post of the same form waits here, then finds the first.
    _check_not_logged_already(session)
    session.save()
    audit.written(therapist, AuditAction.CREATED, session, clinic_id=client.clinic_id)
    return session


def _check_is_author(actor: User, session: Session) -> None:
    if actor.pk != session.therapist_id or actor.clinic_id != session.client.clinic_id:
        raise PermissionDenied("Only the therapist who logged this session can change it.")


def _stored(name: str, value: object) -> object:
    """A field's value as a revision keeps it (JSON): instants as ISO 8601 text."""
    return value.isoformat() if isinstance(value, dt.datetime) else value


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
    last_changed: dt.datetime | None = None,
) -> Session:
    """Change a session the actor logged, keeping what the changed fields held before.

    `last_changed` is the session's `updated_at` as the form showed it: when it has changed
    since (a second tab saved first), the edit is refused, since saving it would put back,
    unseen, what that change replaced (the form sends every field, changed or not)."""
    _check_is_author(actor, session)
    # Locked and read again, so two edits at once each keep the values they replaced.
    session = (
        Session.objects.select_for_update(of=("self",)).select_related("client").get(pk=session.pk)
    )
    if session.is_voided:
        raise ValidationError(VOIDED_MESSAGE)
    # Read with the locked session: an erasure committed since the form was drawn counts.
    check_takes_personal_data(session.client)
    _check_when(starts_at)
    notes = _clean_notes(notes)
    before = {name: getattr(session, name) for name in REVISED_FIELDS}
    session.starts_at = starts_at
    session.duration_minutes = duration_minutes
    session.attendance = attendance
    session.modality = modality
    session.notes = notes
    changed = audit.changed_fields(before, session)
    if not changed:
        # The same form saved twice (a double click on "Save changes") changes nothing.
        return session
    if last_changed is not None and last_changed != session.updated_at:
        raise ValidationError(CHANGED_MEANWHILE, code="changed_meanwhile")
    session.updated_at = timezone.now()
    session.full_clean()
    if {"starts_at", "duration_minutes"} & set(changed):
        _check_not_logged_already(session)
    session.save()
    SessionRevision.objects.create(
        session=session,
        revised_at=session.updated_at,
        revised_by=actor,
        previous={name: _stored(name, before[name]) for name in changed},
    )
    audit.written(
        actor, AuditAction.CHANGED, session, fields=changed, clinic_id=session.client.clinic_id
    )
    if not session.was_attended or session.starts_at > session.updated_at:
        # Only an attended session can be rated, and once it has begun
        # (`sessions.invitations.NOT_BEGUN`): close its link, so neither the client nor a
        # reminder reaches a form whose answer would be refused, or would stand for a
        # session that has not happened. Once it has begun, a new link can be made.
        _close_links(session)
    return session


def _close_links(session: Session) -> None:
    session.invitations.filter(used_at__isnull=True, voided_at__isnull=True).update(
        voided_at=session.updated_at
    )


NOTES_MAX_LENGTH = 10_000
NOTES_TOO_LONG = f"Keep the private notes to {NOTES_MAX_LENGTH:,} characters or fewer."


def _clean_notes(notes: str) -> str:
    """Private notes as kept: nothing showing is no notes, no direction controls, and a cap
    (a 200,000-character paste drew a session page tens of thousands of pixels tall)."""
    notes = written(notes)
    refuse_direction_controls(notes, field="notes")
    if len(notes) > NOTES_MAX_LENGTH:
        raise ValidationError({"notes": NOTES_TOO_LONG})
    return notes


def _clean_reason(reason: str) -> str:
    reason = written(reason)
    if not reason:
        raise ValidationError({"reason": "Say why this session is voided."})
    if len(reason) > VOID_REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": f"Keep the reason to {VOID_REASON_MAX_LENGTH} characters or fewer."}
        )
    refuse_direction_controls(reason, field="reason")
    return reason


@transaction.atomic
def session_void(*, actor: User, session: Session, reason: str) -> Session:
    """Void a session logged in error: it leaves the pages' numbers, the charts and
    detection, and keeps its number, ratings, signals and concern history for the record.

    Its open rating link stops working. The audit entry names the fields, never the reason.
    """
    _check_is_author(actor, session)
    reason = _clean_reason(reason)
    # Locked, so two voids at once find the first one done.
    session = (
        Session.objects.select_for_update(of=("self",)).select_related("client").get(pk=session.pk)
    )
    if session.is_voided:
        raise ValidationError("This session is already voided.")
    # Its reason is free text, which the erasure could never reach again.
    check_takes_personal_data(session.client)
    now = timezone.now()
    session.voided_at = now
    session.voided_by = actor
    session.void_reason = reason
    # The sweep re-evaluates clients whose sessions changed since it last ran.
    session.updated_at = now
    session.save(update_fields=["voided_at", "voided_by", "void_reason", "updated_at"])
    _close_links(session)
    audit.written(actor, AuditAction.VOIDED, session, fields=["voided_at", "void_reason"])
    return session
