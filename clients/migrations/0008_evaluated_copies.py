"""Clients carry copies of their latest score and outcome track for the supervisor's
dashboard (Client.evaluated_score, evaluated_track), filled here from the sessions and
outcome answers already stored; detection writes them from now on."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

# Clients a statement, as measures.models.EVALUATED_A_STATEMENT.
A_STATEMENT = 500


def copy_evaluated(apps, schema_editor):  # type: ignore[no-untyped-def]
    # As measures.models.copy_evaluated_to_clients, on the models as they are at this step.
    Client = apps.get_model("clients", "Client")
    Session = apps.get_model("therapy_sessions", "Session")
    OutcomeAnswer = apps.get_model("measures", "OutcomeAnswer")
    score = Subquery(
        Session.objects.filter(
            client=OuterRef("pk"), voided_at__isnull=True, client_score__isnull=False
        )
        .order_by("-starts_at", "-number")
        .values("client_score")[:1],
        output_field=models.DecimalField(max_digits=3, decimal_places=1),
    )
    track = Subquery(
        OutcomeAnswer.objects.filter(
            session__client=OuterRef("pk"), session__voided_at__isnull=True
        )
        .order_by("-session__starts_at", "-session__number")
        .values("track")[:1],
        output_field=models.CharField(),
    )
    ids = list(Client.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), A_STATEMENT):
        Client.objects.filter(pk__in=ids[start : start + A_STATEMENT]).update(
            evaluated_score=score, evaluated_track=track
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0007_redundant_indexes"),
        ("therapy_sessions", "0005_redundant_indexes"),
        ("measures", "0016_sweep_last_finished"),
    ]

    operations = [
        migrations.AddField(
            model_name="client",
            name="evaluated_score",
            field=models.DecimalField(
                blank=True, decimal_places=1, editable=False, max_digits=3, null=True
            ),
        ),
        migrations.AddField(
            model_name="client",
            name="evaluated_track",
            field=models.CharField(blank=True, editable=False, max_length=14, null=True),
        ),
        migrations.RunPython(copy_evaluated, migrations.RunPython.noop),
    ]
