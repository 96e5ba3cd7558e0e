"""Detection: run the flag rules over clients' histories and store what is missing.

The same code serves one client after a new rating (`evaluate_clients([id])`)
and the periodic sweep (`sweep_run()`). Both are set-based: one streamed query
reads every session of the clients in question with both raters' ratings
joined, the pure rules in `measures.rules` judge each history in turn, and the
findings are inserted in batches with ON CONFLICT DO NOTHING — so running
twice, or twice at once, never duplicates a flag (unique per session and rule).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, FilteredRelation, OuterRef, Q, QuerySet
from django.utils import timezone

from clients.models import Client
from measures.history import Point, Thresholds
from measures.models import Flag, Rating, Sweep
from measures.rules import evaluate
from measures.scoring import DIMENSIONS
from sessions.models import Session

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
]
_N = len(DIMENSIONS)


def _history_rows(clients: QuerySet | Iterable[int]) -> Iterator[tuple]:
    """Every session of `clients`, in history order, with both raters' answers: one query."""
    return (
        Session.objects.filter(client_id__in=clients)
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
    return Point(
        session_id=row[1],
        number=row[2],
        starts_at=row[3],
        attendance=row[4],
        client=client if client[0] is not None else None,
        rupture=row[5 + _N] or "",
        rupture_resolved=row[6 + _N] or "",
        therapist=therapist if therapist[0] is not None else None,
    )


def histories(clients: QuerySet | Iterable[int]) -> Iterator[tuple[int, list[Point]]]:
    """(client id, ordered history) for each client that has sessions, streamed."""
    for client_id, rows in itertools.groupby(_history_rows(clients), key=lambda row: row[0]):
        yield client_id, [_point(row) for row in rows]


@dataclass
class Outcome:
    clients_evaluated: int = 0
    flags_created: int = 0


def _evaluate(clients: QuerySet | Iterable[int], now: dt.datetime) -> Outcome:
    thresholds = Thresholds.from_settings()
    outcome = Outcome()
    pending: list[tuple[int, int, str, str, str]] = []
    for client_id, history in histories(clients):
        outcome.clients_evaluated += 1
        pending.extend(
            (client_id, f.session_id, f.rule, f.severity, json.dumps(f.evidence))
            for f in evaluate(history, thresholds, now)
        )
        if len(pending) >= INSERT_BATCH:
            outcome.flags_created += _insert(pending, now)
            pending = []
    outcome.flags_created += _insert(pending, now)
    return outcome


def _insert(rows: list[tuple[int, int, str, str, str]], now: dt.datetime) -> int:
    """Insert the flags that do not exist yet; returns how many were new.

    Plain SQL rather than bulk_create: building and adapting a model instance
    per finding cost ten times the rules themselves. ON CONFLICT DO NOTHING on
    (session, rule) makes it safe to run twice, or twice at once, and the
    statement's row count is the number of flags actually raised.
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
            f"INSERT OR IGNORE INTO {table} ({_FLAG_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, 'open', %s, '')",
            [(*row, created_at) for row in rows],
        )
    return connection.connection.total_changes - before


_FLAG_COLUMNS = "client_id, session_id, rule, severity, evidence, status, created_at, note"


@transaction.atomic
def _insert_postgresql(rows: list[tuple[int, int, str, str, str]], now: dt.datetime) -> int:
    """COPY the findings into a scratch table, then insert the new ones in one statement."""
    table = connection.ops.quote_name(Flag._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE found (c bigint, s bigint, r varchar(24), v varchar(8), "
            "e jsonb)"
        )
        with cursor.cursor.copy("COPY found FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({_FLAG_COLUMNS}) SELECT c, s, r, v, e, 'open', %s, '' "
            "FROM found ON CONFLICT (session_id, rule) DO NOTHING",
            [now],
        )
        created = cursor.rowcount
        # Dropped here, not ON COMMIT: the caller's transaction may go on.
        cursor.execute("DROP TABLE found")
    return created


def evaluate_clients(client_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Evaluate these clients now; returns the number of new flags."""
    ids = list(client_ids)
    outcome = _evaluate(ids, now or timezone.now())
    return outcome.flags_created


def clients_to_sweep(since: dt.datetime | None, now: dt.datetime, grace: dt.timedelta) -> QuerySet:
    """Ids of clients whose history changed since the last sweep, or whose time-based
    rules may have changed: an attended session's rating window closed since then."""
    if since is None:
        return Client.objects.values("pk")
    changed_session = Session.objects.filter(client=OuterRef("pk"), updated_at__gte=since)
    changed_rating = Rating.objects.filter(session__client=OuterRef("pk"), updated_at__gte=since)
    window_closed = Session.objects.filter(
        client=OuterRef("pk"),
        attendance=Session.Attendance.ATTENDED,
        starts_at__gt=since - grace,
        starts_at__lte=now - grace,
    )
    return Client.objects.filter(
        Exists(changed_session) | Exists(changed_rating) | Exists(window_closed)
    ).values("pk")


def sweep_run(now: dt.datetime | None = None) -> Sweep:
    """The periodic sweep: everything changed since the last finished sweep began."""
    now = now or timezone.now()
    last = Sweep.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
    sweep = Sweep.objects.create(started_at=now)
    grace = Thresholds.from_settings().rating_grace
    clients = clients_to_sweep(last.started_at if last else None, now, grace)
    outcome = _evaluate(clients, now)
    sweep.clients_evaluated = outcome.clients_evaluated
    sweep.flags_created = outcome.flags_created
    sweep.finished_at = timezone.now()
    sweep.save(update_fields=["clients_evaluated", "flags_created", "finished_at"])
    logger.info(
        "Sweep evaluated %s clients and raised %s flags",
        outcome.clients_evaluated,
        outcome.flags_created,
    )
    return sweep
