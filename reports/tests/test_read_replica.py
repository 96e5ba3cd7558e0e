"""The read replica (`DATABASE_REPLICA_URL`): the dashboard, the CSV exports and the sweep's
histories read from it, every write goes to the primary, and without one nothing changes.

The replica here is the test database itself under another alias (Django's TEST MIRROR,
set up in conftest.py): another connection, so the tests commit their data
(`transaction=True`) and tell the two apart by the statements each connection ran.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alliance.replica import REPLICA, PrimaryReplicaRouter
from clients.models import AuditEntry, Client
from measures.models import Concern, Flag
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_run
from measures.tests.factories import RatingFactory
from sessions.tests.factories import SessionFactory

PROJECT = Path(__file__).resolve().parents[2]
BOTH = ["default", REPLICA]
WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "COPY")


@pytest.fixture
def replica(settings: Any, postgresql: None) -> None:
    """Reads that may go to the replica go there (as with DATABASE_REPLICA_URL set)."""
    from alliance.replica import replica_retry_now

    settings.ALLIANCE_REPLICA_DATABASE = REPLICA
    replica_retry_now()  # an earlier test's unreachable replica is this process's memory


@contextmanager
def statements() -> Iterator[dict[str, list[str]]]:
    """The SQL each connection ran in the block, by alias."""
    ran: dict[str, list[str]] = {}
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as copy,
    ):
        yield ran
    ran["default"] = [query["sql"] for query in primary.captured_queries]
    ran[REPLICA] = [query["sql"] for query in copy.captured_queries]


def writes(sql: list[str]) -> list[str]:
    return [
        line for line in sql if line.lstrip().upper().startswith(WRITES) or "FOR UPDATE" in line
    ]


def reading(sql: list[str], table: str) -> list[str]:
    """The reads of `table` (streamed ones are a DECLARE … CURSOR FOR SELECT)."""
    return [line for line in sql if line.startswith(("SELECT", "DECLARE")) and table in line]


def drifting(client: Client) -> Client:
    """10, 10, 10, then 9, 8, 7: signals for the sweep to raise, and a concern to open."""
    for weeks_ago, score in [(6, 10), (5, 10), (4, 10), (3, 9), (2, 8), (1, 7)]:
        session = SessionFactory(
            client=client, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
        )
        RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, score))
    return client


# --- The router -----------------------------------------------------------


def test_the_router_writes_and_migrates_on_the_primary_only() -> None:
    router = PrimaryReplicaRouter()
    assert router.db_for_write(Client) == "default"
    assert router.db_for_read(Client) == "default"  # the replica only when a read names it
    assert router.allow_migrate("default", "clients")
    assert not router.allow_migrate(REPLICA, "clients")


def test_the_setting_makes_a_replica_alias_that_mirrors_the_test_database() -> None:
    code = (
        "from django.conf import settings; d = settings.DATABASES['replica'];"
        "print(d['NAME'], d['TEST']['MIRROR'], settings.ALLIANCE_REPLICA_DATABASE)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alliance.settings",
        "DATABASE_URL": "postgres://app@primary.example:5432/alliance",
        "DATABASE_REPLICA_URL": "postgres://reader@replica.example:5432/alliance",
    }
    shown = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == ["alliance", "default", "replica"]


def test_without_the_setting_there_is_no_replica() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"}
    code = (
        "from django.conf import settings;"
        "print(sorted(settings.DATABASES), settings.ALLIANCE_REPLICA_DATABASE)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=PROJECT,
        env={**env, "DJANGO_SETTINGS_MODULE": "alliance.settings"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == "['default'] None"


# --- What reads from it ---------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_dashboard_reads_from_the_replica(
    replica: None, client: Any, supervisor: Any, client_record: Client
) -> None:
    drifting(client_record)
    sweep_run()
    client.force_login(supervisor)
    with statements() as ran:
        page = client.get(reverse("reports:dashboard"))
    assert page.status_code == 200
    assert [row.pk for row in page.context["rows"]] == [client_record.therapist_id]
    assert len(page.context["attention"]) == 1
    # The per-therapist columns (their scores copied onto the sessions), the clients
    # needing attention.
    assert reading(ran[REPLICA], '"therapy_sessions_session"')
    assert reading(ran[REPLICA], '"measures_concern"')
    assert not reading(ran["default"], '"therapy_sessions_session"')
    assert not reading(ran["default"], '"measures_concern"')
    assert not writes(ran[REPLICA])


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_exports_read_from_the_replica_and_record_the_export_on_the_primary(
    replica: None, client: Any, supervisor: Any, clinic_admin: Any, client_record: Client
) -> None:
    drifting(client_record)
    client.force_login(supervisor)
    with statements() as ran:
        ratings = client.get(reverse("reports:client-ratings-csv", args=[client_record.pk]))
        lines = b"".join(ratings.streaming_content).decode().splitlines()
        board = b"".join(client.get(reverse("reports:dashboard-csv")).streaming_content)
    assert len(lines) == 1 + 6 and board.count(b"\n") == 2
    assert reading(ran[REPLICA], '"measures_rating"')
    assert not reading(ran["default"], '"measures_rating"')
    assert [line for line in writes(ran["default"]) if '"clients_auditentry"' in line]
    assert not writes(ran[REPLICA])

    client.force_login(clinic_admin)
    with statements() as ran:
        trail = client.get(reverse("reports:audit-csv"))
        rows = b"".join(trail.streaming_content).decode().splitlines()
    assert len(rows) >= 1 + 2  # the two exports above (this one's own entry may lag behind)
    assert reading(ran[REPLICA], '"clients_auditentry"')
    assert [line for line in writes(ran["default"]) if '"clients_auditentry"' in line]
    assert not writes(ran[REPLICA])
    assert AuditEntry.objects.filter(place="audit CSV").count() == 1


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_sweep_streams_histories_from_the_replica_and_writes_on_the_primary(
    replica: None, client_record: Client
) -> None:
    drifting(client_record)
    with statements() as ran:
        sweep = sweep_run()
    assert sweep.clients_evaluated == 1
    assert set(
        Flag.objects.filter(client=client_record).values_list("session__number", "rule")
    ) >= {(5, "below_cutoff"), (6, "below_cutoff")}
    assert Concern.objects.filter(client=client_record).count() == 1
    assert reading(ran[REPLICA], '"therapy_sessions_session"')  # the histories
    assert reading(ran[REPLICA], '"measures_outcomeanswer"')  # the expected courses' answers
    assert not writes(ran[REPLICA])  # nothing written, nothing locked there
    primary_writes = writes(ran["default"])
    assert any('"measures_flag"' in line for line in primary_writes)
    assert any("FOR UPDATE" in line for line in primary_writes)  # the client's lock (grouping)


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_without_a_replica_nothing_reads_from_it(
    client: Any, supervisor: Any, client_record: Client
) -> None:
    drifting(client_record)
    client.force_login(supervisor)
    with statements() as ran:
        sweep_run()
        assert client.get(reverse("reports:dashboard")).status_code == 200
        b"".join(
            client.get(
                reverse("reports:client-ratings-csv", args=[client_record.pk])
            ).streaming_content
        )
    assert ran[REPLICA] == []
    assert reading(ran["default"], '"therapy_sessions_session"')
    assert Flag.objects.filter(client=client_record).exists()


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_sweep_reads_the_primary_inside_a_transaction(
    replica: None, client_record: Client
) -> None:
    """The replica cannot see what an open transaction wrote: inside one, detection reads
    the primary."""
    from django.db import transaction

    with transaction.atomic():
        drifting(client_record)
        with statements() as ran:
            sweep_run()
    assert not reading(ran[REPLICA], '"therapy_sessions_session"')
    assert Flag.objects.filter(client=client_record).exists()
