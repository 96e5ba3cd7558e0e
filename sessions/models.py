"""Therapy sessions and the invitations that let a client rate one.

A session knows nothing of how it is rated — ratings live in `measures` — but for two
numbers `measures` copies onto it for the team's pages (see `RATING_COPIES`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from alliance import links
from alliance.copies import fields_an_edit_writes
from clients.scoping import ScopedQuerySet, caseload_q, caseload_write_q


class SessionQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> SessionQuerySet:
        return self.scoped(caseload_q(user, "client__"))

    def editable_by(self, user: Any) -> SessionQuerySet:
        """Sessions `user` may change: ones they logged, for a client they may manage."""
        return self.scoped(
            caseload_write_q(user, "client__") & Q(therapist_id=getattr(user, "pk", None))
        )

    def current(self) -> SessionQuerySet:
        """Sessions that count: not voided. A voided session stays, with its ratings and
        signals, for the history; it leaves the pages' numbers, the charts and detection."""
        return self.filter(voided_at__isnull=True)

    def voided(self) -> SessionQuerySet:
        return self.filter(voided_at__isnull=False)

    def attended(self) -> SessionQuerySet:
        return self.filter(attendance=Session.Attendance.ATTENDED)

    def in_history_order(self) -> SessionQuerySet:
        return self.order_by("starts_at", "number")


# Choices live at module level so the model's Meta can build its CHECK constraints from
# them (a class body's names are not visible inside its nested Meta).
class Attendance(models.TextChoices):
    ATTENDED = "attended", "Attended"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


