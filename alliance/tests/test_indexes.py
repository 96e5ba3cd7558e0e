"""No index of ours is another's leading columns again: each one costs every insert and
every update that cannot stay in place (a sweep's signals, a client's answer), and one
whose columns begin another index serves no query the other does not.

Django gives every foreign key an index of its own; where a composite index or a unique
constraint starts with that column, the key is declared `db_index=False`."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

OUR_APPS = ("clients", "accounts", "therapy_sessions", "measures")


def redundant_indexes() -> list[str]:
    """(table: index ⊂ index) for each plain index whose columns begin another
    index's on the same table (partial indexes cover only their rows, so neither side)."""
    tables = [
        model._meta.db_table
        for label in OUR_APPS
        for model in apps.get_app_config(label).get_models()
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname, ix.indkey::int2[], ix.indisunique
            FROM pg_index ix
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_class t ON t.oid = ix.indrelid
            WHERE t.relname = ANY(%s) AND ix.indpred IS NULL AND ix.indexprs IS NULL
            """,
            [tables],
        )
        rows = cursor.fetchall()
    found = []
    for table, name, columns, unique in rows:
        for other_table, other, other_columns, _ in rows:
            if (
                other_table == table
                and other != name
                and not unique  # a unique index also enforces something
                and len(columns) < len(other_columns)
                and list(other_columns[: len(columns)]) == list(columns)
            ):
                found.append(f"{table}: {name} ⊂ {other}")
    return sorted(set(found))


def test_no_index_repeats_the_leading_columns_of_another(postgresql: None) -> None:
    assert redundant_indexes() == []


def missing_from_the_database() -> list[str]:
    """The indexes and constraints the models declare that the database lacks: what a
    migration dropped by mistake (Django's AlterField on a key took a conditional unique
    index on the same column with it)."""
    missing = []
    with connection.cursor() as cursor:
        for label in OUR_APPS:
            for model in apps.get_app_config(label).get_models():
                table = model._meta.db_table
                present = connection.introspection.get_constraints(cursor, table)
                declared = [*model._meta.indexes, *model._meta.constraints]
                missing += [f"{table}: {i.name}" for i in declared if i.name not in present]
    return missing


def test_every_declared_index_and_constraint_is_in_the_database(postgresql: None) -> None:
    assert missing_from_the_database() == []
