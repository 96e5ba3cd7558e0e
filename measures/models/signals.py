"""Signals (a rule fired at a session) and concerns (the episode a clinician reviews).

A `Flag` is a signal: unique per session and rule, with the numbers that fired
it. A `Concern` is one episode for one client, made of signals: the first
alerting signal opens it, later ones join it, and the client's therapist closes
it — resolved with a repair note or dismissed with a reason. `measures.grouping`
decides which signal goes where; `measures.concerns` writes it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.urls import reverse
from django.utils import timezone

from clients.models import ClientStatus
from clients.scoping import ScopedQuerySet, caseload_q
from measures import evidence
from measures.choices import (
    CLOSED,
    REVIEWABLE,
    ConcernAction,
    ConcernStatus,
    Recovery,
    Rule,
    Severity,
)


def severity_rank(field: str = "severity") -> models.Expression:
    """0 for high, 1 for medium, 2 for low: the stored values do not sort by severity.
    `field` names the severity where it is not the row's own (a joined concern's)."""
    return models.Case(
        models.When(**{field: Severity.HIGH}, then=Value(0)),
        models.When(**{field: Severity.MEDIUM}, then=Value(1)),
        default=Value(2),
        output_field=models.IntegerField(),
    )


class FlagQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> FlagQuerySet:
        return self.scoped(caseload_q(user, "client__"))

    def holding(self) -> FlagQuerySet:
        """The signals whose rule still fires: not withdrawn (measures.withdrawal)."""
        return self.filter(withdrawn_at__isnull=True)


class Flag(models.Model):
    """A signal: one rule fired at one session. Reviewed as part of its concern."""

    Rule = Rule
    Severity = Severity

    # Both indexed by indexes that begin with them (Meta): no index of their own, which
    # every signal written would also update (alliance/tests/test_indexes.py).
    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="flags", db_index=False
    )
    session = models.ForeignKey(
        "therapy_sessions.Session", on_delete=models.CASCADE, related_name="flags", db_index=False
    )
    rule = models.CharField(max_length=24, choices=Rule.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    evidence = models.JSONField(
        default=dict, blank=True, help_text="The numbers that fired the rule."
    )
    created_at = models.DateTimeField(default=timezone.now)
    concern = models.ForeignKey(
        "measures.Concern",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signals",
        help_text="The concern it belongs to; empty for context that no concern took up.",
    )
    grouped_at = models.DateTimeField(
        null=True, blank=True, help_text="When grouping placed it (in a concern or outside)."
    )
    # Kept, never deleted: the concern it was in still shows what it was about.
    withdrawn_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When detection found the rule no longer fires at this session, while the "
            "signal was still open to review (measures.withdrawal)."
        ),
    )

    objects = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["client", "created_at"]),
            models.Index(
                fields=["client"], condition=Q(grouped_at__isnull=True), name="flag_ungrouped_idx"
            ),
        ]
        constraints = [
            # One holding signal per session and rule. A withdrawn one is the record of what
            # its concern held: if the rule fires there again, that is a new signal.
            models.UniqueConstraint(
                fields=["session", "rule"],
                condition=Q(withdrawn_at__isnull=True),
                name="flag_one_per_session_and_rule",
                violation_error_message="This rule has already flagged this session.",
            ),
            models.CheckConstraint(condition=Q(rule__in=Rule.values), name="flag_rule_valid"),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="flag_severity_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} — {self.client}, session {self.session.number}"

    @property
    def description(self) -> str:
        """The evidence in a sentence: why the rule fired."""
        return evidence.describe(self.rule, self.evidence)

    @property
    def numbers(self) -> list[tuple[str, str]]:
        """The evidence as (name, value) pairs in words, for the page beneath the sentence."""
        return evidence.numbers(self.rule, self.evidence)


class ConcernQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> ConcernQuerySet:
        return self.scoped(caseload_q(user, "client__"))

    def needing_review(self) -> ConcernQuerySet:
        return self.filter(status__in=Concern.REVIEWABLE)

    def closed(self) -> ConcernQuerySet:
        return self.filter(status__in=Concern.CLOSED)

    def reviewed(self) -> ConcernQuerySet:
        """Closed by a review: resolved with a repair, or dismissed with a reason. Not one
        dismissed after its client was erased: that record takes no more words, so its
        concern is closed without a reason (`measures.review.concern_dismiss`) because it
        cannot be reviewed, not because the alert needed no repair."""
        return self.closed().exclude(Concern.dismissed_without_review())

    def of_clients_in_therapy(self) -> ConcernQuerySet:
        """Concerns of clients still seen: not discharged (nor erased, which needs a
        discharge first). The e-mails chase only these (`measures.notifications`)."""
        return self.filter(client__status=ClientStatus.ACTIVE)


class Concern(models.Model):
    """One episode of a weakening alliance for one client: the unit a clinician reviews."""

    Status = ConcernStatus
    Severity = Severity
    Recovery = Recovery
    REVIEWABLE = REVIEWABLE
    CLOSED = CLOSED

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="concerns", db_index=False
    )  # indexed with the status (Meta)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    opening_rule = models.CharField(
        max_length=24, choices=Rule.choices, help_text="The rule whose signal opened it."
    )
    opened_at = models.DateTimeField(default=timezone.now)
    first_session = models.ForeignKey(
        "therapy_sessions.Session",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_session = models.ForeignKey(
        "therapy_sessions.Session",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(
        blank=True, help_text="The repair note (resolved) or the reason (dismissed)."
    )
    # The stretch reviewed at closing: a later signal opens a new concern only for
    # something new (measures.grouping.is_new).
    reviewed_through = models.PositiveIntegerField(
        null=True, blank=True, help_text="The client's latest session number when it was closed."
    )
    level_at_closing = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="The client's latest alliance score when it was closed.",
    )
    # A repair is followed up over the client's next ratings (measures.follow_up); blank
    # for a concern that was never resolved with a repair.
    recovery = models.CharField(max_length=14, choices=Recovery.choices, blank=True)
    recovered_at_session = models.PositiveIntegerField(
        null=True, blank=True, help_text="The session at which the alliance was back."
    )
    # A not-on-track client's alliance concern is raised one level (measures.tracking):
    # the severity its alliance signals alone would give, when it was raised.
    raised_from = models.CharField(
        max_length=8,
        choices=Severity.choices,
        blank=True,
        help_text="The severity before it was raised because the client is not on track.",
    )
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the therapist's daily digest last listed it."
    )
    escalated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the supervisors were told it was left unacknowledged.",
    )
    reopened_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When Alliance last re-opened it, its repair not having held: escalation counts "
            "the days unacknowledged from then."
        ),
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ConcernQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["client", "status"]),
            models.Index(fields=["status", "opened_at"]),
            models.Index(fields=["closed_at"]),
        ]
        # Status lists as list(): the migrations recorded lists, and a tuple would read to
        # makemigrations as a changed constraint.
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=list(REVIEWABLE)),
                name="concern_one_open_per_client",
                violation_error_message="This client already has an open concern.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ConcernStatus.values), name="concern_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="concern_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(opening_rule__in=Rule.values), name="concern_opening_rule_valid"
            ),
            models.CheckConstraint(
                condition=Q(recovery="") | Q(recovery__in=Recovery.values),
                name="concern_recovery_valid",
            ),
            models.CheckConstraint(
                condition=Q(status=ConcernStatus.OPEN)
                | Q(status=ConcernStatus.ACKNOWLEDGED, acknowledged_at__isnull=False)
                | Q(status=ConcernStatus.WITHDRAWN, closed_at__isnull=False)
                | (Q(status__in=list(CLOSED), closed_at__isnull=False) & ~Q(note="")),
                name="concern_status_has_its_record",
                violation_error_message=(
                    "A concern's status needs its record: when it was acknowledged, "
                    "a note when it is resolved or dismissed, when it was withdrawn."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Concern for {self.client} ({self.get_status_display().lower()})"

    def get_absolute_url(self) -> str:
        return reverse("measures:concern-detail", args=[self.pk])

    @property
    def needs_review(self) -> bool:
        return self.status in self.REVIEWABLE

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED

    @property
    def is_withdrawn(self) -> bool:
        return self.status == self.Status.WITHDRAWN

    @property
    def raised_words(self) -> str:
        """Why the concern stands a level higher than its alliance signals alone would put it."""
        if not self.raised_from:
            return ""
        return (
            f"Raised one level (from {self.get_raised_from_display().lower()}): the client is "
            "not on track on their outcome, and feedback matters most for such clients."
        )

    @staticmethod
    def dismissed_without_review() -> Q:
        """Dismissed after its client was erased, without a reason (the record takes no
        more words): closed because it could not be reviewed, not judged to need no repair.
        Whatever counts reviews or dismissals leaves it out (`ConcernQuerySet.reviewed`)."""
        return Q(status=ConcernStatus.DISMISSED, client__erased_at__lte=F("closed_at"))

    @staticmethod
    def left_unacknowledged(cutoff: Any) -> Q:
        """Open, not even acknowledged, since before `cutoff` by the client's therapist:
        opened then, not re-opened by Alliance since, and the client with that therapist, in
        therapy, since then (a concern brought by a move is the receiver's from the move, one
        of a client re-opened after a discharge is chased from the re-opening; escalation
        and the dashboard's stale count agree)."""
        return (
            Q(status=ConcernStatus.OPEN, opened_at__lt=cutoff)
            & (Q(reopened_at__isnull=True) | Q(reopened_at__lt=cutoff))
            & (Q(client__therapist_since__isnull=True) | Q(client__therapist_since__lt=cutoff))
            & (Q(client__reopened_at__isnull=True) | Q(client__reopened_at__lt=cutoff))
        )

    @staticmethod
    def unclaimed(field: str) -> Q:
        """Not yet told to the client's current therapist (`notified_at`) or to their
        supervisors (`escalated_at`): never, or only before the client moved to them or was
        re-opened after a discharge. A concern closed before stays as it was told."""
        return Q(**{f"{field}__isnull": True}) | (
            Q(status__in=list(REVIEWABLE))
            & (
                Q(**{f"{field}__lt": F("client__therapist_since")})
                | Q(**{f"{field}__lt": F("client__reopened_at")})
            )
        )

    def recovery_words(self) -> str:
        """How the follow-up of its repair stands, in words (empty when none was made)."""
        if self.recovery == Recovery.RECOVERED:
            return f"Recovered by session {self.recovered_at_session}"
        if self.recovery == Recovery.WATCHING:
            return "Not yet recovered (watching the next 2 ratings)"
        if self.recovery == Recovery.NOT_RECOVERED:
            if self.needs_review:
                return "Did not recover: re-opened"
            # Said so for good: that concern may be closed by the time this is read, or be
            # one re-opened for its own repair, which took this review over.
            return "Did not recover (reviewed with another of the client's concerns)"
        if self.recovery == Recovery.NO_BASELINE:
            return "Not followed up: no ratings before the concern to compare with"
        return ""


class ConcernEventQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> ConcernEventQuerySet:
        return self.scoped(caseload_q(user, "concern__client__"))


class ConcernEvent(models.Model):
    """One step in a concern's history: who did what, when, and what they wrote."""

    # Opening is not an event: the concern's own opened_at records it.
    Action = ConcernAction

    concern = models.ForeignKey(Concern, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when Alliance itself recorded the step.",
    )
    severity = models.CharField(
        max_length=8, choices=Severity.choices, blank=True, help_text="The new severity, if raised."
    )
    note = models.TextField(blank=True)
    evidence = models.JSONField(
        default=dict, blank=True, help_text="The numbers behind a step Alliance recorded."
    )
    at = models.DateTimeField(default=timezone.now)

    objects = ConcernEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=ConcernAction.values), name="concern_event_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"

    @property
    def numbers(self) -> list[tuple[str, str]]:
        """A repair's follow-up evidence, why the severity rose, or which signals were
        withdrawn, as (name, value) pairs."""
        found = self.evidence
        if found and found.get("not_on_track"):
            return [("Raised because", "the client is not on track on their outcome")]
        if found and found.get("signals"):
            withdrawn = "; ".join(
                f"{evidence.rule_name(rule)} at session {number}"
                for number, rule in found["signals"]
            )
            return [("No longer firing", withdrawn)]
        if not found or "usual" not in found:
            return []
        ratings = ", ".join(
            f"{score:.1f} (session {number})"
            for score, number in zip(found["scores"], found["sessions"], strict=True)
        )
        return [
            ("Usual level before the concern", f"{found['usual']:.2f}"),
            ("Back means within", f"{found['margin']:.2f} of it (reliable change)"),
            ("Client's ratings after the repair", ratings or "none yet"),
        ]


