"""Detection: run the rules over clients' histories, store the new signals, group them.

The same code serves one client after a new rating (`evaluate_clients([id])`)
and the periodic sweep (`sweep_run()`, or split into chunks for workers: `sweep_plan()`
then `sweep_chunk_run()` for each chunk). Both are set-based: one streamed query
reads every session of the clients in question with both raters' ratings
joined, the pure rules in `measures.rules` judge each history by its clinic's
thresholds, and the findings are inserted in batches with ON CONFLICT DO NOTHING
— so running twice, or twice at once, never duplicates a signal (unique per
session and rule). Each batch's new signals are then placed into concerns
(`measures.concerns`) in the same transaction, so no signal is left unplaced.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Exists, F, FilteredRelation, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from alliance.progress import OnProgress
from alliance.replica import caught_up_alias
from clients.models import Client
from measures import follow_up
from measures.concerns import (
    Pending,
    concerns_update,
    group_into_concerns,
    lock_clients,
    place_stored,
    ungrouped,
)
from measures.courses import course_for, courses_refresh
from measures.grouping import SEVERITY_ORDER
from measures.history import Finding, Point, Thresholds
from measures.models import (
    ClinicThresholds,
    Concern,
    Flag,
    Instrument,
    OutcomeAnswer,
    Rating,
    Sweep,
    SweepChunk,
    copy_evaluated_to_clients,
    instrument_for,
)
from measures.rules import MEDIUM, NOT_ON_TRACK, evaluate
from measures.scoring import DIMENSIONS
from measures.thresholds import thresholds_for_clinics
from measures.tracking import Course, Scale, judge, newly_not_on_track
from measures.withdrawal import Evaluated, open_to_review, signals_withdraw
from sessions.models import RatingInvitation, Session

logger = logging.getLogger(__name__)

STREAM_CHUNK = 5000
INSERT_BATCH = 10_000

_CLIENT_COLUMNS = [f"client_rating__{name}" for name in DIMENSIONS]
_THERAPIST_COLUMNS = [f"therapist_rating__{name}" for name in DIMENSIONS]
_COLUMNS = [
    "client_id",
    "id",
    "number",
    "starts_at",
    "attendance",
    *_CLIENT_COLUMNS,
    "client_rating__rupture",
    "client_rating__rupture_resolved",
    *_THERAPIST_COLUMNS,
    "therapist_rating__rupture",
    "therapist_rating__rupture_resolved",
    # The outcome answer given at the session, and how it was last judged.
    "outcome__id",
    "outcome__score",
    "outcome__instrument_id",
    "outcome__track",
    "outcome__expected",
    "outcome__lowest_on_track",
    "client__clinic_id",
]
_OUTCOME = _COLUMNS.index("outcome__id")
_N = len(DIMENSIONS)


def _history_rows(clients: QuerySet | Iterable[int]) -> Iterator[tuple]:
    """Every current session of `clients` (voided ones are out of the history), in history
    order, with both raters' answers: one query, from the read replica once it has caught up."""
    return (
        Session.objects.using(caught_up_alias())
        .current()
        .filter(client_id__in=clients)
        .annotate(
            client_rating=FilteredRelation(
                "ratings", condition=Q(ratings__rater=Rating.Rater.CLIENT)
            ),
            therapist_rating=FilteredRelation(
                "ratings", condition=Q(ratings__rater=Rating.Rater.THERAPIST)
            ),
        )
        .order_by("client_id", "starts_at", "number")
        .values_list(*_COLUMNS)
        .iterator(chunk_size=STREAM_CHUNK)
    )


def _point(row: tuple) -> Point:
    client = row[5 : 5 + _N]
    therapist = row[7 + _N : 7 + 2 * _N]
    # In Point's order, by position: one is made per session of every client swept.
    return Point(
        row[1],  # session id
        row[2],  # number
        row[3],  # starts at
        row[4],  # attendance
        client if client[0] is not None else None,
        row[5 + _N] or "",  # rupture
        row[6 + _N] or "",  # rupture resolved
        therapist if therapist[0] is not None else None,
        row[7 + 2 * _N] or "",  # therapist's rupture
        row[8 + 2 * _N] or "",  # therapist's rupture resolved
    )


