"""Storing what detection found (`measures.detection`), a batch at a time and all or
nothing: how its answers are judged, the signals that stopped holding withdrawn
(`measures.withdrawal`), and its new or changed signals upserted and placed into concerns
(`measures.concerns`).

On PostgreSQL a large batch (a sweep's) is COPYed, grouped before it is stored and
inserted already placed; a small one (one client after a rating), and SQLite's, is
written in plain statements, then placed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from measures.concerns import (
    Pending,
    concerns_update,
    group_into_concerns,
    lock_clients,
    place_stored,
    ungrouped,
)
from measures.grouping import SEVERITY_ORDER
from measures.history import Thresholds
from measures.models import Concern, Flag, OutcomeAnswer
from measures.withdrawal import Evaluated, open_to_review, signals_withdraw


class JudgedAnswer(NamedTuple):
    """How an answer is judged now, to be stored (a tuple: a model instance for each of a
    large clinic's 44,000 answers cost a quarter of its first sweep)."""

    pk: int
    track: str
    # Rounded to two places, as stored (numeric(7, 2)): a float of two places is written
    # exactly (its shortest form), and making a Decimal of each had cost a huge clinic's
    # first sweep 0.4 s.
    expected: float | None
    lowest_on_track: float | None


@dataclass
class Batch:
    """Findings waiting to be stored, and what grouping needs of their clients."""

    rows: list[tuple[int, int, str, str, str]]
    thresholds: dict[int, Thresholds]
    scores: dict[int, dict[int, float | None]]
    not_on_track: dict[int, bool] = field(default_factory=dict)
    judged: list[JudgedAnswer] = field(default_factory=list)  # answers judged anew
    # Session → its number, for these clients' sessions (grouping orders by number).
    numbers: dict[int, int] = field(default_factory=dict)
    # Every client evaluated, findings or not: a stored signal of theirs not found again
    # has stopped holding (measures.withdrawal). A client's findings are never split
    # between batches, so `rows` holds all of theirs.
    evaluated: dict[int, Thresholds] = field(default_factory=dict)
    # Signals this evaluation does not judge, so never withdraws: "not on track" at answers
    # to an instrument other than the clinic's in use (detection judges that one alone), and
    # those a link sent late holds (`held`).
    unjudged: set[tuple[int, str]] = field(default_factory=set)
    # Findings a link sent late holds (`detection._with_links_sent_late`): written only over
    # a signal already holding, never raised.
    held: list[tuple[int, int, str, str, str]] = field(default_factory=list)

    @property
    def found(self) -> set[tuple[int, str]]:
        return {(session_id, rule) for _client, session_id, rule, *_rest in self.rows}


@dataclass
class Stored:
    """What storing a batch wrote, for the evaluation's `Outcome` (`measures.detection`)."""

    flags_created: int = 0  # signals raised, or updated with new evidence
    concerns_opened: int = 0
    signals_withdrawn: int = 0


@transaction.atomic
def store(batch: Batch, now: dt.datetime) -> Stored:
    """Store the batch's judged answers, withdraw the signals that stopped holding, and
    store its new signals placed into concerns, all or nothing. The clients' rows are
    locked first, once, by every path (`lock_clients`, in id order): grouping is
    serialised per client, and no two evaluations meeting here can each hold what the
    other waits for. Returns what it wrote."""
    stored = Stored()
    _judged_update(batch.judged, now)
    kept = batch.found | batch.unjudged
    # The clients with findings are locked anyway, and their signals read under the lock;
    # the others are read first, and only those with a signal that may have stopped
    # holding are locked (almost never any), and read again under it.
    others = [client_id for client_id in batch.evaluated if client_id not in batch.thresholds]
    stale = {signal.client_id for signal in open_to_review(others, now, batch.unjudged)[0]}
    if not batch.rows and not batch.held and not stale:
        return stored
    judged = sorted(set(batch.thresholds) | stale)
    clinic_ids = lock_clients(judged)
    batch.rows.extend(_already_raised(batch.held))
    withdrawal = signals_withdraw(
        Evaluated(
            {client_id: batch.evaluated[client_id] for client_id in judged},
            batch.not_on_track,
            kept,
        ),
        now,
        clinic_ids,
    )
    stored.signals_withdrawn = withdrawal.count
    # A finding that an evaluation begun later withdrew is that one's to judge: it read the
    # newer history (two ratings a moment apart, the later evaluation finishing first).
    batch.rows = [row for row in batch.rows if (row[1], row[2]) not in withdrawal.later]
    if not batch.rows:
        return stored
    if connection.vendor == "postgresql" and len(batch.rows) >= COPY_FROM:
        written, opened = _store_placed(batch, now, clinic_ids)
    else:
        written = _insert(batch.rows, now)
        opened = concerns_update(
            batch.thresholds, now, batch.scores, batch.not_on_track, clinic_ids=clinic_ids
        )
    stored.flags_created, stored.concerns_opened = written, opened
    return stored


def _already_raised(
    held: list[tuple[int, int, str, str, str]],
) -> list[tuple[int, int, str, str, str]]:
    """Of the findings a link sent late holds, those of a signal already holding at no
    higher severity (one query, for the few clients holding such a link): stored again, so
    its numbers follow the ratings. One that would rise waits, as a new one does: a context
    signal turned high would open a concern while the client may still answer."""
    if not held:
        return []
    holding = dict(
        ((session_id, rule), severity)
        for session_id, rule, severity in Flag.objects.holding()
        .filter(session_id__in={session_id for _client, session_id, *_rest in held})
        .values_list("session_id", "rule", "severity")
    )
    return [
        row
        for row in held
        if (row[1], row[2]) in holding
        and SEVERITY_ORDER[row[3]] <= SEVERITY_ORDER[holding[row[1], row[2]]]
    ]


_JUDGED = ["track", "expected", "lowest_on_track", "judged_at"]


# Answers judged in one UPDATE: at a few thousand the planner joins them to the table by
# index; at 8,500 it hashed the whole table instead (a huge clinic's first sweep spent
# 13.6 s of 48 there; 2,000 a statement took a third of the time of 8,500 in one).
JUDGED_A_STATEMENT = 2000


def _judged_update(answers: list[JudgedAnswer], now: dt.datetime) -> None:
    """Store how each answer was judged.

    On PostgreSQL an UPDATE joined to the judgements: Django's bulk_update builds a CASE
    of every row for each column, which cost 5 s a thousand answers on a clinic's first
    sweep (`seed_demo --scale large`: 44,000 answers, 55 s of a 60 s sweep)."""
    if not answers:
        return
    if connection.vendor != "postgresql":
        OutcomeAnswer.objects.bulk_update(
            [OutcomeAnswer(**answer._asdict(), judged_at=now) for answer in answers],
            _JUDGED,
            batch_size=JUDGED_A_STATEMENT,
        )
        return
    if len(answers) < COPY_FROM:
        _judged_update_from_arrays(answers, now)
    else:
        _judged_update_from_copy(answers, now)


_JUDGED_UPDATE = (
    "UPDATE {table} AS answer SET track = judged.track, expected = judged.expected, "
    "lowest_on_track = judged.lowest, judged_at = %s FROM {judged} WHERE answer.id = judged.id"
)


def _judged_update_from_arrays(answers: list[JudgedAnswer], now: dt.datetime) -> None:
    """A few answers (one client after one rating): joined to the values as arrays."""
    table = connection.ops.quote_name(OutcomeAnswer._meta.db_table)
    judged = (
        "unnest(%s::bigint[], %s::varchar[], %s::numeric[], %s::numeric[]) "
        "AS judged (id, track, expected, lowest)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _JUDGED_UPDATE.format(table=table, judged=judged),
            [now, *(list(column) for column in zip(*answers, strict=True))],
        )


@transaction.atomic
def _judged_update_from_copy(answers: list[JudgedAnswer], now: dt.datetime) -> None:
    """Many answers (a sweep): COPYed into a scratch table, then joined to it
    JUDGED_A_STATEMENT at a time. Quoting them into arrays in Python cost as much as
    the updates themselves (0.33 against 0.16 s for a large clinic's 44,000)."""
    table = connection.ops.quote_name(OutcomeAnswer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE judged (n integer, id bigint, track varchar(16), "
            "expected numeric, lowest numeric)"
        )
        with cursor.cursor.copy("COPY judged FROM STDIN") as copy:
            for n, answer in enumerate(answers):
                copy.write_row((n, *answer))
        # Not analysed: without statistics the planner takes a range of `n` for a few rows
        # and looks each answer up by its key, the plan wanted here (analysing the scratch
        # table cost a huge clinic's first sweep 0.4 s, 52 batches at 7.5 ms).
        for start in range(0, len(answers), JUDGED_A_STATEMENT):
            cursor.execute(
                _JUDGED_UPDATE.format(table=table, judged="judged")
                + " AND judged.n >= %s AND judged.n < %s",
                [now, start, start + JUDGED_A_STATEMENT],
            )
        # Dropped here, not ON COMMIT: the caller's transaction may go on.
        cursor.execute("DROP TABLE judged")


def _insert(rows: list[tuple[int, int, str, str, str]], now: dt.datetime) -> int:
    """Store the findings: insert the new ones, update the ones whose evidence changed;
    returns how many rows were written.

    A signal is unique per (session, rule), but what fired it can change after it was
    stored: the therapist rates a session before the client does, or revises their
    rating within its window. A signal still open to review (outside any concern, or in
    an open one) then takes the new evidence and severity and is placed again; one in a
    closed concern stays as the therapist saw it — that is the record.

    Plain SQL rather than bulk_create: building and adapting a model instance per
    finding cost ten times the rules themselves. ON CONFLICT on (session, rule) makes it
    safe to run twice, or twice at once; an unchanged finding writes nothing.
    """
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _insert_postgresql(rows, now)
    table = connection.ops.quote_name(Flag._meta.db_table)
    created_at = connection.ops.adapt_datetimefield_value(now)
    before = connection.connection.total_changes
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({_FLAG_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s) "
            + _on_conflict(table, distinct="IS NOT"),
            [(*row, created_at) for row in rows],
        )
    return connection.connection.total_changes - before


_FLAG_COLUMNS = "client_id, session_id, rule, severity, evidence, created_at"


def _on_conflict(table: str, *, distinct: str) -> str:
    """The upsert clause both databases share (they spell "is distinct from" differently).
    Its target is the holding signal of the session and rule: a withdrawn one is the record
    of what its concern held, and a finding of its rule there again is a new signal."""
    return (
        f"{_CONFLICT} DO UPDATE SET evidence = excluded.evidence, "
        "severity = excluded.severity, grouped_at = NULL "
        f"WHERE {_changed_and_open(table, 'excluded.evidence', 'excluded.severity', distinct)}"
    )


# The partial unique index `flag_one_per_session_and_rule`, named by its columns and
# predicate as both databases infer it.
_CONFLICT = "ON CONFLICT (session_id, rule) WHERE withdrawn_at IS NULL"


def _changed_and_open(
    flag: str, evidence: str, severity: str, distinct: str = "IS DISTINCT FROM"
) -> str:
    """A stored signal (`flag`) that this evidence and severity would change, still open to
    review: outside any concern, or in an open one. One in a closed concern stays as the
    therapist saw it."""
    concerns = connection.ops.quote_name(Concern._meta.db_table)
    return (
        f"({flag}.evidence {distinct} {evidence} OR {flag}.severity <> {severity}) "
        f"AND ({flag}.concern_id IS NULL OR {flag}.concern_id IN "
        f"(SELECT id FROM {concerns} WHERE status IN ('open', 'acknowledged')))"
    )


# Below this many findings or judged answers (one client after one rating), a plain
# statement beats creating a scratch table for COPY.
COPY_FROM = 500


@transaction.atomic
def _insert_postgresql(rows: list[tuple[int, int, str, str, str]], now: dt.datetime) -> int:
    """A few findings (fewer than COPY_FROM: one client after a rating) upserted in one
    statement; a sweep's batches go through `_store_placed`."""
    table = connection.ops.quote_name(Flag._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s::jsonb, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({_FLAG_COLUMNS}) VALUES {values} "
            + _on_conflict(table, distinct="IS DISTINCT FROM"),
            [value for row in rows for value in (*row, now)],
        )
        return cursor.rowcount


def _store_placed(batch: Batch, now: dt.datetime, clinic_ids: Mapping[int, int]) -> tuple[int, int]:
    """A large batch on PostgreSQL (a sweep's): grouped before it is stored, so each new or
    changed signal is inserted already in its concern, one write instead of two (inserted,
    then placed: 1.3 s of a huge clinic's first sweep went on the second). Returns the
    signals written and the concerns opened.

    The findings are COPYed into a scratch table; under the clients' locks, one statement
    picks those the upsert would write (new, or changed and still open to review), those
    are grouped with any stored signal of the same clients not placed yet, then inserted
    with their concern by the same upsert, whose condition still guards it. The clients
    are locked by the caller (`clinic_ids`, what `lock_clients` returned)."""
    client_ids = sorted(batch.thresholds)
    table = connection.ops.quote_name(Flag._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE found (c bigint, s bigint, r varchar(24), v varchar(8), "
            "e jsonb)"
        )
        with cursor.cursor.copy("COPY found FROM STDIN") as copy:
            for row in batch.rows:
                copy.write_row(row)
        pending = _found_to_write(cursor, table, batch.numbers)
        to_write = {p.key for signals in pending.values() for p in signals}
        for client_id, stored in ungrouped(client_ids).items():
            pending[client_id].extend(p for p in stored if p.key not in to_write)
        opened, placements, concern_of = group_into_concerns(
            pending, batch.thresholds, now, clinic_ids, batch.scores, batch.not_on_track
        )
        placed = [
            (*signal.key, concern_of[client_id] if joined else None)
            for client_id, placement in placements.items()
            for joined, signals in ((True, placement.joined), (False, placement.outside))
            for signal in signals
            if signal.key in to_write
        ]
        written = _insert_placed(cursor, table, placed, now)
        stored = {
            p.key: p.flag_id
            for signals in pending.values()
            for p in signals
            if p.key not in to_write
        }
        place_stored(placements, now, concern_of, stored)  # type: ignore[arg-type]
        # Dropped here, not ON COMMIT: the caller's transaction goes on.
        cursor.execute("DROP TABLE found")
    return written, opened


def _found_to_write(
    cursor: CursorWrapper, table: str, numbers: Mapping[int, int]
) -> dict[int, list[Pending]]:
    """The findings in the scratch table `found` that the upsert would write: new ones,
    and stored ones whose evidence or severity changed while still open to review (the
    condition of `_on_conflict`, here as a join), by client, numbered from the histories
    just read (`numbers`: session → number).

    Each finding's stored signal is looked up by its key (a LATERAL subquery, kept apart
    by its LIMIT): joined plainly, the planner hashed every signal stored so far for each
    batch, a scan that grew with the table (18 ms a batch by the middle of a huge clinic's
    first sweep, against 4 ms)."""
    cursor.execute(
        "SELECT found.c, flag.id, found.s, found.r, found.v FROM found "
        f"LEFT JOIN LATERAL (SELECT * FROM {table} AS stored WHERE stored.session_id = found.s "
        "AND stored.rule = found.r AND stored.withdrawn_at IS NULL LIMIT 1) AS flag ON true "
        f"WHERE flag.id IS NULL OR ({_changed_and_open('flag', 'found.e', 'found.v')})"
    )
    pending: dict[int, list[Pending]] = defaultdict(list)
    for client_id, flag_id, session_id, rule, severity in cursor.fetchall():
        pending[client_id].append(Pending(flag_id, session_id, numbers[session_id], rule, severity))
    return pending


def _insert_placed(
    cursor: CursorWrapper,
    table: str,
    placed: list[tuple[int, str, int | None]],
    now: dt.datetime,
) -> int:
    """Upsert these findings of `found` (session, rule, concern: None outside any) placed
    and grouped; a changed signal placed outside keeps the concern it was in, as when it
    is placed after it is stored (`place_stored`)."""
    if not placed:
        return 0
    sessions, rules, concerns = (list(column) for column in zip(*placed, strict=True))
    cursor.execute(
        f"INSERT INTO {table} ({_FLAG_COLUMNS}, concern_id, grouped_at) "
        "SELECT found.c, found.s, found.r, found.v, found.e, %s, placed.concern, %s "
        "FROM found JOIN unnest(%s::bigint[], %s::varchar[], %s::bigint[]) "
        "AS placed (s, r, concern) ON placed.s = found.s AND placed.r = found.r "
        f"{_CONFLICT} DO UPDATE SET evidence = excluded.evidence, "
        f"severity = excluded.severity, concern_id = COALESCE(excluded.concern_id, "
        f"{table}.concern_id), grouped_at = excluded.grouped_at "
        f"WHERE {_changed_and_open(table, 'excluded.evidence', 'excluded.severity')}",
        [now, now, sessions, rules, concerns],
    )
    return cursor.rowcount
