"""Grouping signals into concerns, in the database.

Each new signal is placed into the client's open concern, into a new concern, or
outside (context with nothing to join, or the same stretch the therapist has already
reviewed). The decisions are `measures.grouping.group`'s; this module reads what it
needs and writes them in a fixed handful of statements per batch of clients, whatever
the batch's size. After detection stores a few signals (one client after a rating),
`concerns_update` groups and places them; a sweep's batch is grouped first
(`group_into_concerns`) and its signals inserted already placed (`measures.findings_store`).

Grouping for a client is serialised by locking the client's row (PostgreSQL), so a
per-rating task and the sweep meeting here cannot open two concerns; the database's
"one open concern per client" constraint is the backstop.

Each concern opened is recorded in the audit trail (by "system"), all in one INSERT.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery

from clients import audit
from clients.models import Client
from measures.grouping import (
    Closed,
    Grouping,
    Signal,
    about_the_alliance,
    group,
    outcome_raise,
)
from measures.history import Thresholds
from measures.models import Concern, ConcernEvent, Flag, Rating, alliance_score_expression
from sessions.models import Session

UPDATE_CHUNK = 5000

Scores = Mapping[int, float | None]


@dataclass
class Pending:
    """A signal waiting to be placed: stored (`flag_id`), or found by detection and not
    stored yet (None: it is inserted already placed, `measures.findings_store`)."""

    flag_id: int | None
    session_id: int
    number: int
    rule: str
    severity: str

    @property
    def key(self) -> tuple[int, str]:
        """Unique to one signal, stored or not (a signal is unique per session and rule)."""
        return self.session_id, self.rule


# Which signals to place, by client; and each client's placement, once grouped.
PendingSignals = Mapping[int, list[Pending]]
Placements = Mapping[int, Grouping]


def concerns_update(
    thresholds: Mapping[int, Thresholds],
    now: dt.datetime,
    scores: Mapping[int, Scores] | None = None,
    not_on_track: Mapping[int, bool] | None = None,
    clinic_ids: Mapping[int, int] | None = None,
) -> int:
    """Place the ungrouped signals of these clients (the keys of `thresholds`); returns how
    many concerns were opened. `scores` (client → session number → client score) saves
    reading the histories again when the caller has them; `not_on_track` says which
    clients' latest outcome answer is off track (their alliance concerns are raised);
    `clinic_ids`, what `lock_clients` returned when the caller has locked them already."""
    client_ids = sorted(thresholds)
    if not client_ids:
        return 0
    with transaction.atomic():
        if clinic_ids is None:
            clinic_ids = lock_clients(client_ids)
        pending = ungrouped(client_ids)
        opened, placements, concern_of = group_into_concerns(
            pending, thresholds, now, clinic_ids, scores, not_on_track
        )
        stored = {p.key: p.flag_id for signals in pending.values() for p in signals}
        place_stored(placements, now, concern_of, stored)  # type: ignore[arg-type]
        return opened


def group_into_concerns(
    pending: PendingSignals,
    thresholds: Mapping[int, Thresholds],
    now: dt.datetime,
    clinic_ids: Mapping[int, int],
    scores: Mapping[int, Scores] | None = None,
    not_on_track: Mapping[int, bool] | None = None,
) -> tuple[int, dict[int, Grouping], dict[int, int]]:
    """Group each client's pending signals and write the concerns that opens or extends
    (the clients locked by the caller, `lock_clients`): how many concerns opened, each
    client's placement, and the concern each client's joined signals go to. Placing the
    signals themselves is the caller's (`place_stored`, or detection's insert)."""
    if not pending:
        return 0, {}, {}
    open_concerns = _open_concerns(pending)
    closed = last_closed(set(pending) - set(open_concerns))
    if scores is None or not set(pending) <= set(scores):
        scores = client_scores(pending)
    placements = {
        client_id: group(
            [Signal(p.key, p.number, p.rule, p.severity) for p in signals],
            # Grouping works on the alliance's own severity; the outcome raises it after.
            open_severity=_base_severity(open_concerns[client_id])
            if client_id in open_concerns
            else None,
            closed=closed.get(client_id),
            scores=scores[client_id],
            t=thresholds[client_id],
        )
        for client_id, signals in pending.items()
    }
    opened, concern_of = _write(
        placements, pending, open_concerns, now, clinic_ids, not_on_track or {}
    )
    return opened, placements, concern_of


def lock_clients(client_ids: list[int]) -> dict[int, int]:
    """Hold the clients' rows until commit, in id order so two batches cannot deadlock;
    returns each client's clinic (for the audit trail, at no extra query)."""
    clinic_ids: dict[int, int] = {}
    for start in range(0, len(client_ids), UPDATE_CHUNK):
        chunk = client_ids[start : start + UPDATE_CHUNK]
        locked = Client.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
        clinic_ids.update(locked.values_list("pk", "clinic_id"))
    return clinic_ids


