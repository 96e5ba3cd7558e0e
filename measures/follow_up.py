"""Repairs followed up: record whether the alliance came back after a repair.

Detection calls this for the clients it evaluates, with the histories it has already
read. A concern resolved with a repair is watched (`Concern.recovery` "watching") over
the client's next two ratings; the pure judgement is `measures.recovery.recovery`. Each
outcome is claimed with a conditional UPDATE on "still watching", so running detection
twice records it once. A repair that did not hold re-opens its concern, with the numbers
as evidence, so the therapist looks again — unless the client already has an open
concern (one per client), which then carries the review and the outcome is only recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from clients import audit
from clients.models import AuditAction
from measures import recovery as rules
from measures.concerns import lock_clients
from measures.history import Point, Thresholds
from measures.models import Concern, ConcernEvent


@dataclass(frozen=True)
class Watched:
    """A repair being followed up: its concern, where it began and what was reviewed."""

    concern_id: int
    began: int
    through: int


def watched(clients: QuerySet | Iterable[int]) -> dict[int, list[Watched]]:
    """The repairs still being followed up for these clients, by client: one query."""
    rows = Concern.objects.filter(
        client_id__in=clients, status=Concern.Status.RESOLVED, recovery=Concern.Recovery.WATCHING
    ).values_list("client_id", "pk", "first_session__number", "reviewed_through")
    found: dict[int, list[Watched]] = {}
    for client_id, pk, began, through in rows:
        found.setdefault(client_id, []).append(Watched(pk, began or 1, through or 0))
    return found


def judge(
    repairs: Iterable[Watched], history: list[Point], t: Thresholds
) -> list[tuple[Watched, rules.Recovery]]:
    """Each repair's follow-up that has finished (recovered, not, or with no usual level)."""
    judged = [
        (
            repair,
            rules.recovery(
                history, concern_began=repair.began, reviewed_through=repair.through, t=t
            ),
        )
        for repair in repairs
    ]
    return [(repair, result) for repair, result in judged if result.finished]


@transaction.atomic
def repairs_record(
    outcomes: Iterable[tuple[int, Watched, rules.Recovery]], now: dt.datetime
) -> int:
    """Store each finished follow-up (client id, repair, outcome); returns how many changed."""
    changed = 0
    for client_id, repair, outcome in outcomes:
        with transaction.atomic():
            changed += _record(client_id, repair, outcome, now)
    return changed


def _record(client_id: int, repair: Watched, outcome: rules.Recovery, now: dt.datetime) -> int:
    """One follow-up, with its event, in the caller's transaction."""
    still_watching = Concern.objects.filter(
        pk=repair.concern_id,
        status=Concern.Status.RESOLVED,
        recovery=Concern.Recovery.WATCHING,
    )
    carrier = None
    if outcome.state == rules.RECOVERED:
        claimed = still_watching.update(
            recovery=Concern.Recovery.RECOVERED,
            recovered_at_session=outcome.at_session,
            updated_at=now,
        )
        action = ConcernEvent.Action.RECOVERED
    elif outcome.state == rules.NOT_RECOVERED:
        # Under the client's lock, as grouping and withdrawal are: the open concern that
        # would carry the review is not one an evaluation is withdrawing at this moment
        # (its withdrawal, committed first, is seen; or it sees this repair to hand back).
        lock_clients([client_id])
        claimed, action, carrier = _reopen(still_watching, client_id, now)
    else:
        claimed = still_watching.update(recovery=outcome.state, updated_at=now)
        action = None
    if claimed and action:
        found = outcome.evidence
        if action == ConcernEvent.Action.NOT_RECOVERED and carrier is not None:
            found = {**found, CARRIED_BY: carrier}
        ConcernEvent.objects.create(
            concern_id=repair.concern_id, action=action, evidence=found, at=now
        )
    if claimed and action == ConcernEvent.Action.REOPENED:
        _reopened_audit(repair.concern_id, client_id)
    return claimed


# The open concern that carries the review of a repair that did not hold, named in the
# "did not recover" event: should Alliance withdraw it, that repair's concern re-opens
# (`review_handed_back`). Named, not found by time: a sweep's chunk records "as of" the
# sweep's start, which can be before the carrier opened.
CARRIED_BY = "carried_by"


