"""Foreign keys whose column begins another index lose their own (alliance/tests/test_indexes.py)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from alliance.migration_steps import key_index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0007_redundant_indexes"),
        ("therapy_sessions", "0004_rating_copies"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        key_index_dropped(
            model_name="session",
            name="client",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sessions",
                to="clients.client",
            ),
            table="therapy_sessions_session",
            index="therapy_sessions_session_client_id_3ccdde51",
        ),
        key_index_dropped(
            model_name="session",
            name="therapist",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sessions_logged",
                to=settings.AUTH_USER_MODEL,
            ),
            table="therapy_sessions_session",
            index="therapy_sessions_session_therapist_id_d0f941b0",
        ),
        key_index_dropped(
            model_name="sessionrevision",
            name="session",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="revisions",
                to="therapy_sessions.session",
            ),
            table="therapy_sessions_sessionrevision",
            index="therapy_sessions_sessionrevision_session_id_d3839f9c",
        ),
    ]