class _Answer(NamedTuple):
    """An outcome answer in a client's history, with how it was last judged (a tuple, as
    `_Judged`: one is made for each answer a sweep reads)."""

    pk: int
    session_id: int
    number: int
    score: float
    instrument_id: int
    judged: tuple[str, float | None, float | None]  # track, expected, lowest on track


def _answer(row: tuple) -> _Answer | None:
    pk, score, instrument_id, track, expected, lowest = row[_OUTCOME : _OUTCOME + 6]
    if pk is None:
        return None
    # The stored numbers (two places) as floats, to compare with the judgement's own, which
    # are rounded to two places: equal exactly when they are the same number.
    judged = (track, _float(expected), _float(lowest))
    return _Answer(pk, row[1], row[2], float(score), instrument_id, judged)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _client_histories(
    clients: QuerySet | Iterable[int],
) -> Iterator[tuple[int, int, list[Point], list[_Answer]]]:
    for client_id, rows in itertools.groupby(_history_rows(clients), key=lambda row: row[0]):
        rows = list(rows)
        answers = [answer for answer in map(_answer, rows) if answer is not None]
        yield client_id, rows[0][-1], [_point(row) for row in rows], answers


def _open_links(clients: QuerySet | Iterable[int], now: dt.datetime) -> dict[int, set[int]]:
    """Client → their sessions with a rating link still open at `now`: the client may yet
    answer, though a link made late outlasts the session's own rating window (which the
    rules count from its start). Few: a link lives days, and only unanswered ones count."""
    open_links: dict[int, set[int]] = defaultdict(set)
    rows = (
        RatingInvitation.objects.live(now)
        .filter(session__client_id__in=clients)
        .values_list("session__client_id", "session_id")
    )
    for client_id, session_id in rows:
        open_links[client_id].add(session_id)
    return open_links


def _marked(history: list[Point], open_links: set[int]) -> list[Point]:
    return [p._replace(link_open=True) if p.session_id in open_links else p for p in history]


def histories(
    clients: QuerySet | Iterable[int], now: dt.datetime | None = None
) -> Iterator[tuple[int, int, list[Point], list[Point] | None]]:
    """(client id, clinic id, ordered history, as it stands) for each client that has
    sessions, streamed. With `now`, each session holding a link still open then, past its
    own rating window, is marked so, and the history as it stands, unmarked, comes too
    (None for a client holding no such link): detection raises what the rules find both
    ways (a replay at `now` then raises what detection would; `_with_links_sent_late`)."""
    open_links = _open_links(clients, now) if now is not None else {}
    grace = Thresholds.from_settings().rating_grace  # clinics do not change it
    for client_id, clinic_id, history, _answers in _client_histories(clients):
        late = _sent_late(history, open_links.get(client_id, set()), grace, now)
        if late:
            yield client_id, clinic_id, _marked(history, late), history
        else:
            yield client_id, clinic_id, history, None


@dataclass
class Outcome:
    clients_evaluated: int = 0
    flags_created: int = 0  # signals raised, or updated with new evidence
    concerns_opened: int = 0
    repairs_followed_up: int = 0  # repairs whose follow-up finished (measures.follow_up)
    signals_withdrawn: int = 0  # stopped holding while open to review (measures.withdrawal)


class _Judged(NamedTuple):
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
class _Batch:
    """Findings waiting to be stored, and what grouping needs of their clients."""

    rows: list[tuple[int, int, str, str, str]]
    thresholds: dict[int, Thresholds]
    scores: dict[int, dict[int, float | None]]
    not_on_track: dict[int, bool] = field(default_factory=dict)
    judged: list[_Judged] = field(default_factory=list)  # answers judged anew
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
    # Findings a link sent late holds (`_with_links_sent_late`): written only over a signal
    # already holding, never raised.
    held: list[tuple[int, int, str, str, str]] = field(default_factory=list)

    @property
    def found(self) -> set[tuple[int, str]]:
        return {(session_id, rule) for _client, session_id, rule, *_rest in self.rows}


