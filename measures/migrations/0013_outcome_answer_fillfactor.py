"""Room in each page of outcome answers for the row judged again (PostgreSQL only).

Every answer is written once by the client's link and then judged by detection (track,
expected, lowest on track): an UPDATE of each row. With pages filled to the brim, each
such update writes a new row version elsewhere and touches all three indexes; with room
left in the page it stays in place (a HOT update, no index touched), which halved the
first sweep's update of a large clinic's 44,000 answers (0.9 → 0.46 s).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

TABLE = "measures_outcomeanswer"


def _fillfactor(percent: int) -> Any:
    def apply(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = {percent})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("measures", "0012_sweep_chunks")]

    operations = [migrations.RunPython(_fillfactor(70), _fillfactor(100))]