def ungrouped(client_ids: list[int]) -> dict[int, list[Pending]]:
    """The stored signals of these clients not yet placed."""
    pending: dict[int, list[Pending]] = defaultdict(list)
    for start in range(0, len(client_ids), UPDATE_CHUNK):
        # A voided session's signals stay as they are, outside anything new.
        rows = Flag.objects.filter(
            client_id__in=client_ids[start : start + UPDATE_CHUNK],
            grouped_at__isnull=True,
            session__voided_at__isnull=True,
        ).values_list("client_id", "pk", "session_id", "session__number", "rule", "severity")
        for client_id, *signal in rows:
            pending[client_id].append(Pending(*signal))
    return pending


def _open_concerns(pending: PendingSignals) -> dict[int, Concern]:
    concerns = (
        Concern.objects.select_for_update(of=("self",))
        .filter(client_id__in=list(pending), status__in=Concern.REVIEWABLE)
        .select_related("first_session", "last_session")
    )
    return {concern.client_id: concern for concern in concerns}


def last_closed(client_ids: set[int]) -> dict[int, Closed]:
    """Each client's most recently closed concern, as the stretch already reviewed."""
    if not client_ids:
        return {}
    latest = (
        Concern.objects.closed()
        .filter(client_id=OuterRef("client_id"))
        .order_by("-closed_at", "-pk")
        .values("pk")[:1]
    )
    rows = Concern.objects.filter(client_id__in=client_ids, pk=Subquery(latest)).values_list(
        "client_id", "reviewed_through", "level_at_closing"
    )
    return {
        client_id: Closed(through=through or 0, level=float(level) if level is not None else None)
        for client_id, through, level in rows
    }


def client_scores(client_ids: Iterable[int]) -> dict[int, dict[int, float | None]]:
    """Each client's alliance score by session number (client ratings only)."""
    scores: dict[int, dict[int, float | None]] = defaultdict(dict)
    rows = (
        Rating.objects.by_client()
        .of_current_sessions()
        .filter(session__client_id__in=list(client_ids))
        .annotate(score=alliance_score_expression())
        .values_list("session__client_id", "session__number", "score")
    )
    for client_id, number, score in rows:
        scores[client_id][number] = float(score)
    return scores


def _base_severity(concern: Concern) -> str:
    return concern.raised_from or concern.severity


def _raise(
    placement: Grouping, concern: Concern | None, not_on_track: bool
) -> tuple[str | None, str]:
    """The concern's severity after the outcome is taken into account, and what it was
    raised from ("" when not raised)."""
    if placement.severity is None:
        return None, ""
    rules = [signal.rule for signal in placement.joined]
    if concern is not None:
        rules.append(concern.opening_rule)
    raised = concern is not None and bool(concern.raised_from)
    return outcome_raise(
        placement.severity,
        alliance=about_the_alliance(rules, raised=raised),
        not_on_track=not_on_track,
        already_raised=concern is not None and bool(concern.raised_from),
    )


def _write(
    placements: Placements,
    pending: PendingSignals,
    open_concerns: dict[int, Concern],
    now: dt.datetime,
    clinic_ids: Mapping[int, int],
    not_on_track: Mapping[int, bool],
) -> tuple[int, dict[int, int]]:
    """Open and extend the concerns; how many opened, and each client's concern."""
    by_key = {p.key: p for signals in pending.values() for p in signals}
    opened: list[Concern] = []
    changed: list[Concern] = []
    raised: list[ConcernEvent] = []
    for client_id, placement in placements.items():
        if not placement.joined:
            continue
        joined = [by_key[signal.key] for signal in placement.joined]  # type: ignore[index]
        first = min(joined, key=lambda p: p.number)
        last = max(joined, key=lambda p: p.number)
        concern = None if placement.opens else open_concerns[client_id]
        severity, raised_from = _raise(placement, concern, not_on_track.get(client_id, False))
        if concern is None:
            opened.append(
                Concern(
                    client_id=client_id,
                    severity=severity,
                    raised_from=raised_from,
                    opening_rule=placement.joined[0].rule,
                    opened_at=now,
                    first_session_id=first.session_id,
                    last_session_id=last.session_id,
                    updated_at=now,
                )
            )
            continue
        _extend(concern, first, last)
        if severity is not None:
            event = _apply_severity(concern, severity, raised_from, now)
            raised.extend([event] if event else [])
        concern.updated_at = now
        changed.append(concern)
    Concern.objects.bulk_create(opened)
    audit.created_in_bulk(audit.SYSTEM, opened, clinic_ids=clinic_ids)
    Concern.objects.bulk_update(
        changed,
        ["severity", "raised_from", "first_session", "last_session", "notified_at", "updated_at"],
    )
    ConcernEvent.objects.bulk_create(raised)
    return len(opened), {concern.client_id: concern.pk for concern in [*opened, *changed]}


