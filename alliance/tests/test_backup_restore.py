"""Backups, as the README's "Backups" section gives them, really restore.

PostgreSQL: a small clinic is dumped with `pg_dump --format=custom`, restored with
`pg_restore --clean --if-exists --no-owner` into a fresh database, and read back there:
its rows, Django's record of the migrations applied (so `migrate` has nothing to do), and
the audit trail's trigger, which must still refuse a change. SQLite: the online copy
through SQLite's backup API, taken while another connection is half-way through a write.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from clients import audit
from clients.models import AuditAction, AuditEntry, Client, User
from conftest import missing_service
from measures.models import Rating
from measures.tests.factories import RatingFactory
from sessions.models import Session
from sessions.tests.factories import SessionFactory

# The README's online copy of the embedded database, run as it is written there.
SQLITE_BACKUP = (
    "import sqlite3; source, backup = sqlite3.connect('db.sqlite3'), "
    "sqlite3.connect('backup.sqlite3'); source.backup(backup); backup.close()"
)


# --- PostgreSQL ---------------------------------------------------------------------------


def postgres_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing_service(f"needs {name} (it comes with PostgreSQL's client package)")
    return found  # type: ignore[return-value]


def connection_options() -> tuple[dict[str, str], list[str], dict[str, str]]:
    """The test database's connection: psycopg's keywords, the tools' flags, their env."""
    settings = connection.settings_dict
    keywords = {
        "host": settings["HOST"],
        "port": str(settings["PORT"] or ""),
        "user": settings["USER"],
        "password": settings["PASSWORD"],
    }
    keywords = {key: value for key, value in keywords.items() if value}
    flags = [f"--{key}={keywords[key]}" for key in ("host", "port") if key in keywords]
    if "user" in keywords:
        flags.append(f"--username={keywords['user']}")
    env = os.environ | ({"PGPASSWORD": keywords["password"]} if "password" in keywords else {})
    return keywords, flags, env


def run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command[0]} failed: {done.stderr}"


@pytest.fixture
def restore_database() -> Iterator[str]:
    """A fresh, empty database beside the test database, dropped afterwards whatever happens."""
    keywords, _, _ = connection_options()
    name = f"{connection.settings_dict['NAME']}_restore"
    with psycopg.connect(dbname="postgres", autocommit=True, **keywords) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **keywords) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rows(database: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    keywords, _, _ = connection_options()
    with psycopg.connect(dbname=database, **keywords) as restored:
        return restored.execute(sql, params).fetchall()


@pytest.mark.django_db(transaction=True)
def test_a_pg_dump_restores_into_a_fresh_database_with_its_audit_trail_guarded(
    postgresql: None,
    therapist: User,
    client_record: Client,
    restore_database: str,
    tmp_path: Path,
) -> None:
    session = SessionFactory(client=client_record, notes="Talked about her sister")
    rating = RatingFactory(session=session, trust=7)
    entry = audit.written(therapist, AuditAction.CHANGED, client_record, fields=["label"])
    pg_dump, pg_restore = postgres_tool("pg_dump"), postgres_tool("pg_restore")
    _, flags, env = connection_options()
    dump = tmp_path / "alliance.dump"

    run(
        [pg_dump, "--format=custom", f"--file={dump}", *flags, connection.settings_dict["NAME"]],
        env,
    )
    run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            *flags,
            f"--dbname={restore_database}",
            str(dump),
        ],
        env,
    )

    table = {model: model._meta.db_table for model in (Client, Session, Rating, AuditEntry)}
    assert rows(
        restore_database, f"SELECT label FROM {table[Client]} WHERE id = %s", client_record.pk
    ) == [("R.K.",)]
    assert rows(
        restore_database, f"SELECT notes FROM {table[Session]} WHERE id = %s", session.pk
    ) == [("Talked about her sister",)]
    assert rows(
        restore_database, f"SELECT trust FROM {table[Rating]} WHERE id = %s", rating.pk
    ) == [(7,)]
    assert rows(
        restore_database, f"SELECT action, fields FROM {table[AuditEntry]} WHERE id = %s", entry.pk
    ) == [("changed", ["label"])]
    # Django's record of the migrations came back whole: `migrate` has nothing to apply.
    migrations = "SELECT app, name FROM django_migrations ORDER BY app, name"
    with connection.cursor() as cursor:
        cursor.execute(migrations)
        assert rows(restore_database, migrations) == cursor.fetchall()
    # The trigger is part of the schema, so the restored trail is append-only as before.
    keywords, _, _ = connection_options()
    with psycopg.connect(dbname=restore_database, **keywords) as restored:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            restored.execute(
                f"UPDATE {table[AuditEntry]} SET place = 'edited' WHERE id = %s", [entry.pk]
            )
        restored.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            restored.execute(f"DELETE FROM {table[AuditEntry]} WHERE id = %s", [entry.pk])


# --- SQLite -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["python", "sqlite3"])
def test_the_sqlite_backup_command_copies_a_live_database_consistently(
    command: str, tmp_path: Path
) -> None:
    if command == "python":
        backup_command = [sys.executable, "-c", SQLITE_BACKUP]
    elif shutil.which("sqlite3"):
        backup_command = ["sqlite3", "db.sqlite3", ".backup 'backup.sqlite3'"]
    else:
        pytest.skip("the sqlite3 command-line tool is not installed (apt-get install sqlite3)")
    database = sqlite3.connect(tmp_path / "db.sqlite3")
    database.execute("CREATE TABLE session (id INTEGER PRIMARY KEY, notes TEXT)")
    database.execute("INSERT INTO session (notes) VALUES ('kept')")
    database.commit()
    # The server is running: a write is half-way through when the copy is taken.
    database.execute("INSERT INTO session (notes) VALUES ('not yet committed')")

    done = subprocess.run(backup_command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    database.rollback()
    database.close()

    backup = sqlite3.connect(tmp_path / "backup.sqlite3")
    try:
        assert backup.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert backup.execute("SELECT notes FROM session").fetchall() == [("kept",)]
    finally:
        backup.close()


def test_the_readme_gives_the_backup_commands_these_tests_run() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert SQLITE_BACKUP in readme
    assert """sqlite3 db.sqlite3 ".backup 'backup.sqlite3'\"""" in readme
    assert "pg_dump --format=custom" in readme
    assert "pg_restore --clean --if-exists --no-owner" in readme
