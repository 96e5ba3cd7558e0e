"""Signals that stop holding: withdrawn while they are still open to review.

A signal is stored when a rule fires at a session, and while it is open to review
(outside any concern, or in an open one) its numbers follow the ratings: detection's
upsert writes the new evidence. When the rule no longer fires there at all — the
therapist corrected their rating, the client later said the rupture was fully talked
through, the session was voided, the client answered a link sent late — its numbers are
no longer true, and the signal is **withdrawn**: kept, with when, and no longer part of
what its concern asks the therapist to review. A signal in a closed concern stays as the
therapist saw it: that is the record. Nor is a signal withdrawn while a link sent late
may still be answered (`detection._with_links_sent_late`): the client's answer, not the
link, shows whether it still holds.

Its concern follows. Its severity and span are worked out again from the signals still
holding (`measures.grouping.after_withdrawal`), and the step is kept in its history; a
concern left with no alerting signal has nothing to review and is closed by Alliance as
withdrawn (`ConcernStatus.WITHDRAWN`), which is no review: it neither counts as a
dismissal nor marks a stretch as reviewed. Should the rule fire at the session again,
detection's upsert brings the signal back to be placed like a new one.

Detection calls `signals_withdraw` for every client it evaluated, with the findings it
made, under the clients' locks and before it stores those findings: one query when
nothing has stopped holding, whatever the batch's size.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from clients import audit
from clients.models import AuditAction
from measures import follow_up
from measures.concerns import UPDATE_CHUNK, client_scores, last_closed
from measures.grouping import SEVERITY_ORDER, Signal, Standing, after_withdrawal
from measures.history import Thresholds
from measures.models import Concern, ConcernEvent, Flag
from sessions.models import Session

Key = tuple[int, str]  # (session id, rule): a signal's identity


class _Stored(NamedTuple):
    """A stored signal still open to review, as read to compare with the findings."""

    pk: int
    client_id: int
    session_id: int
    number: int
    rule: str
    concern_id: int | None

    @property
    def key(self) -> Key:
        return self.session_id, self.rule


@dataclass(frozen=True)
class Evaluated:
    """What an evaluation judged, for the clients it locked: each one's thresholds, whether
    their latest outcome answer is off track, and the signals it keeps (the findings, and
    those it does not judge)."""

    thresholds: Mapping[int, Thresholds]
    not_on_track: Mapping[int, bool]
    kept: Collection[Key]


@dataclass(frozen=True)
class Withdrawal:
    count: int = 0  # signals withdrawn
    # Withdrawn by an evaluation begun after this one: its findings there are not stored.
    later: frozenset[Key] = frozenset()


def signals_withdraw(
    evaluated: Evaluated, now: dt.datetime, clinic_ids: Mapping[int, int]
) -> Withdrawal:
    """Withdraw the stored signals of the evaluated clients (locked by the caller) that are
    open to review and not kept, and bring their concerns up to date."""
    gone, later = open_to_review(list(evaluated.thresholds), now, evaluated.kept)
    # The therapist closes a concern without the client's lock: lock the concerns, and keep
    # only the signals of those still open, so a concern closed meanwhile stays as it was.
    concerns = {
        concern.pk: concern
        for concern in Concern.objects.select_for_update(of=("self",)).filter(
            pk__in={signal.concern_id for signal in gone if signal.concern_id is not None},
            status__in=Concern.REVIEWABLE,
        )
    }
    gone = [signal for signal in gone if signal.concern_id is None or signal.concern_id in concerns]
    if not gone:
        return Withdrawal(later=later)
    ids = [signal.pk for signal in gone]
    for start in range(0, len(ids), UPDATE_CHUNK):
        # A signal not yet placed is placed nowhere now: it leaves the ungrouped index.
        Flag.objects.filter(pk__in=ids[start : start + UPDATE_CHUNK]).update(
            withdrawn_at=now, grouped_at=Coalesce("grouped_at", Value(now))
        )
    by_concern: dict[int, list[_Stored]] = defaultdict(list)
    for signal in gone:
        if signal.concern_id is not None:
            by_concern[signal.concern_id].append(signal)
    if by_concern:
        _concerns_follow(
            [concerns[pk] for pk in sorted(by_concern)], by_concern, evaluated, now, clinic_ids
        )
    return Withdrawal(len(gone), later)


def open_to_review(
    client_ids: list[int], now: dt.datetime, kept: Collection[Key]
) -> tuple[list[_Stored], frozenset[Key]]:
    """These clients' signals still holding and open to review (outside any concern, or in
    an open one) and not `kept`: those an evaluation at `now` finds no more; and, of the
    kept, those it may not bring back. Both leave out what an evaluation begun later wrote
    or withdrew: that one read a newer history than this one did (two ratings a moment
    apart, the later one finishing first), and decides for them.

    On PostgreSQL the database compares them with the kept (two arrays), so only what
    stopped holding comes back, in one statement with the clients as an array too: read
    into Python to compare, a huge clinic's 89,000 stored signals cost its every-client
    sweep a second. Elsewhere one statement per UPDATE_CHUNK clients, compared here."""
    stored: list[_Stored] = []
    later: set[Key] = set()
    may_judge = (
        Q(withdrawn_at__isnull=True)
        & (Q(concern__isnull=True) | Q(concern__status__in=list(Concern.REVIEWABLE)))
        & (Q(grouped_at__isnull=True) | Q(grouped_at__lte=now))
    )
    for signals in _of_clients(client_ids, kept):
        rows = (
            signals.filter(may_judge | Q(withdrawn_at__gt=now))
            .order_by()
            .values_list(
                "pk",
                "client_id",
                "session_id",
                "session__number",
                "rule",
                "concern_id",
                "withdrawn_at",
            )
        )
        for *row, withdrawn_at in rows:
            signal = _Stored(*row)
            if withdrawn_at is None and signal.key not in kept:
                stored.append(signal)
            elif withdrawn_at is not None and signal.key in kept:
                later.add(signal.key)
    return stored, frozenset(later)


def _of_clients(client_ids: list[int], kept: Collection[Key]) -> Iterator[QuerySet]:
    """The clients' signals, in statements: on PostgreSQL one, holding back the holding
    signals among `kept` and the withdrawn ones not (the caller checks again)."""
    if not client_ids:
        return
    if connection.vendor != "postgresql":
        for start in range(0, len(client_ids), UPDATE_CHUNK):
            yield Flag.objects.filter(client_id__in=client_ids[start : start + UPDATE_CHUNK])
        return
    table = connection.ops.quote_name(Flag._meta.db_table)
    sessions, rules = ([key[0] for key in kept], [key[1] for key in kept])
    is_kept = RawSQL(
        "EXISTS (SELECT 1 FROM unnest(%s::bigint[], %s::varchar[]) AS kept (s, r) "
        f"WHERE kept.s = {table}.session_id AND kept.r = {table}.rule)",
        (sessions, rules),
        output_field=BooleanField(),
    )
    yield (
        Flag.objects.filter(client_id__in=RawSQL("SELECT unnest(%s::bigint[])", (client_ids,)))
        .alias(kept=is_kept)
        .filter(Q(withdrawn_at__isnull=True, kept=False) | Q(withdrawn_at__isnull=False, kept=True))
    )


def _concerns_follow(
    concerns: list[Concern],
    withdrawn: Mapping[int, list[_Stored]],
    evaluated: Evaluated,
    now: dt.datetime,
    clinic_ids: Mapping[int, int],
) -> None:
    """Each open concern (locked) that lost signals (`withdrawn`: concern → the signals
    withdrawn from it): grouped again from the signals still holding in it, as if they were
    all it had had; withdrawn if they would open none."""
    holding: dict[int, list[_Stored]] = defaultdict(list)
    severities: dict[int, str] = {}
    rows = (
        Flag.objects.holding()
        .filter(concern__in=list(withdrawn))
        .order_by()
        .values_list(
            "pk", "client_id", "session_id", "session__number", "rule", "concern_id", "severity"
        )
    )
    for *row, severity in rows:
        signal = _Stored(*row)
        holding[signal.concern_id].append(signal)  # type: ignore[index]
        severities[signal.pk] = severity
    clients = {concern.client_id for concern in concerns}
    closed, scores = last_closed(clients), client_scores(clients)
    events: list[ConcernEvent] = []
    for concern in concerns:
        signals = holding[concern.pk]
        gone = sorted(withdrawn[concern.pk], key=lambda s: (s.number, s.rule))
        evidence = {"signals": [[signal.number, signal.rule] for signal in gone]}
        standing = after_withdrawal(
            [Signal(s.pk, s.number, s.rule, severities[s.pk]) for s in signals],
            closed=closed.get(concern.client_id),
            scores=scores.get(concern.client_id, {}),
            t=evaluated.thresholds[concern.client_id],
            not_on_track=evaluated.not_on_track.get(concern.client_id, False),
            raised=bool(concern.raised_from),
        )
        if concern.recovery == Concern.Recovery.NOT_RECOVERED:
            # Re-opened because its repair did not hold (measures.follow_up), not for its
            # signals: it stays open, as it was, for that review, its reviewed signals in it.
            events.append(_recorded(concern, evidence, now))
            continue
        if standing is None:
            events.append(_withdraw(concern, [s.pk for s in signals], evidence, now))
            audit.written(
                audit.SYSTEM,
                AuditAction.CHANGED,
                concern,
                fields=["status"],
                clinic_id=clinic_ids[concern.client_id],
            )
            # A repair that did not hold, whose review this one carried, is reviewed again.
            follow_up.review_handed_back(concern, now)
            continue
        stored = {signal.pk: signal for signal in signals}
        events.append(_lower(concern, standing, stored, evidence, now))
    ConcernEvent.objects.bulk_create(events)


def _recorded(concern: Concern, evidence: dict, now: dt.datetime) -> ConcernEvent:
    concern.updated_at = now
    concern.save(update_fields=["updated_at"])
    return ConcernEvent(
        concern=concern, action=ConcernEvent.Action.SIGNALS_WITHDRAWN, evidence=evidence, at=now
    )


def _withdraw(
    concern: Concern, holding: list[int], evidence: dict, now: dt.datetime
) -> ConcernEvent:
    """Close the concern as withdrawn. What still holds in it would open no concern of its
    own (context, or the stretch a closed concern already reviewed): it stands outside any,
    as such signals do."""
    Flag.objects.filter(pk__in=holding).update(concern=None)
    concern.status = Concern.Status.WITHDRAWN
    concern.closed_at = concern.updated_at = now
    concern.save(update_fields=["status", "closed_at", "updated_at"])
    return ConcernEvent(
        concern=concern, action=ConcernEvent.Action.WITHDRAWN, evidence=evidence, at=now
    )


def _lower(
    concern: Concern,
    standing: Standing,
    stored: Mapping[int, _Stored],
    evidence: dict,
    now: dt.datetime,
) -> ConcernEvent:
    """The concern as its signals still holding make it: severity, the rule that would have
    opened it (what the precision page counts its review against), its span, and the
    signals before the opening one set outside it, as grouping would have placed them;
    the event names the severity only when it changed."""
    changed = standing.severity != concern.severity
    if SEVERITY_ORDER[standing.severity] > SEVERITY_ORDER[concern.severity]:
        # Higher than the therapist last heard (the client went off track meanwhile): the
        # next digest tells them, as any rise.
        concern.notified_at = None
    Flag.objects.filter(pk__in=[signal.key for signal in standing.outside]).update(concern=None)
    joined = [stored[signal.key] for signal in standing.joined]  # type: ignore[index]
    first = min(joined, key=lambda s: s.number)
    last = max(joined, key=lambda s: s.number)
    concern.severity, concern.raised_from = standing.severity, standing.raised_from
    concern.opening_rule = standing.opening_rule
    concern.first_session = Session(pk=first.session_id, number=first.number)
    concern.last_session = Session(pk=last.session_id, number=last.number)
    concern.updated_at = now
    concern.save(
        update_fields=[
            "severity",
            "raised_from",
            "opening_rule",
            "first_session",
            "last_session",
            "notified_at",
            "updated_at",
        ]
    )
    return ConcernEvent(
        concern=concern,
        action=ConcernEvent.Action.SIGNALS_WITHDRAWN,
        severity=standing.severity if changed else "",
        evidence=evidence,
        at=now,
    )
