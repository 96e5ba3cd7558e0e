"""Calibrations are worked out by a worker: running, done or failed, with their progress,
last sign of life and attempts. Every calibration made before was worked out in its
request, so it is done, and finished (and last heard of) when it was made."""

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def finished_when_made(apps, schema_editor):
    Calibration = apps.get_model("measures", "Calibration")
    Calibration.objects.filter(finished_at__isnull=True).update(
        finished_at=models.F("created_at"), updated_at=models.F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0007_redundant_indexes"),
        ("measures", "0014_redundant_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="calibration",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="calibration",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="calibration",
            name="progress",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="calibration",
            name="status",
            field=models.CharField(
                choices=[("running", "Running"), ("done", "Done"), ("failed", "Failed")],
                default="done",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="calibration",
            name="updated_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(finished_when_made, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="calibration",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "running")),
                fields=("clinic",),
                name="calibration_one_running_per_clinic",
            ),
        ),
        migrations.AddConstraint(
            model_name="calibration",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["running", "done", "failed"])),
                name="calibration_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="calibration",
            constraint=models.CheckConstraint(
                condition=models.Q(("progress__lte", 100)), name="calibration_progress_at_most_100"
            ),
        ),
    ]
