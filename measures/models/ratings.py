"""Ratings of the alliance: one rater's view of one session."""

from __future__ import annotations

import functools
import operator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Cast, Round
from django.utils import timezone

from clients.models import ClientLanguage
from clients.scoping import ScopedQuerySet, caseload_q, practice_q
from measures.scoring import DIMENSIONS, SCORE_MAX, SCORE_MIN, alliance_score
from sessions.models import RATING_COPIES, Session

# The languages a client's form, and so its notice, can be shown in.
NOTICE_LANGUAGES = ClientLanguage.values


def _from_ratings() -> dict[str, Subquery]:
    """The copies as the session's ratings give them now (Session.client_score)."""
    ratings = Rating.objects.filter(session=OuterRef("pk"))
    return {
        "client_score": Subquery(
            ratings.by_client().annotate(score=alliance_score_expression()).values("score")[:1],
            output_field=models.DecimalField(max_digits=3, decimal_places=1),
        ),
        "guessed_client_score": Subquery(
            ratings.by_therapist().values("guessed_client_score")[:1],
            output_field=models.PositiveSmallIntegerField(),
        ),
    }


def copy_ratings_to_sessions(sessions: QuerySet[Session]) -> int:
    """Write each session's copies of its ratings' numbers (Session.client_score) from the
    ratings: after a bulk insert, which skips Rating.save. One statement."""
    return sessions.update(**_from_ratings())


def _differs(name: str) -> Q:
    """The session's copy `name` is not what its ratings give (NULL against a number too)."""
    given = f"given_{name}"
    return (
        Q(**{f"{name}__isnull": True, f"{given}__isnull": False})
        | Q(**{f"{name}__isnull": False, f"{given}__isnull": True})
        | (Q(**{f"{name}__isnull": False}) & ~Q(**{name: F(given)}))
    )


def sessions_with_stale_copies(sessions: QuerySet[Session]) -> QuerySet[Session]:
    """Of `sessions`, those whose copies disagree with their ratings: none unless something
    wrote ratings or sessions past the models (a hand-made SQL fix, a restore of one table)."""
    given = {f"given_{name}": value for name, value in _from_ratings().items()}
    differs = functools.reduce(operator.or_, (_differs(name) for name in RATING_COPIES))
    return sessions.annotate(**given).filter(differs)


def latest_client_score(client_ref: str = "pk") -> Subquery:
    """The client's alliance score at the latest current session they rated, for a queryset
    whose `client_ref` is a client's id (NULL before any): read from the sessions' copies,
    down the index of a client's sessions by date."""
    latest = (
        Session.objects.current()
        .filter(client=OuterRef(client_ref), client_score__isnull=False)
        .order_by("-starts_at", "-number")
        .values("client_score")[:1]
    )
    return Subquery(latest, output_field=models.DecimalField(max_digits=3, decimal_places=1))


def alliance_score_expression() -> models.Expression:
    """SQL for the alliance score: the six dimensions' mean, to one decimal."""
    total = F(DIMENSIONS[0])
    for name in DIMENSIONS[1:]:
        total = total + F(name)
    mean = Cast(total, models.FloatField()) / Value(float(len(DIMENSIONS)))
    return Round(mean, 1, output_field=models.DecimalField(max_digits=3, decimal_places=1))


class RatingQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> RatingQuerySet:
        return self.scoped(caseload_q(user, "session__client__"))

    def with_guess_shown_to(self, user: Any) -> RatingQuerySet:
        """`shown_guess`: the therapist's guess of the client's score where `user` may read
        how that therapist reads their clients (`practice_q`), else None. The guess is
        feedback for the therapist and those who oversee them, not part of the record."""
        return self.annotate(
            shown_guess=Case(
                When(practice_q(user, "session__"), then=F("guessed_client_score")),
                default=Value(None),
                output_field=models.PositiveSmallIntegerField(),
            )
        )

    def with_alliance_score(self) -> RatingQuerySet:
        return self.annotate(score=alliance_score_expression())

    def by_client(self) -> RatingQuerySet:
        return self.filter(rater=Rating.Rater.CLIENT)

    def by_therapist(self) -> RatingQuerySet:
        return self.filter(rater=Rating.Rater.THERAPIST)

    def of_current_sessions(self) -> RatingQuerySet:
        """Ratings that count: those of sessions not voided (see `SessionQuerySet.current`)."""
        return self.filter(session__voided_at__isnull=True)


