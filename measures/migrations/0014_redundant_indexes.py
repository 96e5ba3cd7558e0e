"""Foreign keys whose column begins another index lose their own (alliance/tests/test_indexes.py)."""

import django.db.models.deletion
from django.db import migrations, models

from alliance.migration_steps import key_index_dropped


def key(on_delete, related_name: str, to: str) -> models.ForeignKey:  # type: ignore[no-untyped-def]
    return models.ForeignKey(
        db_index=False, on_delete=on_delete, related_name=related_name, to=to
    )


CASCADE = django.db.models.deletion.CASCADE


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0007_redundant_indexes"),
        ("measures", "0013_outcome_answer_fillfactor"),
        ("therapy_sessions", "0005_redundant_indexes"),
    ]

    operations = [
        key_index_dropped(
            model_name="concern",
            name="client",
            field=key(CASCADE, "concerns", "clients.client"),
            table="measures_concern",
            index="measures_concern_client_id_da2aabd5",
        ),
        key_index_dropped(
            model_name="expectedcourse",
            name="clinic",
            field=key(CASCADE, "+", "clients.clinic"),
            table="measures_expectedcourse",
            index="measures_expectedcourse_clinic_id_c454c83f",
        ),
        key_index_dropped(
            model_name="flag",
            name="client",
            field=key(CASCADE, "flags", "clients.client"),
            table="measures_flag",
            index="measures_flag_client_id_f3846430",
        ),
        key_index_dropped(
            model_name="flag",
            name="session",
            field=key(CASCADE, "flags", "therapy_sessions.session"),
            table="measures_flag",
            index="measures_flag_session_id_f7e12fb2",
        ),
        key_index_dropped(
            model_name="rating",
            name="session",
            field=key(CASCADE, "ratings", "therapy_sessions.session"),
            table="measures_rating",
            index="measures_rating_session_id_e1f3c816",
        ),
        key_index_dropped(
            model_name="sweepchunk",
            name="sweep",
            field=key(CASCADE, "chunks", "measures.sweep"),
            table="measures_sweepchunk",
            index="measures_sweepchunk_sweep_id_6da523bc",
        ),
    ]
