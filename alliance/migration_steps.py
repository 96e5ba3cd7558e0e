"""Migration steps Django's own operations get wrong here; imported by migrations, so
what each function writes must never change once a migration uses it."""

from __future__ import annotations

from django.db import migrations, models


def key_index_dropped(
    *, model_name: str, name: str, field: models.ForeignKey, table: str, index: str
) -> migrations.SeparateDatabaseAndState:
    """A foreign key declared `db_index=False` because another index begins with its
    column: drop the key's own index, by name, and nothing else.

    AlterField would drop every index on the column that the model's Meta.indexes does
    not name — on PostgreSQL a conditional UniqueConstraint's index too (it took
    `concern_one_open_per_client` with it; alliance/tests/test_indexes.py now checks that
    every declared index and constraint is in the database)."""
    column = field.db_column or f"{name}_id"
    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=name, field=field)],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
            )
        ],
    )