def _dimension_field(verbose_name: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(verbose_name, help_text="0 to 10; 10 is best.")


# Choices live at module level so the model's Meta can build its CHECK constraints from
# them (a class body's names are not visible inside its nested Meta).
class Rater(models.TextChoices):
    CLIENT = "client", "Client"
    THERAPIST = "therapist", "Therapist"


class Rupture(models.TextChoices):
    NONE = "none", "None"
    A_LITTLE = "a_little", "A little"
    A_LOT = "a_lot", "A lot"


class RuptureResolved(models.TextChoices):
    NOT_AT_ALL = "not_at_all", "Not at all"
    PARTLY = "partly", "Partly"
    FULLY = "fully", "Fully"


class Rating(models.Model):
    """One rater's view of one session: six 0–10 dimensions and the rupture items."""

    Rater = Rater
    Rupture = Rupture
    RuptureResolved = RuptureResolved

    session = models.ForeignKey(
        "therapy_sessions.Session",
        on_delete=models.CASCADE,
        related_name="ratings",
        db_index=False,  # indexed by rating_one_per_session_and_rater, which begins with it
    )
    rater = models.CharField(max_length=10, choices=Rater.choices)
    trust = _dimension_field("trust and safety")
    empathy = _dimension_field("empathy")
    collaboration = _dimension_field("goals, tasks and tailoring")
    boundaries = _dimension_field("boundaries and predictability")
    growth = _dimension_field("gentle challenge")
    respect = _dimension_field("cultural respect and humility")
    rupture = models.CharField(max_length=10, choices=Rupture.choices, default=Rupture.NONE)
    rupture_resolved = models.CharField(
        "was it talked through", max_length=10, choices=RuptureResolved.choices, blank=True
    )
    comment = models.TextField(blank=True)
    # The therapist's estimate of the client's alliance score for the same session, so each
    # therapist can learn how well they read their clients (reports' "How well I read my
    # clients"). Optional: a rating given without it is still whole.
    guessed_client_score = models.PositiveSmallIntegerField(
        "how the therapist thinks the client rated",
        null=True,
        blank=True,
        help_text="0 to 10; only on a therapist's rating.",
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ratings_given",
        help_text="The therapist, for a therapist rating; empty for a client's own rating.",
    )
    updated_at = models.DateTimeField(default=timezone.now)
    # The consent record of a client's rating: which version of the clinic's privacy
    # notice stood above the questions, in which language, and when the answers were
    # sent under it. Kept on every client rating, not only the first: the wording can
    # change between sessions, and each answer was given under the words it was shown.
    # Empty for therapist ratings, and for client ratings from before the notice.
    notice_version = models.PositiveIntegerField(null=True, blank=True)
    notice_language = models.CharField(max_length=5, blank=True, default="", db_default="")
    notice_shown_at = models.DateTimeField(null=True, blank=True)

    objects = RatingQuerySet.as_manager()

    class Meta:
        ordering = ["session_id", "rater"]
        indexes = [models.Index(fields=["updated_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "rater"],
                name="rating_one_per_session_and_rater",
                violation_error_message="This session has already been rated by this rater.",
            ),
            models.CheckConstraint(condition=Q(rater__in=Rater.values), name="rating_rater_valid"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": SCORE_MIN, f"{name}__lte": SCORE_MAX}),
                    name=f"rating_{name}_0_to_10",
                    violation_error_message=f"{name.capitalize()} must be between 0 and 10.",
                )
                for name in DIMENSIONS
            ],
            models.CheckConstraint(
                condition=Q(rupture__in=Rupture.values), name="rating_rupture_valid"
            ),
            # "Was it talked through" is only asked when there was a rupture.
            models.CheckConstraint(
                condition=(
                    Q(rupture=Rupture.NONE, rupture_resolved="")
                    | (
                        ~Q(rupture=Rupture.NONE)
                        & Q(rupture_resolved__in=["", *RuptureResolved.values])
                    )
                ),
                name="rating_rupture_resolved_only_after_rupture",
                violation_error_message=(
                    "'Was it talked through' applies only when there was a rupture."
                ),
            ),
            # Only the therapist guesses the client's score, and only on the 0–10 scale.
            models.CheckConstraint(
                condition=(
                    Q(guessed_client_score__isnull=True)
                    | Q(
                        rater=Rater.THERAPIST,
                        guessed_client_score__gte=SCORE_MIN,
                        guessed_client_score__lte=SCORE_MAX,
                    )
                ),
                name="rating_guess_0_to_10_and_only_for_therapists",
                violation_error_message=(
                    "Only a therapist's rating holds a guess of the client's score, from 0 to 10."
                ),
            ),
            # The notice is shown to clients; a therapist's rating records none. A client's
            # record is whole or absent (ratings from before the notice have none).
            models.CheckConstraint(
                condition=(
                    Q(notice_version__isnull=True, notice_shown_at__isnull=True, notice_language="")
                    | Q(
                        rater=Rater.CLIENT,
                        notice_version__gte=1,
                        notice_shown_at__isnull=False,
                        notice_language__in=NOTICE_LANGUAGES,
                    )
                ),
                name="rating_notice_record_whole_and_only_for_clients",
                violation_error_message="Only a client's rating records the notice it was shown.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_rater_display()} rating of {self.session}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Here, not in the services: every path that stores a rating (the services, a data
        # migration's models aside, the tests' factories) then keeps the session's copies.
        super().save(*args, **kwargs)
        copies = self.session_copies()
        Session.objects.filter(pk=self.session_id).update(**copies)
        if Rating.session.is_cached(self):
            for name, value in copies.items():
                setattr(self.session, name, value)

    def session_copies(self) -> dict[str, Any]:
        """What this rating writes on its session for the team's pages (Session.client_score)."""
        if self.rater == Rater.CLIENT:
            return {"client_score": self.alliance_score}
        return {"guessed_client_score": self.guessed_client_score}

    @property
    def dimension_scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in DIMENSIONS}

    @property
    def alliance_score(self) -> Decimal:
        return alliance_score(self.dimension_scores.values())