class _Tracks:
    """Each clinic's instrument, its scale and expected course, read once per evaluation."""

    def __init__(self) -> None:
        self._clinics: dict[int, tuple[Instrument, Scale, Course]] = {}
        self.min_clients = settings.ALLIANCE_OUTCOME_MIN_CLIENTS

    def of(self, clinic_id: int) -> tuple[Instrument, Scale, Course]:
        if clinic_id not in self._clinics:
            instrument = instrument_for(clinic_id)
            self._clinics[clinic_id] = (
                instrument,
                instrument.scale(),
                course_for(clinic_id, instrument.pk),
            )
        return self._clinics[clinic_id]


def _judge_outcome(
    client_id: int, clinic_id: int, answers: list[_Answer], tracks: _Tracks, batch: _Batch
) -> tuple[list[tuple[int, int, str, str, str]], bool, list[_Judged]]:
    """Judge one client's answers to their clinic's instrument: the "not on track" findings
    to store, whether the latest answer is off track, and the answers judged anew. The
    answers to any other instrument are not judged (`batch.unjudged`)."""
    instrument, scale, course = tracks.of(clinic_id)
    mine = [answer for answer in answers if answer.instrument_id == instrument.pk]
    batch.unjudged.update(
        (answer.session_id, NOT_ON_TRACK)
        for answer in answers
        if answer.instrument_id != instrument.pk
    )
    judgements = judge(
        [(answer.number, answer.score) for answer in mine],
        scale,
        course,
        min_clients=tracks.min_clients,
    )
    sessions = {answer.number: answer.session_id for answer in mine}
    findings = [
        (
            client_id,
            sessions[j.session_number],
            NOT_ON_TRACK,
            MEDIUM,
            json.dumps(j.evidence(mine[0].score, scale)),
        )
        for j in newly_not_on_track(judgements)
    ]
    rejudged = []
    for answer, j in zip(mine, judgements, strict=True):
        judged = (j.status, j.expected, j.lowest_on_track)
        if answer.judged != judged:
            rejudged.append(_Judged(answer.pk, *judged))
    return findings, bool(judgements) and judgements[-1].not_on_track, rejudged


def _evaluate(
    clients: QuerySet | Iterable[int], now: dt.datetime, on_progress: OnProgress | None = None
) -> Outcome:
    by_clinic: dict[int, Thresholds] = {}
    tracks = _Tracks()
    outcome = Outcome()
    batch = _Batch([], {}, {})
    # Repairs followed up on the same histories; judged after this batch's concerns are placed.
    repairs = follow_up.watched(clients)
    followed: list[tuple[int, follow_up.Watched, follow_up.rules.Recovery]] = []
    open_links = _open_links(clients, now)
    for client_id, clinic_id, history, answers in _client_histories(clients):
        outcome.clients_evaluated += 1
        if on_progress is not None:
            on_progress(outcome.clients_evaluated)
        if clinic_id not in by_clinic:
            by_clinic.update(thresholds_for_clinics([clinic_id]))
        thresholds = by_clinic[clinic_id]
        batch.evaluated[client_id] = thresholds
        late = _sent_late(history, open_links.get(client_id, set()), thresholds.rating_grace, now)
        if late:
            findings, held = _with_links_sent_late(history, late, thresholds, now)
            batch.held.extend(_rows(client_id, held))
            batch.unjudged.update((finding.session_id, finding.rule) for finding in held)
        else:
            findings = evaluate(history, thresholds, now)
        if client_id in repairs:
            followed.extend(
                (client_id, repair, result)
                for repair, result in follow_up.judge(repairs[client_id], history, thresholds)
            )
        batch.rows.extend(_rows(client_id, findings))
        off_track, not_on_track, judged = _judge_outcome(
            client_id, clinic_id, answers, tracks, batch
        )
        batch.rows.extend(off_track)
        batch.judged.extend(judged)
        # For every client: a withdrawal works out their concern's level with it too.
        batch.not_on_track[client_id] = not_on_track
        if findings or off_track or late:
            batch.thresholds[client_id] = thresholds
            batch.scores[client_id] = {p.number: p.client_score for p in history}
            batch.numbers.update((p.session_id, p.number) for p in history)
        if len(batch.rows) + len(batch.judged) >= INSERT_BATCH:
            _store(batch, now, outcome)
            batch = _Batch([], {}, {})
    batch.evaluated.update(_without_history(clients, outcome.clients_evaluated, by_clinic))
    _store(batch, now, outcome)
    if followed:
        outcome.repairs_followed_up = follow_up.repairs_record(followed, now)
    return outcome


