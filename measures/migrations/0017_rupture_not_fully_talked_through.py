"""The rupture rule is named for what it finds: a rupture not *fully* talked through (an
answer of "partly" raises it too, and its old name contradicted that answer beside it)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0016_sweep_last_finished"),
    ]

    operations = [
        migrations.AlterField(
            model_name="concern",
            name="opening_rule",
            field=models.CharField(
                choices=[
                    ("below_cutoff", "Below the cut-off"),
                    ("reliable_drop", "Reliable drop"),
                    ("dimension_drop", "Drop in one dimension"),
                    ("declining_trend", "Declining trend"),
                    ("rupture_unresolved", "Rupture not fully talked through"),
                    ("rater_discrepancy", "Therapist rated higher than client"),
                    ("disengagement", "Disengagement"),
                    ("not_on_track", "Not on track (outcome)"),
                ],
                help_text="The rule whose signal opened it.",
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="flag",
            name="rule",
            field=models.CharField(
                choices=[
                    ("below_cutoff", "Below the cut-off"),
                    ("reliable_drop", "Reliable drop"),
                    ("dimension_drop", "Drop in one dimension"),
                    ("declining_trend", "Declining trend"),
                    ("rupture_unresolved", "Rupture not fully talked through"),
                    ("rater_discrepancy", "Therapist rated higher than client"),
                    ("disengagement", "Disengagement"),
                    ("not_on_track", "Not on track (outcome)"),
                ],
                max_length=24,
            ),
        ),
    ]
