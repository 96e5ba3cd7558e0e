"""Reads that may go to a read replica (`DATABASE_REPLICA_URL`), and the router that keeps
every write on the primary.

Only reads that say so go to the replica: the supervisor's dashboard, the CSV exports and
the sweep's streamed histories, with `.using(replica_alias())` or, where a read must see
everything committed so far, `.using(caught_up_alias())`. Everything else, and everything
when no replica is configured, reads and writes "default".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

REPLICA = "replica"
# How often the sweep asks a lagging replica whether it has caught up.
POLL_SECONDS = 0.05


def replica_alias() -> str:
    """The replica's alias when one is configured, else "default": for pages and files,
    where a replica a moment behind is as good as the primary."""
    return settings.ALLIANCE_REPLICA_DATABASE or DEFAULT_DB_ALIAS


def caught_up_alias() -> str:
    """The replica, once it has replayed everything committed on the primary until now;
    "default" if it has not within `DATABASE_REPLICA_WAIT_SECONDS`, or when the caller is
    inside a transaction (the replica cannot see what that transaction wrote).

    Detection reads through this: a sweep reads "what changed since the last sweep
    began", so a replica behind by even a second would lose those changes for good."""
    alias = replica_alias()
    primary = connections[DEFAULT_DB_ALIAS]
    if alias == DEFAULT_DB_ALIAS or primary.in_atomic_block:
        return DEFAULT_DB_ALIAS
    if primary.vendor != "postgresql":
        return alias
    with primary.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (position,) = cursor.fetchone()
    deadline = time.monotonic() + settings.DATABASE_REPLICA_WAIT_SECONDS
    while True:
        with connections[alias].cursor() as cursor:
            # A server that is not a standby (the primary as its own replica) is caught up.
            cursor.execute(
                "SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= %s::pg_lsn",
                [position],
            )
            (caught_up,) = cursor.fetchone()
        if caught_up:
            return alias
        if time.monotonic() >= deadline:
            logger.warning("The read replica is behind the primary; reading from the primary")
            return DEFAULT_DB_ALIAS
        time.sleep(POLL_SECONDS)


@contextmanager
def one_snapshot(alias: str) -> Iterator[None]:
    """Reads that must agree with each other (counts and the totals made from them) all
    see the database as it was at the first: on PostgreSQL a read-only REPEATABLE READ
    transaction (allowed on a streaming replica too), whose statements share the snapshot
    its first took; on SQLite a transaction, which reads one state of the file throughout.
    Each statement of PostgreSQL's default READ COMMITTED sees what had committed when
    *it* began, so a rating landing between two counts was in one and not the other.

    Inside a caller's transaction its own isolation holds (SET TRANSACTION must come
    before the transaction's first query), and nothing is changed."""
    connection = connections[alias]
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic(using=alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


class PrimaryReplicaRouter:
    """Writes and migrations on the primary only; reads on the primary unless a query names
    the replica (related objects of a replica's rows are then read from the primary)."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # The replica holds the primary's rows: a row read there may be linked to one here.
        return {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA, None}

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