def _rows(client_id: int, findings: Iterable[Finding]) -> Iterator[tuple[int, int, str, str, str]]:
    for f in findings:
        yield client_id, f.session_id, f.rule, f.severity, json.dumps(f.evidence)


def _sent_late(
    history: list[Point], open_links: set[int], grace: dt.timedelta, now: dt.datetime | None
) -> set[int]:
    """The client's sessions with a link still open past the session's own rating window
    (`grace` from its start): the client may yet answer (inside its window, a session
    waits for their answer anyway, link or not)."""
    if not open_links or now is None:
        return set()
    return {
        point.session_id
        for point in history
        if point.session_id in open_links and point.starts_at + grace <= now
    }


def _with_links_sent_late(
    history: list[Point], late: set[int], thresholds: Thresholds, now: dt.datetime
) -> tuple[list[Finding], list[Finding]]:
    """(findings, held) for a client the rules would judge one way with these links and
    another without them. A link sent late that the client may still answer neither raises
    nor withdraws anything: its answer, or its expiry, will. So the findings are those made
    both ways, with the numbers of the history as it stands; the rest are held: a signal
    already raised for one of them stays, following the ratings (its numbers are those of
    the history as it stands, else those made with the links), and none is raised.

    (The link withdrawing a raised signal and its expiry raising it again opened a concern,
    closed it and opened a new one for one fact; and a session held back shifts a run of
    unrated sessions to end a session later, which raised a second signal for the run.)"""
    as_it_stands = evaluate(history, thresholds, now)
    awaiting = evaluate(_marked(history, late), thresholds, now)
    stands = {(f.session_id, f.rule) for f in as_it_stands}
    waits = {(f.session_id, f.rule) for f in awaiting}
    findings = [f for f in as_it_stands if (f.session_id, f.rule) in waits]
    held = [f for f in as_it_stands if (f.session_id, f.rule) not in waits]
    held += [f for f in awaiting if (f.session_id, f.rule) not in stands]
    return findings, held


def _without_history(
    clients: QuerySet | Iterable[int], streamed: int, by_clinic: dict[int, Thresholds]
) -> dict[int, Thresholds]:
    """The clients asked for that had no history to stream (every session voided), each
    with their clinic's thresholds: nothing of theirs holds now (measures.withdrawal). A
    list asked for costs no query when every client had a history."""
    if not isinstance(clients, QuerySet):
        clients = list(clients)
        if len(set(clients)) == streamed:
            return {}
    unseen = Client.objects.filter(pk__in=clients).exclude(
        Exists(Session.objects.current().filter(client=OuterRef("pk")))
    )
    found: dict[int, Thresholds] = {}
    for client_id, clinic_id in unseen.values_list("pk", "clinic_id"):
        if clinic_id not in by_clinic:
            by_clinic.update(thresholds_for_clinics([clinic_id]))
        found[client_id] = by_clinic[clinic_id]
    return found


def _copies_write(clients: QuerySet | Iterable[int]) -> None:
    """After an evaluation, its clients' copies of their latest score and track, from what
    is stored now: the answers it judged, and any rating or voided session committed
    meanwhile (whose own evaluation writes them again after). For every client it was
    asked for, not only those with a history left: a client whose one rated session was
    voided has no score now."""
    if isinstance(clients, QuerySet):
        clients = clients.values_list("pk", flat=True)
    copy_evaluated_to_clients(clients)