def _apply_severity(
    concern: Concern, severity: str, raised_from: str, now: dt.datetime
) -> ConcernEvent | None:
    """Set the open concern's severity after a batch; the event of its rise, if it rose.

    group() starts from the concern's own severity and the outcome's raise never lowers it,
    so a change of severity is always a rise; `raised_from` may change alone (the alliance
    signals themselves reached the raised level)."""
    rose = severity != concern.severity
    newly_raised = bool(raised_from) and not concern.raised_from
    concern.severity, concern.raised_from = severity, raised_from
    if not rose:
        return None
    concern.notified_at = None  # the therapist hears of it again in the next digest
    return ConcernEvent(
        concern=concern,
        action=ConcernEvent.Action.SEVERITY_RAISED,
        severity=severity,
        evidence={"not_on_track": True, "from": raised_from} if newly_raised else {},
        at=now,
    )


def _extend(concern: Concern, first: Pending, last: Pending) -> None:
    """Widen the concern's span of sessions to take in new signals."""
    if concern.first_session is None or first.number < concern.first_session.number:
        concern.first_session = Session(pk=first.session_id, number=first.number)
    if concern.last_session is None or last.number > concern.last_session.number:
        concern.last_session = Session(pk=last.session_id, number=last.number)


def place_stored(
    placements: Placements,
    now: dt.datetime,
    concern_of: Mapping[int, int],
    stored: Mapping[tuple[int, str], int],
) -> None:
    """Point the stored signals among the placed (`stored`: key → flag id; any other is
    the caller's) at their client's open concern (`concern_of`: client → the concern just
    opened or extended); mark every one grouped."""
    joined = [
        (stored[signal.key], concern_of[client_id])
        for client_id, placement in placements.items()
        for signal in placement.joined
        if signal.key in stored
    ]
    outside = [
        stored[signal.key]
        for placement in placements.values()
        for signal in placement.outside
        if signal.key in stored
    ]
    if connection.vendor == "postgresql":
        _place_flags_postgresql(joined, outside, now)
        return
    open_concern = Concern.objects.filter(
        client_id=OuterRef("client_id"), status__in=Concern.REVIEWABLE
    ).values("pk")[:1]
    flags = [flag for flag, _concern in joined]
    for start in range(0, len(flags), UPDATE_CHUNK):
        Flag.objects.filter(pk__in=flags[start : start + UPDATE_CHUNK]).update(
            concern=Subquery(open_concern), grouped_at=now
        )
    for start in range(0, len(outside), UPDATE_CHUNK):
        Flag.objects.filter(pk__in=outside[start : start + UPDATE_CHUNK]).update(grouped_at=now)


def _place_flags_postgresql(
    joined: list[tuple[int, int]], outside: list[int], now: dt.datetime
) -> None:
    """Two statements whatever the batch: each joined signal's concern sent with it as two
    arrays (the concerns are known here), every other signal by an array of ids. A
    subquery for the concern on every row and an IN list of thousands of placeholders,
    which the driver parses one by one, cost a huge clinic's first sweep 1.2 s."""
    table = connection.ops.quote_name(Flag._meta.db_table)
    with connection.cursor() as cursor:
        if joined:
            flags, concerns = zip(*joined, strict=True)
            cursor.execute(
                f"UPDATE {table} AS flag SET concern_id = placed.concern, grouped_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS placed (id, concern) "
                "WHERE flag.id = placed.id",
                [now, list(flags), list(concerns)],
            )
        if outside:
            cursor.execute(
                f"UPDATE {table} SET grouped_at = %s WHERE id = ANY(%s::bigint[])",
                [now, outside],
            )
