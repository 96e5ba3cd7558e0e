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
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

logger = logging.getLogger(__name__)

REPLICA = "replica"
# How often the sweep asks a lagging replica whether it has caught up.
POLL_SECONDS = 0.05
# After the replica fails to answer, reads that would go there go to the primary for this
# long before it is tried again: a host gone from the network costs one connection attempt
# (`DATABASE_CONNECT_TIMEOUT_SECONDS`) a process every half minute, not one every request.
RETRY_SECONDS = 30.0

_replica_down_until = 0.0  # this process's: time.monotonic() until which it is not tried


def replica_alias() -> str:
    """The replica's alias when one is configured and answers, else "default": for pages
    and files, where a replica a moment behind is as good as the primary. A replica that
    cannot be reached is no reason to refuse a page the primary can serve: its readers
    read the primary meanwhile (which then carries their load), and it is logged."""
    alias = settings.ALLIANCE_REPLICA_DATABASE
    if not alias or time.monotonic() < _replica_down_until:
        return DEFAULT_DB_ALIAS
    connection = connections[alias]
    try:
        # Connects if need be, here rather than at the first row: a file whose 200 and
        # header line have gone cannot turn into a 503 any more. A connection kept open
        # (CONN_MAX_AGE) is checked first, once a request or task, as its first query
        # would check it: one the replica ended when it went down is not chosen.
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except DatabaseError:
        _replica_unreachable(alias)
        return DEFAULT_DB_ALIAS
    return alias


def _replica_unreachable(alias: str) -> None:
    global _replica_down_until
    _replica_down_until = time.monotonic() + RETRY_SECONDS
    logger.warning(
        "The read replica cannot be reached; reading from the primary for %d s", RETRY_SECONDS
    )
    connection = connections[alias]
    if not connection.in_atomic_block:
        connection.close()  # opened afresh when it is tried again


def replica_retry_now() -> None:
    """Forget that the replica failed to answer (tests, and an operator's shell)."""
    global _replica_down_until
    _replica_down_until = 0.0


def caught_up_alias() -> str:
    """The replica, once it has replayed everything committed on the primary until now;
    "default" if it has not within `DATABASE_REPLICA_WAIT_SECONDS`, if it cannot be
    reached or is not the primary's standby, or when the caller is inside a transaction
    (the replica cannot see what that transaction wrote).

    Detection reads through this: a sweep reads "what changed since the last sweep
    began", so a replica behind by even a second would lose those changes for good."""
    alias = replica_alias()
    primary = connections[DEFAULT_DB_ALIAS]
    if alias == DEFAULT_DB_ALIAS or primary.in_atomic_block:
        return DEFAULT_DB_ALIAS
    if primary.vendor != "postgresql":
        return alias
    with primary.cursor() as cursor:
        # Where the primary has inserted WAL up to: at or past every commit visible now,
        # even one made with synchronous_commit off (visible before its WAL is written).
        cursor.execute(
            "SELECT pg_current_wal_insert_lsn()::text, system_identifier, "
            "pg_postmaster_start_time(), current_database() FROM pg_control_system()"
        )
        position, cluster, started, name = cursor.fetchone()
    try:
        return _caught_up(alias, position, cluster, started, name)
    except DatabaseError:  # gone between the look above and this one
        _replica_unreachable(alias)
        return DEFAULT_DB_ALIAS


def _caught_up(alias: str, position: str, cluster: int, started: Any, name: str) -> str:
    deadline = time.monotonic() + settings.DATABASE_REPLICA_WAIT_SECONDS
    while True:
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), "
                "pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= %s::pg_lsn, "
                "system_identifier = %s, "
                "pg_postmaster_start_time() = %s AND current_database() = %s "
                "FROM pg_control_system()",
                [position, cluster, started, name],
            )
            standby, replayed, same_cluster, itself = cursor.fetchone()
        if not same_cluster:
            # A standby shares its primary's system identifier: another cluster's replay
            # position says nothing of this one's.
            return _not_trusted(alias, "is a copy of another database cluster")
        if not standby:
            if itself:  # the primary as its own replica (tests, a small installation)
                return alias
            # A promoted former standby, a logical copy: no replay position says how far
            # behind it is, so it is not trusted with what changed since the last sweep.
            return _not_trusted(alias, "is not a standby of the primary")
        if replayed:
            return alias
        if time.monotonic() >= deadline:
            logger.warning("The read replica is behind the primary; reading from the primary")
            return DEFAULT_DB_ALIAS
        time.sleep(POLL_SECONDS)


def _not_trusted(alias: str, why: str) -> str:
    logger.warning("The read replica %s; detection reads the primary", why)
    return DEFAULT_DB_ALIAS


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
