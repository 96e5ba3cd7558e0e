"""Moving the test database between migrations, for tests of a data migration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

Targets = list[tuple[str, str]]


def migrate(to: Targets) -> Any:
    """Migrate the test database to `to`; returns the historical apps there."""
    executor = MigrationExecutor(connection)
    executor.migrate(to)
    executor.loader.build_graph()
    return executor.loader.project_state(to).apps


def latest() -> Targets:
    """Every app's newest migration: where a test leaves the database."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@contextmanager
def migrated_back(to: Targets) -> Iterator[Any]:
    """The test database at `to` while inside (the historical apps there), back at the
    newest migrations after: for a fixture that builds data as it was before a migration."""
    apps = migrate(to)
    yield apps
    migrate(latest())