@transaction.atomic
def _store(batch: _Batch, now: dt.datetime, outcome: Outcome) -> None:
    """Store the batch's judged answers, withdraw the signals that stopped holding, and
    store its new signals placed into concerns, all or nothing. The clients' rows are
    locked first, once, by every path (`lock_clients`, in id order): grouping is
    serialised per client, and no two evaluations meeting here can each hold what the
    other waits for."""
    _judged_update(batch.judged, now)
    kept = batch.found | batch.unjudged
    # The clients with findings are locked anyway, and their signals read under the lock;
    # the others are read first, and only those with a signal that may have stopped
    # holding are locked (almost never any), and read again under it.
    others = [client_id for client_id in batch.evaluated if client_id not in batch.thresholds]
    stale = {signal.client_id for signal in open_to_review(others, now, batch.unjudged)[0]}
    if not batch.rows and not batch.held and not stale:
        return
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
    outcome.signals_withdrawn += withdrawal.count
    # A finding that an evaluation begun later withdrew is that one's to judge: it read the
    # newer history (two ratings a moment apart, the later evaluation finishing first).
    batch.rows = [row for row in batch.rows if (row[1], row[2]) not in withdrawal.later]
    if not batch.rows:
        return
    if connection.vendor == "postgresql" and len(batch.rows) >= COPY_FROM:
        written, opened = _store_placed(batch, now, clinic_ids)
    else:
        written = _insert(batch.rows, now)
        opened = concerns_update(
            batch.thresholds, now, batch.scores, batch.not_on_track, clinic_ids=clinic_ids
        )
    outcome.flags_created += written
    outcome.concerns_opened += opened


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


def _judged_update(answers: list[_Judged], now: dt.datetime) -> None:
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


def _judged_update_from_arrays(answers: list[_Judged], now: dt.datetime) -> None:
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
def _judged_update_from_copy(answers: list[_Judged], now: dt.datetime) -> None:
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


def _store_placed(
    batch: _Batch, now: dt.datetime, clinic_ids: Mapping[int, int]
) -> tuple[int, int]:
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


def evaluate_clients(client_ids: Iterable[int], now: dt.datetime | None = None) -> Outcome:
    """Evaluate these clients now: their new signals, and the concerns those opened."""
    clients = list(client_ids)
    outcome = _evaluate(clients, now or timezone.now())
    _copies_write(clients)
    return outcome


def clients_to_sweep(since: dt.datetime | None, now: dt.datetime, grace: dt.timedelta) -> QuerySet:
    """Ids of clients whose history changed since the last sweep, or whose time-based
    rules may have changed: an attended session's rating window closed since then, or a
    link made later, which outlasted it, expired unanswered; and every client in therapy
    at a clinic whose thresholds changed since then."""
    if since is None:
        return Client.objects.values("pk")
    # Voided sessions included: voiding one changes the history the rules read.
    changed_session = Session.objects.filter(client=OuterRef("pk"), updated_at__gte=since)
    changed_rating = Rating.objects.filter(session__client=OuterRef("pk"), updated_at__gte=since)
    window_closed = Session.objects.current().filter(
        client=OuterRef("pk"),
        attendance=Session.Attendance.ATTENDED,
        starts_at__gt=since - grace,
        starts_at__lte=now - grace,
    )
    link_expired = RatingInvitation.objects.filter(
        session__client=OuterRef("pk"),
        used_at__isnull=True,
        voided_at__isnull=True,
        expires_at__gt=since,
        expires_at__lte=now,
    )
    # A calibration applied, or the defaults taken back: a concern open under the old
    # thresholds that the new ones would not raise is withdrawn now, not at a next rating
    # that a client who has stopped coming never gives (README "Signals that stop holding").
    # Clients still in therapy only: lower thresholds would otherwise open concerns on the
    # old sessions of clients long discharged, whom nobody will see again.
    thresholds_changed = Q(status=Client.Status.ACTIVE) & Exists(
        ClinicThresholds.objects.filter(clinic=OuterRef("clinic"), updated_at__gte=since)
    )
    return Client.objects.filter(
        Exists(changed_session)
        | Exists(changed_rating)
        | Exists(window_closed)
        | Exists(link_expired)
        | thresholds_changed
    ).values("pk")