class Modality(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    VIDEO = "video", "Video"
    PHONE = "phone", "Phone"


# A session lasts this long at most (the database's `session_duration_sensible`); the form
# and the check for a session logged twice read it here.
MAX_DURATION_MINUTES = 600

# The fields of a session that only its ratings write (see Session.client_score).
RATING_COPIES = ("client_score", "guessed_client_score")


class Session(models.Model):
    Attendance = Attendance
    Modality = Modality

    # Both indexed with the date (Meta): no index of their own, which every change of a
    # session would also update (alliance/tests/test_indexes.py).
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="sessions", db_index=False
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sessions_logged",
        db_index=False,
    )
    number = models.PositiveIntegerField(
        help_text="The session's ordinal among the client's sessions, assigned when logged."
    )
    starts_at = models.DateTimeField("date and time")
    duration_minutes = models.PositiveSmallIntegerField("duration (minutes)", default=50)
    attendance = models.CharField(
        max_length=10, choices=Attendance.choices, default=Attendance.ATTENDED
    )
    modality = models.CharField(max_length=10, choices=Modality.choices, default=Modality.IN_PERSON)
    notes = models.TextField("private notes", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Nothing clinical is deleted: a session logged in error is voided with a reason.
    voided_at = models.DateTimeField(null=True, blank=True, editable=False)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    # A database default too, so rows written by code that predates voiding still insert.
    void_reason = models.TextField(
        "reason for voiding", blank=True, default="", db_default="", editable=False
    )

    # Copies of the numbers the team's pages add up over thousands of sessions, written by
    # `measures` whenever a rating is saved (Rating.save): the client's alliance score (a
    # client's rating never changes) and the therapist's guess of it (changeable while
    # their rating is). The dashboard reads them here, beside the date, therapist and
    # attendance it filters on, instead of two look-ups in the ratings per session.
    client_score = models.DecimalField(
        max_digits=3, decimal_places=1, null=True, blank=True, editable=False
    )
    guessed_client_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["client_id", "starts_at", "number"]
        indexes = [
            models.Index(fields=["client", "starts_at"]),
            models.Index(fields=["therapist", "starts_at"]),
            models.Index(fields=["updated_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "number"],
                name="session_number_unique_per_client",
                violation_error_message="This client already has a session with this number.",
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1),
                name="session_number_positive",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=1)
                & Q(duration_minutes__lte=MAX_DURATION_MINUTES),
                name="session_duration_sensible",
                violation_error_message="A session lasts between 1 and 600 minutes.",
            ),
            models.CheckConstraint(
                condition=Q(attendance__in=Attendance.values),
                name="session_attendance_valid",
            ),
            models.CheckConstraint(
                condition=Q(modality__in=Modality.values),
                name="session_modality_valid",
            ),
            # Voided means when, by whom and why; a current session has none of the three.
            models.CheckConstraint(
                condition=(
                    Q(voided_at__isnull=True, voided_by__isnull=True, void_reason="")
                    | (Q(voided_at__isnull=False, voided_by__isnull=False) & ~Q(void_reason=""))
                ),
                name="session_void_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.number} with {self.client}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Saving a session loaded before its client answered must not write back the
        # copies as they were then: an edit writes every field but those (RATING_COPIES).
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = fields_an_edit_writes(self, RATING_COPIES)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        """The session's page, on the read side (see `alliance.links`)."""
        return links.session_page(self.pk)

    @property
    def was_attended(self) -> bool:
        return self.attendance == self.Attendance.ATTENDED

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None

    def clean(self) -> None:
        if self.client_id is None or self.therapist_id is None:
            return
        if self.therapist.clinic_id != self.client.clinic_id:
            raise ValidationError({"therapist": "The therapist must work in the client's clinic."})


class SessionRevisionQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> SessionRevisionQuerySet:
        return self.scoped(caseload_q(user, "session__client__"))


class SessionRevision(models.Model):
    """One edit of a session: who changed it, when, and what the changed fields held before.

    Clinical history, shown on the session page to those who may see the session; the
    previous private notes only to the session's therapist (`led_session`).
    """

    session = models.ForeignKey(
        Session, on_delete=models.PROTECT, related_name="revisions", db_index=False
    )  # indexed with the time (Meta)
    revised_at = models.DateTimeField(default=timezone.now)
    revised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Field name → the value before the edit, as text a page can show (see services).
    previous = models.JSONField(default=dict)

    objects = SessionRevisionQuerySet.as_manager()

    class Meta:
        ordering = ["session_id", "revised_at", "pk"]
        indexes = [models.Index(fields=["session", "revised_at"], name="session_revision_at_idx")]

    def __str__(self) -> str:
        return f"Change to {self.session} on {self.revised_at:%Y-%m-%d %H:%M}"

    @property
    def changed_fields(self) -> list[str]:
        return list(self.previous)


class RatingInvitationQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> RatingInvitationQuerySet:
        return self.scoped(caseload_q(user, "session__client__"))

    def live(self, now: dt.datetime | None = None) -> RatingInvitationQuerySet:
        """Invitations a client could still answer (at `now`, by default the present)."""
        return self.filter(
            used_at__isnull=True, voided_at__isnull=True, expires_at__gt=now or timezone.now()
        )


class RatingInvitation(models.Model):
    """A single-use link for the client to rate one session.

    Only a hash of the token is stored, so a database leak cannot be replayed
    as links; the raw token exists only when the invitation is created.
    """

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when a newer invitation replaces this one."
    )
    emailed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the link was e-mailed to the client."
    )
    reminded_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the reminder went; an invitation that is a reminder is stamped too.",
    )

    objects = RatingInvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="invitation_created_idx")]
        constraints = [
            # One live (neither used nor voided) invitation per session.
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(used_at__isnull=True, voided_at__isnull=True),
                name="invitation_one_open_per_session",
                violation_error_message="This session already has an open rating link.",
            ),
        ]

    def __str__(self) -> str:
        return f"Rating link for {self.session}"

    def is_open(self, now: dt.datetime | None = None) -> bool:
        """Could the client still answer through this invitation?"""
        now = now or timezone.now()
        return self.used_at is None and self.voided_at is None and self.expires_at > now
