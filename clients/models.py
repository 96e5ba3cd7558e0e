"""Clinics, the people who work in them, supervision, and clients.

Who may see what is decided in one place per model: the `visible_to(user)`
queryset methods in `clients/scoping.py`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone

from alliance import links
from alliance.copies import fields_an_edit_writes
from alliance.fields import validate_visible_line
from clients.scoping import (
    AuditEntryQuerySet,
    AuditIsAppendOnly,
    ClientQuerySet,
    SupervisionQuerySet,
    UserQuerySet,
)

NOTICE_MAX_LENGTH = 1000
# A hundred years: a clinic keeping records longer keeps them until someone erases them.
# At least a day: none is anonymised in the hour they are discharged.
RETENTION_MAX_DAYS = 36_500


class Clinic(models.Model):
    # One visible line: the subject of a colleague's invitation (where a line break is
    # refused by the mail library, and no invitation could be sent), the head of pages and
    # exports (where an invisible or direction-changing character would mislead).
    name = models.CharField(max_length=120, validators=[validate_visible_line])
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The privacy notice on the client's rating form, in the clinic's own words; blank
    # shows the default (`clients.notice`). Changed only through `clinic_notice_update`,
    # which bumps the version, so a client's rating can name the wording it was shown.
    # Defaults in the database too, so code that predates them (a migration's historical
    # models, a server mid-deploy) can still add a clinic.
    notice_en = models.TextField(
        "notice in English", max_length=NOTICE_MAX_LENGTH, blank=True, default="", db_default=""
    )
    notice_es = models.TextField(
        "notice in Spanish", max_length=NOTICE_MAX_LENGTH, blank=True, default="", db_default=""
    )
    notice_version = models.PositiveIntegerField(
        default=1, db_default=1, help_text="Goes up by one whenever the notice's wording changes."
    )
    # The client's rights (README "The client's rights"): how long a discharged client's
    # record is kept before it is anonymised, and whether its numbers still count.
    retention_days_after_discharge = models.PositiveIntegerField(
        "keep records after discharge (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(RETENTION_MAX_DAYS)],
        help_text="After this many days a discharged client is anonymised; empty keeps "
        "records until someone erases them.",
    )
    keep_numbers_after_erasure = models.BooleanField(
        "keep numbers after erasure",
        default=True,
        # In the database too, so rows written by code that predates the field (older
        # migrations' historical models, other programs) get it.
        db_default=True,
        help_text="An erased client's scores and dates still count in the clinic's "
        "statistics, without anything that names them.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            # In the database too: the nightly erasure acts on it, irreversibly.
            models.CheckConstraint(
                condition=Q(retention_days_after_discharge__isnull=True)
                | Q(retention_days_after_discharge__range=(1, RETENTION_MAX_DAYS)),
                name="clinic_retention_days_in_range",
                violation_error_message="Keep records between 1 and 36,500 days after "
                "discharge, or leave it empty to keep them until someone erases them.",
            )
        ]

    def __str__(self) -> str:
        return self.name


# A username is the same in capitals and small letters: "Ann" and "ann" would be two
# colleagues whom nobody tells apart, and the log-in would refuse one of them the password
# she typed in the other's case. The database refuses a second one in any case (the
# constraint below), and the log-in finds the one there is (`get_by_natural_key`).
USERNAME_IN_ANY_CASE = "user_username_unique_in_any_case"
USERNAME_TAKEN = "Someone already has this username; choose another."


def username_taken(taken: str, wanted: str) -> str:
    """What a form says of `wanted` when `taken` is already someone's username."""
    if taken == wanted:
        return USERNAME_TAKEN
    return (
        f"Someone already has this username, as \u201c{taken}\u201d (capitals and small "
        "letters count as the same); choose another."
    )


def _same_username_q(username: str) -> Exact:
    """Matches a username in any case, as the database's unique index on LOWER(username)
    compares them (so what it refuses and what this finds are the same)."""
    return Exact(Lower("username"), Lower(Value(username, output_field=models.CharField())))


class StaffManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    def get_by_natural_key(self, username: str | None) -> User:
        """The one person who signs in as `username`, in any case: Django's log-in backend,
        `createsuperuser`'s check for a taken username and natural keys all look people
        up here."""
        return self.get(_same_username_q(username or ""))

    def signing_in_as(self, username: str) -> models.QuerySet[User]:
        """The person (at most one) whose username is `username` in any case."""
        return self.filter(_same_username_q(username))

    def username_clash(self, username: str, besides: User | None = None) -> str | None:
        """The username someone else already has that is `username` in any case, or None."""
        others = self.signing_in_as(username)
        if besides is not None and besides.pk is not None:
            others = others.exclude(pk=besides.pk)
        return others.values_list("username", flat=True).first()


class User(AbstractUser):
    """A member of a clinic's staff. One person may hold several roles."""

    clinic = models.ForeignKey(
        Clinic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text="Every member of staff belongs to one clinic; only superusers may have none.",
    )
    # Names are shown to colleagues (lists, pages, CSV files, e-mails): each one visible
    # line, as a client's label. The username keeps Django's own check too.
    username = models.CharField(
        "username",
        max_length=150,
        unique=True,
        help_text="Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.",
        validators=[AbstractUser.username_validator, validate_visible_line],
        error_messages={"unique": "A user with that username already exists."},
    )
    first_name = models.CharField(
        "first name", max_length=150, blank=True, validators=[validate_visible_line]
    )
    last_name = models.CharField(
        "last name", max_length=150, blank=True, validators=[validate_visible_line]
    )
    is_therapist = models.BooleanField("therapist", default=False)
    is_supervisor = models.BooleanField("supervisor", default=False)
    is_clinic_admin = models.BooleanField("clinic admin", default=False)

    objects = StaffManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(clinic__isnull=False) | Q(is_superuser=True),
                name="user_staff_belongs_to_a_clinic",
                violation_error_message="Every member of staff must belong to a clinic.",
            ),
            # Against two invitations (or an invitation and the admin) at the same moment,
            # which each checked before the other's row was there.
            models.UniqueConstraint(
                Lower("username"),
                name=USERNAME_IN_ANY_CASE,
                violation_error_code="username_taken",
                violation_error_message=USERNAME_TAKEN,
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def validate_constraints(self, exclude: Any = None) -> None:
        """The constraints, a username taken in another case said beside the username (the
        constraint alone says it above the form, without saying whose it is). The same
        username in the same case is said by the field's own check (`validate_unique`)."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as refused:
            errors = refused.update_error_dict({})
            others = errors.pop(NON_FIELD_ERRORS, [])
            kept = [error for error in others if error.code != "username_taken"]
            if kept:
                errors[NON_FIELD_ERRORS] = kept
            if len(kept) < len(others):
                taken = User.objects.username_clash(self.username, besides=self)
                if taken is not None and taken != self.username:
                    errors.setdefault("username", []).append(
                        ValidationError(username_taken(taken, self.username), code="unique")
                    )
            if errors:
                raise ValidationError(errors) from None

    @property
    def roles(self) -> list[str]:
        names = []
        if self.is_therapist:
            names.append("therapist")
        if self.is_supervisor:
            names.append("supervisor")
        if self.is_clinic_admin:
            names.append("clinic admin")
        return names


class Supervision(models.Model):
    """A supervisor oversees a therapist's caseload (read-only)."""

    # Indexed by supervision_unique_pair, which begins with it (alliance/tests/test_indexes.py).
    supervisor = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="supervisions", db_index=False
    )
    therapist = models.ForeignKey(User, on_delete=models.CASCADE, related_name="supervised_by")
    created_at = models.DateTimeField(default=timezone.now)

    objects = SupervisionQuerySet.as_manager()

    class Meta:
        ordering = ["supervisor_id", "therapist_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["supervisor", "therapist"],
                name="supervision_unique_pair",
                violation_error_message="This supervisor already supervises this therapist.",
            ),
            models.CheckConstraint(
                condition=~Q(supervisor=models.F("therapist")),
                name="supervision_not_self",
                violation_error_message="A therapist cannot be their own supervisor.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supervisor} supervises {self.therapist}"

    def clean(self) -> None:
        # Cross-row invariants a CHECK constraint cannot express.
        if self.supervisor_id is None or self.therapist_id is None:
            return
        errors: dict[str, str] = {}
        if not self.supervisor.is_supervisor:
            errors["supervisor"] = f"{self.supervisor} does not hold the supervisor role."
        if not self.therapist.is_therapist:
            errors["therapist"] = f"{self.therapist} does not hold the therapist role."
        if self.supervisor.clinic_id != self.therapist.clinic_id:
            errors["therapist"] = "A supervisor can only supervise therapists of their own clinic."
        if errors:
            raise ValidationError(errors)


# Choices live at module level so the model's Meta can build its CHECK constraints from
# them (a class body's names are not visible inside its nested Meta).
class ClientLanguage(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Español"


class ClientStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISCHARGED = "discharged", "Discharged"


# Client fields detection writes (measures.models.copy_evaluated_to_clients), which an
# edit of the client leaves alone.
EVALUATED_COPIES = ("evaluated_score", "evaluated_track")


class Client(models.Model):
    """A person in therapy, known to Alliance only by a pseudonym label."""

    Language = ClientLanguage
    Status = ClientStatus

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="clients")
    therapist = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="caseload", db_index=False
    )  # indexed with the status (Meta)
    # Shown to colleagues in lists, pages, CSV files and e-mails: each must read as it
    # shows ("R.K." and "R.K." with a zero-width space are two clients that look one).
    label = models.CharField(
        max_length=40,
        help_text="A pseudonym or initials, never a legal name.",
        validators=[validate_visible_line],
    )
    external_id = models.CharField(
        "external ID",
        max_length=64,
        blank=True,
        help_text="Optional reference in the clinic's own records system.",
        validators=[validate_visible_line],
    )
    email = models.EmailField(blank=True, help_text="Optional: used only to send rating links.")
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.ENGLISH)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    discharged_at = models.DateTimeField(null=True, blank=True)
    # A concern's e-mails follow the therapist who holds it (`measures.notifications`): one
    # the previous therapist was told of reaches the new one's digest, and one left
    # unacknowledged counts its days, for escalation, from the move. Likewise from a
    # re-opening: nobody is chased about a discharged client's concern meanwhile.
    therapist_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the client last moved to their current therapist; blank if never moved.",
    )
    reopened_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the client was last re-opened after a discharge; blank if never.",
    )
    # Set when the client's personal data was erased (`measures.rights.client_erase`);
    # the rows stay, so nothing clinical is ever hard-deleted.
    erased_at = models.DateTimeField(null=True, blank=True)
    excluded_from_statistics = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Erased in a clinic that keeps no numbers: the client's scores no longer "
        "count in the clinic's calibration.",
    )
    # Copies for the supervisor's dashboard, as detection last evaluated the client (it
    # writes them after every evaluation, and for everyone each night): their alliance
    # score at the latest current session they rated, and the track of their latest
    # outcome answer (NULL before any answer, "" until it is judged). A team's numbers
    # then read one column each instead of searching every client's sessions (a health
    # system's 22,000 active clients: 0.35 s of SQL, README "Speed").
    evaluated_score = models.DecimalField(
        max_digits=3, decimal_places=1, null=True, blank=True, editable=False
    )
    evaluated_track = models.CharField(  # noqa: DJ001 - NULL (no answer) is not "" (not judged)
        max_length=14, null=True, blank=True, editable=False
    )
    # Per client, because the therapist knows when a question would not fit (a client in
    # crisis, one for whom life questions every week feel intrusive).
    asks_outcome = models.BooleanField(
        "ask the outcome check",
        default=True,
        db_default=True,
        help_text="Before the alliance questions, the client's link asks how life has been "
        "since the last session.",
    )
    shows_own_chart = models.BooleanField(
        "show the client their own chart after rating",
        default=False,
        db_default=False,
        help_text="After answering, the client sees their own alliance and outcome over time "
        "on their phone. Off unless you turn it on.",
    )

    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = ["label", "id"]
        indexes = [models.Index(fields=["therapist", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "external_id"],
                condition=~Q(external_id=""),
                name="client_external_id_unique_per_clinic",
                violation_error_message="Another client of this clinic has this external ID.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ClientStatus.values),
                name="client_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(language__in=ClientLanguage.values),
                name="client_language_valid",
            ),
            models.CheckConstraint(
                condition=~Q(label=""),
                name="client_label_not_blank",
                violation_error_message="A client needs a label.",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Saving a client loaded before detection last evaluated them (their edit form was
        # open) must not write back the copies as they were then.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = fields_an_edit_writes(self, EVALUATED_COPIES)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        """The client's page, on the read side (see `alliance.links`)."""
        return links.client_page(self.pk)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def clean(self) -> None:
        if self.therapist_id is None or self.clinic_id is None:
            return
        if not self.therapist.is_therapist:
            raise ValidationError(
                {"therapist": f"{self.therapist} does not hold the therapist role."}
            )
        if self.therapist.clinic_id != self.clinic_id:
            raise ValidationError({"therapist": "The therapist must work in the client's clinic."})


class AuditAction(models.TextChoices):
    VIEWED = "viewed", "Viewed"
    EXPORTED = "exported", "Exported"
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    VOIDED = "voided", "Voided"
    ERASED = "erased", "Erased"
    # A link between two people (a supervision) that stopped: not clinical data erased.
    ENDED = "ended", "Ended"


class AuditEntry(models.Model):
    """One read or write of a clinical record: who, when, from where, what — never the
    values. Append-only: written by `clients.audit`, never changed or deleted (the model,
    its queryset and, on PostgreSQL, a trigger refuse it); a save is always an INSERT, and
    a bulk insert never updates or skips a conflicting row.

    The record is named by its model and id; `client`, `clinic` and `actor` are foreign
    keys without a database constraint (`db_constraint=False`), for the clinic admin's
    filters and names, so the trail never holds up anything else.
    """

    Action = AuditAction

    at = models.DateTimeField(default=timezone.now, db_index=True)
    clinic = models.ForeignKey(
        Clinic,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # indexed with the time (audit_clinic_at)
        null=True,
        related_name="+",
    )
    actor = models.ForeignKey(
        User, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    # The actor's username as it was, or who acted without an account ("client link",
    # "system" for tasks and commands).
    actor_name = models.CharField(max_length=150)
    address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    model = models.CharField(max_length=60)  # "clients.client", "therapy_sessions.session"
    object_id = models.CharField(max_length=40)
    client = models.ForeignKey(
        "Client", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    # Which fields a write changed: their names only.
    fields = models.JSONField(default=list, blank=True)
    # Where it happened: "client page", "ratings CSV", "admin", "seed_demo"…
    place = models.CharField(max_length=80, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["clinic", "-at"], name="audit_clinic_at"),
            # A colleague's changes: every password-reset link checked reads when their access
            # last changed (`accounts.services.ResetTokens`), and anyone may open one. By key,
            # not a scan of a trail that grows with every record read; only these rows.
            models.Index(
                fields=["object_id", "-at"],
                condition=Q(model=User._meta.label_lower, action=AuditAction.CHANGED),
                name="audit_colleague_changes",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=AuditAction.values), name="audit_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.model} {self.object_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AuditIsAppendOnly("An audit entry is never changed.")
        # Always an INSERT: a new instance given an existing entry's id is "adding", and
        # Django's save() would UPDATE that row (SQLite has no trigger to refuse it). Forced,
        # the database's primary key refuses it instead.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AuditIsAppendOnly("An audit entry is never deleted.")
