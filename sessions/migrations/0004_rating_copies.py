"""Sessions carry copies of their ratings' two numbers for the team's pages
(Session.client_score, guessed_client_score), filled here from the ratings already given."""

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Round

DIMENSIONS = ("trust", "empathy", "collaboration", "boundaries", "growth", "respect")


def copy_ratings(apps, schema_editor):  # type: ignore[no-untyped-def]
    # As measures.models.copy_ratings_to_sessions, on the models as they are at this step.
    Session = apps.get_model("therapy_sessions", "Session")
    Rating = apps.get_model("measures", "Rating")
    total = F(DIMENSIONS[0])
    for name in DIMENSIONS[1:]:
        total = total + F(name)
    score = Round(
        Cast(total, models.FloatField()) / Value(float(len(DIMENSIONS))),
        1,
        output_field=models.DecimalField(max_digits=3, decimal_places=1),
    )
    ratings = Rating.objects.filter(session=OuterRef("pk"))
    Session.objects.update(
        client_score=Subquery(
            ratings.filter(rater="client").annotate(score=score).values("score")[:1]
        ),
        guessed_client_score=Subquery(
            ratings.filter(rater="therapist").values("guessed_client_score")[:1]
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("therapy_sessions", "0003_void_and_revisions"),
        ("measures", "0013_outcome_answer_fillfactor"),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="client_score",
            field=models.DecimalField(
                blank=True, decimal_places=1, editable=False, max_digits=3, null=True
            ),
        ),
        migrations.AddField(
            model_name="session",
            name="guessed_client_score",
            field=models.PositiveSmallIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(copy_ratings, migrations.RunPython.noop),
    ]
