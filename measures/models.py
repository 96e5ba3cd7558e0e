"""Ratings of the alliance, and the flags raised when it weakens."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Cast, Round
from django.utils import timezone

from clients.scoping import caseload_q
from measures.scoring import DIMENSIONS, SCORE_MAX, SCORE_MIN, alliance_score


def alliance_score_expression() -> models.Expression:
    """SQL for the alliance score: the six dimensions' mean, to one decimal."""
    total = F(DIMENSIONS[0])
    for name in DIMENSIONS[1:]:
        total = total + F(name)
    mean = Cast(total, models.FloatField()) / Value(float(len(DIMENSIONS)))
    return Round(mean, 1, output_field=models.DecimalField(max_digits=3, decimal_places=1))


class RatingQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> RatingQuerySet:
        return self.filter(caseload_q(user, "session__client__"))

    def with_alliance_score(self) -> RatingQuerySet:
        return self.annotate(score=alliance_score_expression())

    def by_client(self) -> RatingQuerySet:
        return self.filter(rater=Rating.Rater.CLIENT)

    def by_therapist(self) -> RatingQuerySet:
        return self.filter(rater=Rating.Rater.THERAPIST)


def _dimension_field(verbose_name: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(verbose_name, help_text="0 to 10; 10 is best.")


class Rating(models.Model):
    """One rater's view of one session: six 0–10 dimensions and the rupture items."""

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

    session = models.ForeignKey(
        "therapy_sessions.Session", on_delete=models.CASCADE, related_name="ratings"
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
            models.CheckConstraint(
                condition=Q(rater__in=["client", "therapist"]), name="rating_rater_valid"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": SCORE_MIN, f"{name}__lte": SCORE_MAX}),
                    name=f"rating_{name}_0_to_10",
                    violation_error_message=f"{name.capitalize()} must be between 0 and 10.",
                )
                for name in DIMENSIONS
            ],
            models.CheckConstraint(
                condition=Q(rupture__in=["none", "a_little", "a_lot"]), name="rating_rupture_valid"
            ),
            # "Was it talked through" is only asked when there was a rupture.
            models.CheckConstraint(
                condition=(
                    Q(rupture="none", rupture_resolved="")
                    | (
                        ~Q(rupture="none")
                        & Q(rupture_resolved__in=["", "not_at_all", "partly", "fully"])
                    )
                ),
                name="rating_rupture_resolved_only_after_rupture",
                violation_error_message=(
                    "'Was it talked through' applies only when there was a rupture."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_rater_display()} rating of {self.session}"

    @property
    def dimension_scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in DIMENSIONS}

    @property
    def alliance_score(self) -> Decimal:
        return alliance_score(self.dimension_scores.values())


def severity_rank() -> models.Expression:
    """0 for high, 1 for medium, 2 for low: the stored values do not sort by severity."""
    return models.Case(
        models.When(severity="high", then=Value(0)),
        models.When(severity="medium", then=Value(1)),
        default=Value(2),
        output_field=models.IntegerField(),
    )


class FlagQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> FlagQuerySet:
        return self.filter(caseload_q(user, "client__"))

    def needing_review(self) -> FlagQuerySet:
        return self.filter(status__in=[Flag.Status.OPEN, Flag.Status.ACKNOWLEDGED])


class Flag(models.Model):
    """A warning that one client's alliance may be weakening, for the therapist to review."""

    class Rule(models.TextChoices):
        BELOW_CUTOFF = "below_cutoff", "Below the cut-off"
        RELIABLE_DROP = "reliable_drop", "Reliable drop"
        DIMENSION_DROP = "dimension_drop", "Drop in one dimension"
        DECLINING_TREND = "declining_trend", "Declining trend"
        RUPTURE_UNRESOLVED = "rupture_unresolved", "Rupture not talked through"
        RATER_DISCREPANCY = "rater_discrepancy", "Therapist rated higher than client"
        DISENGAGEMENT = "disengagement", "Disengagement"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="flags")
    session = models.ForeignKey(
        "therapy_sessions.Session", on_delete=models.CASCADE, related_name="flags"
    )
    rule = models.CharField(max_length=24, choices=Rule.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    evidence = models.JSONField(
        default=dict, blank=True, help_text="The numbers that fired the rule."
    )
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(
        blank=True, help_text="The repair note (resolved) or the reason (dismissed)."
    )
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the therapist's daily digest included it."
    )
    escalated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the supervisor was told it was left unacknowledged."
    )

    objects = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["client", "status"]),
            models.Index(fields=["status", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "rule"],
                name="flag_one_per_session_and_rule",
                violation_error_message="This rule has already flagged this session.",
            ),
            models.CheckConstraint(
                condition=Q(
                    rule__in=[
                        "below_cutoff",
                        "reliable_drop",
                        "dimension_drop",
                        "declining_trend",
                        "rupture_unresolved",
                        "rater_discrepancy",
                        "disengagement",
                    ]
                ),
                name="flag_rule_valid",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=["low", "medium", "high"]), name="flag_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open")
                | Q(status="acknowledged", acknowledged_at__isnull=False)
                | (Q(status="resolved", resolved_at__isnull=False) & ~Q(note=""))
                | (Q(status="dismissed", dismissed_at__isnull=False) & ~Q(note="")),
                name="flag_status_has_its_record",
                violation_error_message=(
                    "A flag's status needs its record: when it was acknowledged, "
                    "or a note when it is resolved or dismissed."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} — {self.client}, session {self.session.number}"

    @property
    def needs_review(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.ACKNOWLEDGED)

    @property
    def description(self) -> str:
        """The evidence in words: why the rule fired."""
        from measures.evidence import describe

        return describe(self.rule, self.evidence)


class FlagEventQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> FlagEventQuerySet:
        return self.filter(caseload_q(user, "flag__client__"))


class FlagEvent(models.Model):
    """One step in a flag's history: who did what, when, and what they wrote."""

    # Raising is not an event: the flag's own created_at records it.
    class Action(models.TextChoices):
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"
        COMMENTED = "commented", "Commented"

    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=14, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when the system raised the flag.",
    )
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    objects = FlagEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"


class Sweep(models.Model):
    """One run of the periodic detection sweep; the last finished one bounds the next."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    clients_evaluated = models.PositiveIntegerField(default=0)
    flags_created = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"Sweep {self.started_at:%Y-%m-%d %H:%M}"
