"""Foreign keys whose column begins another index lose their own (alliance/tests/test_indexes.py)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from alliance.migration_steps import key_index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0006_client_outcome_switches"),
    ]

    operations = [
        key_index_dropped(
            model_name="auditentry",
            name="clinic",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="clients.clinic",
            ),
            table="clients_auditentry",
            index="clients_auditentry_clinic_id_9d283ec9",
        ),
        key_index_dropped(
            model_name="client",
            name="therapist",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="caseload",
                to=settings.AUTH_USER_MODEL,
            ),
            table="clients_client",
            index="clients_client_therapist_id_860d4e0a",
        ),
        key_index_dropped(
            model_name="supervision",
            name="supervisor",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="supervisions",
                to=settings.AUTH_USER_MODEL,
            ),
            table="clients_supervision",
            index="clients_supervision_supervisor_id_00235998",
        ),
    ]
