"""A clinic's retention period is 1 to 36,500 days (or empty), in the database too.

The app's settings page always held it there; the Django admin did not, so a clinic may
hold 0 (every discharged client anonymised at the next nightly run) or more days than a
date can count back (the nightly run failing for every clinic after it). Those are first
brought to the nearest period allowed: 1 day, or 36,500."""

import django.core.validators
from django.db import migrations, models

MAX_DAYS = 36_500  # clients.models.RETENTION_MAX_DAYS, as it was at this step


def into_range(apps, schema_editor):  # type: ignore[no-untyped-def]
    Clinic = apps.get_model("clients", "Clinic")
    Clinic.objects.filter(retention_days_after_discharge__lt=1).update(
        retention_days_after_discharge=1
    )
    Clinic.objects.filter(retention_days_after_discharge__gt=MAX_DAYS).update(
        retention_days_after_discharge=MAX_DAYS
    )


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0008_evaluated_copies"),
    ]

    operations = [
        migrations.AlterField(
            model_name="clinic",
            name="retention_days_after_discharge",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="After this many days a discharged client is anonymised; empty keeps "
                "records until someone erases them.",
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(MAX_DAYS),
                ],
                verbose_name="keep records after discharge (days)",
            ),
        ),
        migrations.RunPython(into_range, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="clinic",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("retention_days_after_discharge__isnull", True),
                    ("retention_days_after_discharge__range", (1, MAX_DAYS)),
                    _connector="OR",
                ),
                name="clinic_retention_days_in_range",
                violation_error_message="Keep records between 1 and 36,500 days after "
                "discharge, or leave it empty to keep them until someone erases them.",
            ),
        ),
    ]