def sweep_overlap() -> dt.timedelta:
    return dt.timedelta(seconds=settings.ALLIANCE_SWEEP_OVERLAP_SECONDS)


# Longer than any one task of a sweep may run (`measures.tasks`: a chunk 5 minutes, a
# catch-up 9): a sweep whose last sign of work is older than this has stopped, not slowed.
SWEEP_STALLED_AFTER = dt.timedelta(minutes=10)


def sweep_at_work(now: dt.datetime) -> Sweep | None:
    """An unfinished sweep or catch-up still at work: begun, or one of its chunks done,
    within SWEEP_STALLED_AFTER. A catch-up begun beside it would read what it is reading
    (every client, before any sweep has finished) and judge again the clinics it judges
    again (`_clinics_to_rejudge` carries an unfinished sweep's), so it would do the
    sweep's work a second time, beside it; one whose workers are lost is left to the
    next catch-up once it has stalled."""
    cutoff = now - SWEEP_STALLED_AFTER
    chunk_done = SweepChunk.objects.filter(sweep=OuterRef("pk"), finished_at__gte=cutoff)
    return (
        Sweep.objects.filter(finished_at__isnull=True, started_at__lte=now)
        .filter(Q(started_at__gte=cutoff) | Exists(chunk_done))
        .order_by("-started_at")
        .first()
    )


def _sweep_start(now: dt.datetime, *, refresh_courses: bool = True) -> tuple[Sweep, QuerySet]:
    """Record a new sweep and pick its clients: everything changed since a little before
    the last finished sweep began (`ALLIANCE_SWEEP_OVERLAP_SECONDS`: a change stamped
    before it began but committed after was hidden from it). A sweep left unfinished (a
    chunk lost with its worker) bounds nothing, so the next one covers its clients again.
    The catch-up between nightly sweeps leaves the expected courses as they are
    (`refresh_courses`), and the old sweeps' records to the nightly one (`sweeps_forget`)."""
    last = Sweep.objects.last_finished()
    if refresh_courses:  # the nightly sweep
        sweeps_forget(now, keep=last)
    sweep = Sweep.objects.create(started_at=now)
    # The longest rating window any clinic could have: the setting (clinics do not change it).
    grace = Thresholds.from_settings().rating_grace
    since = last.started_at - sweep_overlap() if last else None
    clients = clients_to_sweep(since, now, grace)
    rejudge = _clinics_to_rejudge(sweep, since, now, refresh_courses=refresh_courses)
    if rejudge:
        answered = OutcomeAnswer.objects.filter(session__client_id=OuterRef("pk"))
        clients = Client.objects.filter(
            Q(pk__in=clients) | (Q(clinic_id__in=rejudge) & Exists(answered))
        ).values("pk")
    return sweep, clients


def _clinics_to_rejudge(
    sweep: Sweep, since: dt.datetime | None, now: dt.datetime, *, refresh_courses: bool
) -> set[int]:
    """The clinics whose answered clients `sweep` judges again: those whose expected course
    moved now (the clinics' own experience first: where it moved, every answer is judged
    again), and those an unfinished sweep begun since `since` was to judge again. A chunk
    of those lost with its worker, or never queued, would otherwise leave its clients
    judged against the old course for good: their history did not change, and the course,
    already stored, does not move again. Recorded on the sweep with the courses stored, so
    the next sweep carries them on if this one does not finish either."""
    unfinished = Sweep.objects.filter(finished_at__isnull=True).exclude(pk=sweep.pk)
    if since is not None:
        unfinished = unfinished.filter(started_at__gte=since)
    carried = {
        clinic
        for clinics in unfinished.values_list("rejudged_clinics", flat=True)
        for clinic in clinics
    }
    with transaction.atomic():
        rejudge = carried | (courses_refresh(now) if refresh_courses else set())
        if rejudge:
            sweep.rejudged_clinics = sorted(rejudge)
            sweep.save(update_fields=["rejudged_clinics"])
    return rejudge


