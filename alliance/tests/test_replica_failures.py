"""A read replica that lags, is not the primary's standby, or cannot be reached
(`DATABASE_REPLICA_URL`, alliance/replica.py): detection loses nothing, files are whole,
and who may be seen is decided on the primary.

Unlike reports/tests/test_read_replica.py, whose replica is the test database itself under
another alias, the replica here is a separate database: a copy of the test database made
at one moment (`CREATE DATABASE … TEMPLATE`), read-only like a hot standby, so a read
that reaches it sees the data as it was then and a write that reaches it fails. Or it is a
server that cannot be reached at all (a replica down for maintenance, or its host gone).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connections
from django.urls import reverse
from django.utils import timezone

from alliance import replica
from alliance.replica import REPLICA, caught_up_alias, replica_alias, replica_retry_now
from clients.models import Client
from conftest import missing_service
from measures.detection import evaluate_clients
from measures.models import Flag
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_run
from measures.tests.factories import RatingFactory
from sessions.tests.factories import SessionFactory

BOTH = ["default", REPLICA]
STALE_SUFFIX = "_stale_copy"


def _admin_connection() -> psycopg.Connection:
    default = connections["default"].settings_dict
    return psycopg.connect(
        host=default["HOST"] or "127.0.0.1",
        port=int(default["PORT"] or 5432),
        user=default["USER"],
        password=default["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture
def replica_db(settings: Any, postgresql: None) -> Iterator[dict[str, Any]]:
    """Reads that may go to the replica go there (DATABASE_REPLICA_URL set); the replica
    alias is re-pointed by the helpers below and put back afterwards."""
    settings.ALLIANCE_REPLICA_DATABASE = REPLICA
    settings.DATABASE_REPLICA_WAIT_SECONDS = 1
    original = connections[REPLICA].settings_dict
    replica_retry_now()
    yield original
    replica_retry_now()  # this process's memory of an unreachable replica
    connections[REPLICA].close()
    connections[REPLICA].settings_dict = original
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{_stale_name()}" WITH (FORCE)')


def _stale_name() -> str:
    """Beside the test database, named after it (each of the suite's processes has its own)."""
    return connections["default"].settings_dict["NAME"] + STALE_SUFFIX


def replica_copied_now() -> None:
    """The replica becomes a read-only copy of the primary as it is at this moment."""
    default = connections["default"].settings_dict
    stale = _stale_name()
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{stale}"')
    # Dumped and restored, not made from it as a template: that needs the test database to
    # have no other session, and the suite's servers and workers may hold one.
    where = ["-h", default["HOST"] or "127.0.0.1", "-p", str(default["PORT"] or 5432)]
    where += ["-U", default["USER"]]
    dump = subprocess.run(
        [_tool("pg_dump"), *where, "--no-owner", default["NAME"]],
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(
        [_tool("psql"), *where, "-q", "-v", "ON_ERROR_STOP=1", "-d", stale],
        input=dump.stdout,
        check=True,
        capture_output=True,
        timeout=60,
    )
    with _admin_connection() as admin:
        admin.execute(f'ALTER DATABASE "{stale}" SET default_transaction_read_only = on')
    connections[REPLICA].close()
    connections[REPLICA].settings_dict = {**default, "NAME": stale}


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing_service(f"needs PostgreSQL's {name}")
    return found


def replica_unreachable() -> None:
    """The replica's host refuses connections (the replica is down)."""
    default = connections["default"].settings_dict
    connections[REPLICA].close()
    connections[REPLICA].settings_dict = {
        **default,
        "HOST": "127.0.0.1",
        "PORT": "1",
        "OPTIONS": {**default.get("OPTIONS", {}), "connect_timeout": 2},
    }


def rated(client: Client, scores: list[tuple[int, int]]) -> None:
    for weeks_ago, score in scores:
        session = SessionFactory(
            client=client, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
        )
        RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, score))


STEADY = [(9, 10), (8, 10), (7, 10)]
DRIFT = [(3, 9), (2, 8), (1, 7)]