class SweepQuerySet(models.QuerySet["Sweep"]):
    def last_finished(self) -> Sweep | None:
        """The latest sweep (or catch-up) that finished: when detection last read what had
        changed. It bounds the next one, and says whether detection is keeping up."""
        return self.filter(finished_at__isnull=False).order_by("-started_at").first()


class Sweep(models.Model):
    """One run of the periodic detection sweep; the last finished one bounds the next."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    clients_evaluated = models.PositiveIntegerField(default=0)
    flags_created = models.PositiveIntegerField(default=0)
    concerns_opened = models.PositiveIntegerField(default=0)
    signals_withdrawn = models.PositiveIntegerField(default=0)  # stopped holding (withdrawal)
    # The clinics whose answered clients this sweep judges again because their expected
    # course moved (or an unfinished sweep's did): kept so that, if a chunk of them is lost,
    # the next sweep judges them again (the course, already stored, no longer "moves").
    rejudged_clinics = models.JSONField(default=list, blank=True)

    objects = SweepQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        indexes = [
            # The catch-up leaves a row every 10 minutes (52,000 a year); the pages that
            # say whether detection keeps up read the latest finished one.
            models.Index(
                fields=["-started_at"],
                condition=Q(finished_at__isnull=False),
                name="sweep_last_finished",
            ),
        ]

    def __str__(self) -> str:
        return f"Sweep {self.started_at:%Y-%m-%d %H:%M}"


class SweepChunk(models.Model):
    """One share of a sweep's clients, evaluated by one task (`measures.tasks.sweep_chunk`).

    The row is the chunk's own record of being done, so no result backend is needed to
    learn when the whole sweep is: the chunk that finishes last finishes its sweep.
    """

    sweep = models.ForeignKey(
        Sweep, on_delete=models.CASCADE, related_name="chunks", db_index=False
    )  # indexed by sweep_chunk_unique, which begins with it
    number = models.PositiveIntegerField()
    client_ids = models.JSONField()
    finished_at = models.DateTimeField(null=True, blank=True)
    clients_evaluated = models.PositiveIntegerField(default=0)
    flags_created = models.PositiveIntegerField(default=0)
    concerns_opened = models.PositiveIntegerField(default=0)
    signals_withdrawn = models.PositiveIntegerField(default=0)  # stopped holding (withdrawal)

    class Meta:
        ordering = ["sweep", "number"]
        constraints = [
            models.UniqueConstraint(fields=["sweep", "number"], name="sweep_chunk_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sweep} chunk {self.number}"