def _copies_mend(refresh_courses: bool) -> None:
    """The nightly sweep's first step: every client's copies of their latest score and
    track written again from what is stored (`copy_evaluated_to_clients`), mending any
    that something wrote past detection (a hand-made SQL fix, the clients' table restored
    alone). Between sweeps only the clients that changed are evaluated, so nothing else
    would reach such a copy. A first sweep evaluates, and so writes, every client anyway."""
    if refresh_courses and Sweep.objects.last_finished() is not None:
        copy_evaluated_to_clients(Client.objects.values_list("pk", flat=True))


def sweeps_forget(now: dt.datetime, *, keep: Sweep | None) -> int:
    """Delete the records of sweeps and catch-ups begun more than ALLIANCE_SWEEP_KEEP_DAYS
    ago, with their chunks; returns how many sweeps. Nothing reads them but the operators'
    log, and the catch-up alone leaves 52,000 a year. `keep` (the latest finished) stays
    whatever its age: it bounds the next sweep; so do the unfinished ones begun since it,
    whose clinics the next sweep carries on. They hold no clinical record, only when
    detection ran and what it found."""
    cutoff = now - dt.timedelta(days=settings.ALLIANCE_SWEEP_KEEP_DAYS)
    old = Sweep.objects.filter(started_at__lt=cutoff)
    if keep is not None:
        # Nor an unfinished sweep the next one carries on (`_clinics_to_rejudge`): nothing
        # may have finished for longer than the days kept, and its clinics still wait.
        carried = Q(finished_at__isnull=True, started_at__gte=keep.started_at - sweep_overlap())
        old = old.exclude(pk=keep.pk).exclude(carried)
    forgotten = old.delete()[1].get(Sweep._meta.label, 0)
    if forgotten:
        logger.info("Forgot %s sweep records older than %s", forgotten, cutoff.date())
    return forgotten


# What a sweep and each of its chunks record of what they did (an Outcome's own names).
_COUNTS = ["clients_evaluated", "flags_created", "concerns_opened", "signals_withdrawn"]


def _sweep_finish(sweep: Sweep, outcome: Outcome) -> None:
    for count in _COUNTS:
        setattr(sweep, count, getattr(outcome, count))
    sweep.finished_at = timezone.now()
    sweep.save(update_fields=[*_COUNTS, "finished_at"])
    logger.info(
        "Sweep evaluated %s clients: %s new signals, %s new concerns, %s signals withdrawn",
        outcome.clients_evaluated,
        outcome.flags_created,
        outcome.concerns_opened,
        outcome.signals_withdrawn,
    )


def sweep_run(
    now: dt.datetime | None = None,
    *,
    chunked: bool = False,
    refresh_courses: bool = True,
    progress: Callable[[int | None], OnProgress] | None = None,
) -> Sweep:
    """The periodic sweep: everything changed since the last finished sweep began.

    In this process, in one pass; or, `chunked`, as the workers run it (`sweep_plan`, then
    each chunk) one chunk after another. `progress`, given the number of clients to sweep,
    returns what to call with the number evaluated so far; only then are they counted (one
    statement more)."""
    if chunked:
        sweep = sweep_plan(now, refresh_courses=refresh_courses)
        for chunk_id in sweep.chunks.values_list("pk", flat=True):
            sweep_chunk_run(chunk_id)
        sweep.refresh_from_db()
        return sweep
    now = now or timezone.now()
    _copies_mend(refresh_courses)
    sweep, clients = _sweep_start(now, refresh_courses=refresh_courses)
    on_progress = progress(clients.count()) if progress is not None else None
    _sweep_finish(sweep, _evaluate(clients, now, on_progress))
    _copies_write(clients)
    return sweep


def sweep_plan(
    now: dt.datetime | None = None,
    *,
    chunk_clients: int | None = None,
    refresh_courses: bool = True,
) -> Sweep:
    """Start a sweep whose clients are split into chunks (`SweepChunk`), for workers to
    evaluate side by side; returns it, finished at once if no client needs evaluating.

    All or nothing: a coordinator that dies while planning leaves no half-planned sweep."""
    _copies_mend(refresh_courses)
    return _sweep_plan(now, chunk_clients=chunk_clients, refresh_courses=refresh_courses)