# --- A replica that is not a standby is not taken as caught up -------------


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_sweep_does_not_lose_a_change_the_replica_has_not_got(
    replica_db: Any, client_record: Client
) -> None:
    """The replica holds the database as it was before the client's alliance dropped, and
    is not in recovery (a standby promoted by a failover, a copy fed by logical
    replication): no replay position says how far behind it is, so detection reads the
    primary. Only the primary itself, as its own replica, is taken as caught up."""
    rated(client_record, STEADY)
    sweep_run()  # bounds the next sweep: only what changed since
    replica_copied_now()
    rated(client_record, DRIFT)  # committed on the primary only

    sweep_run()
    sweep_run()  # and the next one: the change is not picked up later either

    raised = set(Flag.objects.filter(client=client_record).values_list("rule", flat=True))
    assert "below_cutoff" in raised, (
        f"the drop to 7 raised nothing (signals: {sorted(raised)}): the sweep read a "
        "replica that had not replayed it, and moved on past it"
    )


# --- A replica that cannot be reached: detection reads the primary ----------


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_sweep_reads_the_primary_when_the_replica_is_down(
    replica_db: Any, client_record: Client
) -> None:
    """A replica that cannot answer has certainly not caught up: as for one that lags, the
    sweep should read the primary, not stop detecting concerns while it is away."""
    rated(client_record, STEADY + DRIFT)
    replica_unreachable()
    try:
        sweep_run()
    except OperationalError as error:
        pytest.fail(f"the sweep failed with the replica down: {str(error).splitlines()[0]}")
    assert Flag.objects.filter(client=client_record, rule="below_cutoff").exists()


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_new_rating_is_evaluated_when_the_replica_is_down(
    replica_db: Any, client_record: Client
) -> None:
    """The evaluation after a rating (`measures.tasks.evaluate_client`) likewise."""
    rated(client_record, STEADY + DRIFT)
    replica_unreachable()
    try:
        evaluate_clients([client_record.pk])
    except OperationalError as error:
        pytest.fail(f"evaluation failed with the replica down: {str(error).splitlines()[0]}")
    assert Flag.objects.filter(client=client_record, rule="below_cutoff").exists()


# --- A replica that cannot be reached: pages and files read the primary ----


def whole_file(response: Any) -> bytes:
    """The file a streamed answer sends, failing the test if it breaks off after its 200
    (and its header line) have gone."""
    assert response.status_code == 200
    received: list[bytes] = []
    try:
        for part in response.streaming_content:
            received.append(part)
    except OperationalError as error:
        pytest.fail(
            f"200 sent, then the file broke off after {b''.join(received)!r}: "
            f"{str(error).splitlines()[0]}"
        )
    return b"".join(received)