def _reopen(
    still_watching: QuerySet, client_id: int, now: dt.datetime
) -> tuple[int, str, int | None]:
    """Re-open a repair that did not hold, unless the client has an open concern already:
    (changed, the event's action, the open concern that carries the review instead).

    The digest lists it again (`notified_at` cleared); its first opening stays its `opened_at`.
    """
    outcome = {"recovery": Concern.Recovery.NOT_RECOVERED, "updated_at": now}
    carrier = _open_concern(client_id)
    if carrier is None:
        try:
            with transaction.atomic():
                reopened = still_watching.update(**outcome, **_reopening(now))
            return reopened, ConcernEvent.Action.REOPENED, None
        except IntegrityError:
            # A concern opened for the client meanwhile: it carries the review.
            carrier = _open_concern(client_id)
    return still_watching.update(**outcome), ConcernEvent.Action.NOT_RECOVERED, carrier


def carried_by(carrier: Concern, until: dt.datetime | None = None) -> Q:
    """The "did not recover" events whose review `carrier` carries: by the carrier the
    event names; one recorded before events named it, by time (recorded while the carrier
    was open, up to `until`: a client has one open concern at most)."""
    unnamed = Q(**{f"evidence__{CARRIED_BY}__isnull": True}, at__gte=carrier.opened_at)
    if until is not None:
        unnamed &= Q(at__lte=until)
    return Q(**{f"evidence__{CARRIED_BY}": carrier.pk}) | unnamed


def _open_concern(client_id: int) -> int | None:
    return (
        Concern.objects.needing_review()
        .filter(client_id=client_id)
        .values_list("pk", flat=True)
        .first()
    )


def _reopening(now: dt.datetime) -> dict[str, object]:
    """What re-opening a concern writes: open, unacknowledged, for the next digest, and
    due for escalation only once left unacknowledged that long again."""
    return {
        "status": Concern.Status.OPEN,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "closed_at": None,
        "closed_by": None,
        "notified_at": None,
        "escalated_at": None,
        "reopened_at": now,
    }


def _reopened_audit(concern_id: int, client_id: int) -> None:
    """Alliance re-opened the concern: in the audit trail, as every change of a record."""
    audit.written(
        audit.SYSTEM,
        AuditAction.CHANGED,
        Concern(pk=concern_id, client_id=client_id),
        fields=["status"],
    )


def review_handed_back(carrier: Concern, now: dt.datetime) -> int | None:
    """`carrier` was closed without a review (withdrawn by Alliance) while it carried the
    review of repairs that did not hold (found while it was open: `_reopen`). The latest
    one's concern re-opens now, as it would have then, and carries the others' reviews (a
    client has one open concern at most: their events name it now); returns its id, if
    any."""
    # Each repair's concern → its latest "did not recover" event that the carrier held.
    handed: dict[int, ConcernEvent] = {}
    for event in (
        ConcernEvent.objects.filter(
            concern__client_id=carrier.client_id,
            concern__status=Concern.Status.RESOLVED,
            concern__recovery=Concern.Recovery.NOT_RECOVERED,
            action=ConcernEvent.Action.NOT_RECOVERED,
        )
        .filter(carried_by(carrier))
        .order_by("-at", "-pk")
    ):
        handed.setdefault(event.concern_id, event)
    for event in handed.values():
        # After the failure it hands back, in the concern's history: a sweep's chunk
        # evaluates as of the sweep's start, which can be before the failure was recorded.
        at = max(now, event.at)
        reopened = Concern.objects.filter(
            pk=event.concern_id,
            status=Concern.Status.RESOLVED,
            recovery=Concern.Recovery.NOT_RECOVERED,
        ).update(**_reopening(at), updated_at=at)
        if reopened:
            found = {key: value for key, value in event.evidence.items() if key != CARRIED_BY}
            ConcernEvent.objects.create(
                concern_id=event.concern_id,
                action=ConcernEvent.Action.HANDED_BACK,
                evidence=found,
                at=at,
            )
            _reopened_audit(event.concern_id, carrier.client_id)
            _carried_by(event.concern_id, [other for other in handed.values() if other != event])
            return event.concern_id
    return None


def _carried_by(concern_id: int, events: list[ConcernEvent]) -> None:
    """These "did not recover" events' reviews go with `concern_id` now. Only the name of
    the concern that carries each review changes: what the follow-up found stays."""
    for event in events:
        event.evidence = {**event.evidence, CARRIED_BY: concern_id}
        event.save(update_fields=["evidence"])