@transaction.atomic
def _sweep_plan(
    now: dt.datetime | None, *, chunk_clients: int | None, refresh_courses: bool
) -> Sweep:
    now = now or timezone.now()
    size = chunk_clients or settings.ALLIANCE_SWEEP_CHUNK_CLIENTS
    if size < 1:
        raise ValueError(f"A sweep's chunks hold 1 client or more, not {size}.")
    sweep, clients = _sweep_start(now, refresh_courses=refresh_courses)
    # Neighbouring ids: each chunk's histories come from one range of the sessions' index.
    ids = list(clients.order_by("pk").values_list("pk", flat=True))
    SweepChunk.objects.bulk_create(
        SweepChunk(sweep=sweep, number=number, client_ids=ids[start : start + size])
        for number, start in enumerate(range(0, len(ids), size), start=1)
    )
    if not ids:
        _sweep_finish(sweep, Outcome())
    return sweep


def sweep_chunk_run(chunk_id: int) -> Outcome:
    """Evaluate one chunk of a sweep's clients, as of the sweep's start, and record it done;
    the chunk that finishes last finishes the sweep with the chunks' summed counts.

    Safe to run twice, or twice at once (a chunk delivered again after its worker died):
    the signals are upserted and grouping locks each client, so the second run writes
    nothing new; a chunk already recorded done is not evaluated again. A chunk whose
    sweep's record was forgotten meanwhile (`sweeps_forget`: its workers away for longer
    than ALLIANCE_SWEEP_KEEP_DAYS) is skipped: the sweeps since have covered its clients."""
    chunk = SweepChunk.objects.select_related("sweep").filter(pk=chunk_id).first()
    if chunk is None:
        logger.info("Sweep chunk %s skipped: its sweep's record was forgotten", chunk_id)
        return Outcome()
    if chunk.finished_at is not None:
        return Outcome()
    outcome = _evaluate(chunk.client_ids, chunk.sweep.started_at)
    # Recorded done before the copies are written (a worker lost in between leaves these
    # clients' copies to their next evaluation, or the nightly sweep's).
    _chunk_finish(chunk, outcome)
    _copies_write(chunk.client_ids)
    return outcome


# What each delivery of a chunk did to the records: two deliveries never do the same thing
# twice (signals are upserted, concerns opened and signals withdrawn under the client's
# lock), so what a second delivery did adds to the first's. Both read the same clients.
_EFFECTS = ["flags_created", "concerns_opened", "signals_withdrawn"]


@transaction.atomic
def _chunk_finish(chunk: SweepChunk, outcome: Outcome) -> None:
    # The sweep's row first: chunks finishing at once take turns, so exactly one of them
    # sees no chunk left unfinished.
    sweep = Sweep.objects.select_for_update().filter(pk=chunk.sweep_id).first()
    if sweep is None:
        return  # forgotten while this chunk ran (`sweeps_forget`)
    recorded = SweepChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(
        finished_at=timezone.now(), **{count: getattr(outcome, count) for count in _COUNTS}
    )
    if not recorded:
        # Another delivery recorded this chunk first. Which of two deliveries at once raised
        # what they found depends on which read after the other's writes committed, not on
        # which records first: add this one's effects, to the sweep's sums too if done.
        _effects_add(chunk, sweep, outcome)
        return
    if sweep.finished_at is not None:
        return
    if sweep.chunks.filter(finished_at__isnull=True).exists():
        return
    _sweep_finish(sweep, Outcome(**sweep.chunks.aggregate(**{c: Sum(c) for c in _COUNTS})))


def _effects_add(chunk: SweepChunk, sweep: Sweep, outcome: Outcome) -> None:
    added = {name: F(name) + getattr(outcome, name) for name in _EFFECTS if getattr(outcome, name)}
    if not added:
        return
    SweepChunk.objects.filter(pk=chunk.pk).update(**added)
    if sweep.finished_at is not None:
        Sweep.objects.filter(pk=sweep.pk).update(**added)