@pytest.mark.django_db(transaction=True, databases=BOTH)
@pytest.mark.parametrize(
    ("name", "lines"), [("reports:client-ratings-csv", 1 + 3), ("reports:client-outcomes-csv", 1)]
)
def test_an_export_with_the_replica_down_is_whole_from_the_primary(
    replica_db: Any, client: Any, therapist: Any, client_record: Client, name: str, lines: int
) -> None:
    """The export's rows are read as the file is sent, after the 200 and the header line
    have gone: a replica first reached then would cut the file off after its header (a
    client with "no ratings"), with an export recorded in the audit trail. The replica is
    tried before the file begins, and the file is whole, from the primary."""
    rated(client_record, STEADY)
    replica_unreachable()
    client.force_login(therapist)
    client.raise_request_exception = False
    sent = whole_file(client.get(reverse(name, args=[client_record.pk])))
    assert len(sent.splitlines()) == lines


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_audit_csv_with_the_replica_down_is_whole_from_the_primary(
    replica_db: Any, client: Any, clinic_admin: Any, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    client.get(reverse("reports:client-detail", args=[client_record.pk]))  # an entry to list
    replica_unreachable()
    client.raise_request_exception = False
    sent = whole_file(client.get(reverse("reports:audit-csv")))
    assert len(sent.splitlines()) >= 2


# --- Who may see what is decided on the primary ----------------------------


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_an_ended_supervision_stops_the_dashboard_showing_that_caseload(
    replica_db: Any, client: Any, supervisor: Any, clinic_admin: Any, client_record: Client
) -> None:
    """A clinic admin ends a supervision (a conflict of interest) while the replica lags:
    the dashboard stops showing that therapist's numbers and, by label, the clients needing
    attention at once, as every other page does. The team is read on the primary
    (`dashboard.overseen_team`), only the counts beside it on the replica."""
    from accounts.staff import supervision_remove
    from clients.models import Supervision

    rated(client_record, STEADY + DRIFT)
    sweep_run()
    replica_copied_now()
    supervision_remove(actor=clinic_admin, supervision=Supervision.objects.get())

    client.force_login(supervisor)
    page = client.get(reverse("reports:dashboard"))
    assert page.status_code == 200
    therapist_id = client_record.therapist_id
    caseload = client.get(reverse("reports:therapist-caseload", args=[therapist_id]))
    assert caseload.status_code == 404  # the primary: no longer theirs
    shown = [row.pk for row in page.context["rows"]]
    attention = [concern.client.label for concern in page.context["attention"]]
    assert (shown, attention) == ([], []), (
        "after the supervision ended the dashboard still shows therapist "
        f"{shown} and clients {attention} needing attention"
    )


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_an_unreachable_replica_is_tried_again_only_after_a_while(
    replica_db: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host gone from the network costs a connection attempt (up to the connect timeout)
    once every RETRY_SECONDS in a process, not on every page; then it is tried again."""
    replica_unreachable()
    caplog.set_level("WARNING", logger="alliance.replica")
    assert replica_alias() == "default"
    assert "cannot be reached" in caplog.text
    attempts = []
    monkeypatch.setattr(
        type(connections[REPLICA]),
        "ensure_connection",
        lambda connection: attempts.append(connection.alias),
    )
    assert [replica_alias() for _ in range(3)] == ["default"] * 3
    assert attempts == []
    now = replica.time.monotonic()
    monkeypatch.setattr(replica.time, "monotonic", lambda: now + replica.RETRY_SECONDS + 1)
    assert replica_alias() == REPLICA  # back: connects (here, pretends to)
    assert attempts == [REPLICA]


def replica_a_standby_replayed_to(position: str) -> None:
    """The replica becomes a copy that says it is a standby which has replayed the WAL up to
    `position`: PostgreSQL's two functions shadowed in a schema searched before pg_catalog."""
    replica_copied_now()
    stale = _stale_name()
    connections[REPLICA].close()
    with _admin_connection() as admin:
        admin.execute(f'ALTER DATABASE "{stale}" SET default_transaction_read_only = off')
    with psycopg.connect(
        **{
            "host": connections["default"].settings_dict["HOST"] or "127.0.0.1",
            "port": int(connections["default"].settings_dict["PORT"] or 5432),
            "user": connections["default"].settings_dict["USER"],
            "dbname": stale,
            "autocommit": True,
        }
    ) as copy:
        copy.execute("CREATE SCHEMA standby")
        copy.execute(
            "CREATE FUNCTION standby.pg_is_in_recovery() RETURNS boolean "
            "LANGUAGE sql AS 'SELECT true'"
        )
        copy.execute(
            "CREATE FUNCTION standby.pg_last_wal_replay_lsn() RETURNS pg_lsn "
            f"LANGUAGE sql AS $$SELECT '{position}'::pg_lsn$$"
        )
    with _admin_connection() as admin:
        admin.execute(f'ALTER DATABASE "{stale}" SET search_path = standby, pg_catalog, public')
        admin.execute(f'ALTER DATABASE "{stale}" SET default_transaction_read_only = on')


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_standby_that_has_replayed_the_primary_is_read(replica_db: Any) -> None:
    from alliance.replica import caught_up_alias

    replica_a_standby_replayed_to("FFFFFFFF/FFFFFFFF")
    assert caught_up_alias() == REPLICA


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_standby_still_behind_after_the_wait_is_not_read(
    replica_db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """It is asked again and again for DATABASE_REPLICA_WAIT_SECONDS (1 here), then the
    primary is read, and that is logged."""
    from alliance.replica import caught_up_alias

    replica_a_standby_replayed_to("0/0")
    caplog.set_level("WARNING", logger="alliance.replica")
    started = replica.time.monotonic()
    assert caught_up_alias() == "default"
    assert replica.time.monotonic() - started >= 1
    assert "behind the primary" in caplog.text


# --- A replica gone while this process holds a connection to it ---------------------------


def _replica_goes_down_under_an_open_connection() -> None:
    """A page earlier in this process read the replica (the connection is kept,
    CONN_MAX_AGE); then the replica goes down: its server ends that connection and takes
    no new one. Then a new request starts (`close_old_connections`, as request_started)."""
    assert replica_alias() == REPLICA
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT 1")
    stale = _stale_name()
    with _admin_connection() as admin:
        admin.execute(f'ALTER DATABASE "{stale}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [stale],
        )
    close_old_connections()


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_the_dashboard_reads_the_primary_when_the_replica_went_down_under_its_connection(
    replica_db: Any,
    client: Any,
    supervisor: Any,
    client_record: Client,
) -> None:
    """A connection kept open to the replica (CONN_MAX_AGE), then the replica goes down:
    the page reads the primary, from its first request on; the open connection is checked
    before the replica is chosen, not at its first read."""
    rated(client_record, STEADY)
    replica_copied_now()
    _replica_goes_down_under_an_open_connection()
    client.force_login(supervisor)
    client.raise_request_exception = False
    statuses = [client.get(reverse("reports:dashboard")).status_code]
    close_old_connections()
    statuses.append(client.get(reverse("reports:dashboard")).status_code)
    assert statuses == [200, 200], f"dashboard answered {statuses} with the replica down"


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_an_export_is_whole_or_not_begun_when_the_replica_went_down_under_its_connection(
    replica_db: Any,
    client: Any,
    therapist: Any,
    client_record: Client,
) -> None:
    """The connection is checked before the file's first line is sent: the file is whole
    (from the primary) or not begun, never a 200 cut off after its header."""
    rated(client_record, STEADY)
    replica_copied_now()
    _replica_goes_down_under_an_open_connection()
    client.force_login(therapist)
    client.raise_request_exception = False
    sent = whole_file(client.get(reverse("reports:client-ratings-csv", args=[client_record.pk])))
    assert len(sent.splitlines()) == 1 + 3


# --- A standby of another primary --------------------------------------------------------


def _replica_a_standby_of_another_cluster() -> None:
    """A standby (in recovery, replayed far) whose system identifier — which a standby
    shares with its own primary — is not the primary's: a standby of another cluster."""
    replica_a_standby_replayed_to("FFFFFFFF/FFFFFFFF")
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT system_identifier FROM pg_control_system()")
        (ours,) = cursor.fetchone()
    default = connections["default"].settings_dict
    with psycopg.connect(
        host=default["HOST"] or "127.0.0.1",
        port=int(default["PORT"] or 5432),
        user=default["USER"],
        dbname=_stale_name(),
        autocommit=True,
    ) as copy:
        copy.execute("SET default_transaction_read_only = off")
        copy.execute(
            "CREATE FUNCTION standby.pg_control_system(OUT pg_control_version integer, "
            "OUT catalog_version_no integer, OUT system_identifier bigint, "
            "OUT pg_control_last_modified timestamptz) LANGUAGE sql AS "
            f"$$SELECT c.pg_control_version, c.catalog_version_no, {ours + 1}::bigint, "
            "c.pg_control_last_modified FROM pg_catalog.pg_control_system() c$$"
        )
    connections[REPLICA].close()


@pytest.mark.django_db(transaction=True, databases=BOTH)
def test_a_standby_of_another_primary_is_not_taken_as_caught_up(
    replica_db: Any,
) -> None:
    """Replay positions of two clusters are unrelated numbers: a standby of another cluster
    further along its own WAL is not trusted (a standby shares its primary's system
    identifier), or the sweep would read another database's "what changed" and move past
    this one's changes."""
    _replica_a_standby_of_another_cluster()
    assert caught_up_alias() == "default"
