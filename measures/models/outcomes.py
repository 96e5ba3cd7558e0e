"""Outcome beside the alliance: the instruments a clinic asks, and each client's answers.

An instrument is data, not code: its items in each language, the answer range, how it is
scored, its cut-off and its reliable-change margin. Alliance ships one (the outcome
check, `clinic` empty, offered to every clinic); a clinic may add others it holds a
licence for and choose which one its clients answer. Each answer is kept with the
session it was given at, and judged on track or not by `measures.tracking`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from alliance.fields import validate_visible_line
from clients.models import Client
from clients.scoping import ScopedQuerySet, caseload_q
from measures import tracking
from measures.models.ratings import latest_client_score


class Scoring(models.TextChoices):
    SUM = tracking.SUM, "Sum of the items"
    MEAN = tracking.MEAN, "Mean of the items"


class Track(models.TextChoices):
    STARTING = tracking.STARTING, "First answer"
    ON_TRACK = tracking.ON_TRACK, "On track"
    NOT_ON_TRACK = tracking.NOT_ON_TRACK, "Not on track"


class InstrumentQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> InstrumentQuerySet:
        """The built-in instruments and those of the user's own clinic."""
        if not getattr(user, "is_authenticated", False) or not getattr(user, "clinic_id", None):
            return self.scoped(Q(pk__in=[]))
        return self.scoped(Q(clinic__isnull=True) | Q(clinic_id=user.clinic_id))

    def offered_to(self, clinic_id: int) -> InstrumentQuerySet:
        """What this clinic may ask: its own instruments and the built-in ones (which every
        clinic reads), none retired. A scope of its own: the clinic is the reach."""
        return self.scoped(Q(clinic__isnull=True) | Q(clinic_id=clinic_id)).filter(retired_at=None)

    def offered_since(self, clinic_id: int, moment: dt.datetime) -> InstrumentQuerySet:
        """What this clinic offered at any time since `moment`: what it offers now, and its
        own instruments retired since. A link's page opened before a retirement may still
        show the retired questions, and the client's answers belong to what they read."""
        return self.scoped(Q(clinic__isnull=True) | Q(clinic_id=clinic_id)).filter(
            Q(retired_at=None) | Q(retired_at__gt=moment)
        )

    def current_for(self, clinic_id: int) -> InstrumentQuerySet:
        """The instrument this clinic's clients answer first: its own in use, else the
        built-in (`instrument_for`; a subquery where one query must do)."""
        return (
            self.offered_to(clinic_id)
            .filter(Q(clinic_id=clinic_id, in_use=True) | Q(clinic__isnull=True))
            .order_by(models.F("clinic_id").asc(nulls_last=True), "pk")
        )


class Instrument(models.Model):
    """An outcome measure as data. `text` holds, per language code, the question that
    introduces the items, the items in order and the labels of the range's two ends:
    {"en": {"intro": …, "items": […], "low": …, "high": …}, "es": {…}}. English is
    required; another language falls back to it."""

    Scoring = Scoring

    clinic = models.ForeignKey(
        "clients.Clinic",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="instruments",
        help_text="Empty for an instrument built into Alliance, offered to every clinic.",
    )
    # Shown to clients and staff; its wording (`text`) is checked line by line, as the
    # name is here, by `measures.instruments.definition_problems`.
    name = models.CharField(max_length=120, validators=[validate_visible_line])
    text = models.JSONField()
    minimum = models.SmallIntegerField("lowest answer", default=0)
    maximum = models.SmallIntegerField("highest answer", default=10)
    scoring = models.CharField(max_length=8, choices=Scoring.choices, default=Scoring.MEAN)
    higher_is_better = models.BooleanField(default=True)
    cutoff = models.DecimalField(
        "clinical cut-off", max_digits=7, decimal_places=2, help_text="In total-score units."
    )
    reliable_change = models.DecimalField(
        "reliable change", max_digits=7, decimal_places=2, help_text="In total-score units."
    )
    licence = models.TextField(
        blank=True, help_text="Who holds the licence to use it, and on what terms."
    )
    in_use = models.BooleanField(
        default=False,
        help_text="The instrument this clinic's clients answer (else the built-in check).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = InstrumentQuerySet.as_manager()

    class Meta:
        ordering = ["clinic_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(clinic__isnull=True),
                name="instrument_built_in_name_unique",
            ),
            models.UniqueConstraint(
                fields=["clinic"],
                condition=Q(in_use=True),
                name="instrument_one_in_use_per_clinic",
                violation_error_message="A clinic uses one outcome instrument at a time.",
            ),
            models.CheckConstraint(
                condition=Q(maximum__gt=models.F("minimum")), name="instrument_range_valid"
            ),
            models.CheckConstraint(
                condition=Q(scoring__in=Scoring.values), name="instrument_scoring_valid"
            ),
            models.CheckConstraint(
                condition=Q(reliable_change__gt=0), name="instrument_reliable_change_positive"
            ),
            # The built-in check is never "in use" by a clinic: it is what a clinic without
            # one of its own uses.
            models.CheckConstraint(
                condition=Q(clinic__isnull=False) | Q(in_use=False),
                name="instrument_built_in_not_in_use",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_built_in(self) -> bool:
        return self.clinic_id is None

    def wording(self, language: str) -> dict[str, Any]:
        """The instrument's words in `language`, or in English when it has none."""
        return self.text.get(language) or self.text["en"]

    @property
    def item_count(self) -> int:
        return len(self.text["en"]["items"])

    @property
    def score_range(self) -> tuple[float, float]:
        return tracking.score_range(self.minimum, self.maximum, self.scoring, self.item_count)

    def scale(self) -> tracking.Scale:
        low, high = self.score_range
        return tracking.Scale(
            minimum=low,
            maximum=high,
            higher_is_better=self.higher_is_better,
            cutoff=float(self.cutoff),
            reliable_change=float(self.reliable_change),
        )

    def score(self, answers: list[int]) -> float:
        return tracking.instrument_score(answers, self.scoring)

    @property
    def decimal_places(self) -> int:
        """How its scores are shown: a mean to two places (as stored), a sum whole. One
        precision a column, so 7, 6.5 and 6.75 do not stand one above the other."""
        return 2 if self.scoring == Scoring.MEAN else 0


BUILT_IN_DEFINITION = Path(__file__).resolve().parent.parent / "definitions" / "outcome_check.json"


def built_in_definition() -> dict[str, Any]:
    """The built-in outcome check as data: the file migration measures 0010 loaded."""
    return json.loads(BUILT_IN_DEFINITION.read_text(encoding="utf-8"))


def built_in_check() -> Instrument:
    """The outcome check built into Alliance. The migration makes it; if the row is missing
    (a restore of data taken without it, or tests that empty every table) it is made again
    from its definition, so a client's link never silently loses the check."""
    found = Instrument.objects.filter(clinic__isnull=True).order_by("pk").first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Instrument.objects.create(clinic=None, **built_in_definition())
    except IntegrityError:  # made at the same moment by another request
        return Instrument.objects.get(clinic__isnull=True, name=built_in_definition()["name"])


def instrument_for(clinic_id: int) -> Instrument:
    """The instrument this clinic's clients answer: its own in use, else the built-in."""
    return Instrument.objects.current_for(clinic_id).first() or built_in_check()


class OutcomeAnswerQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> OutcomeAnswerQuerySet:
        return self.scoped(caseload_q(user, "session__client__"))

    def of_current_sessions(self) -> OutcomeAnswerQuerySet:
        return self.filter(session__voided_at__isnull=True)

    def latest_first(self) -> OutcomeAnswerQuerySet:
        return self.order_by("-session__starts_at", "-session__number")


class OutcomeAnswer(models.Model):
    """A client's answers to the outcome instrument at one session, about the time since
    the last; judged on track or not by detection (measures.tracking)."""

    Track = Track

    session = models.OneToOneField(
        "therapy_sessions.Session", on_delete=models.PROTECT, related_name="outcome"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="answers")
    answers = models.JSONField(help_text="The item answers, in the instrument's order.")
    score = models.DecimalField(max_digits=7, decimal_places=2)
    submitted_at = models.DateTimeField(default=timezone.now)
    # Written by detection, from the client's answers and the clinic's expected course.
    track = models.CharField(max_length=14, choices=Track.choices, blank=True)
    expected = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    lowest_on_track = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    judged_at = models.DateTimeField(null=True, blank=True)

    objects = OutcomeAnswerQuerySet.as_manager()

    class Meta:
        ordering = ["session_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(track__in=["", *Track.values]), name="outcome_track_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Outcome answer for {self.session}"


def current_track(client_ref: str = "pk", clinic_ref: str = "clinic_id") -> Subquery:
    """The client's outcome status now, for a queryset whose `client_ref` is a client's id
    and `clinic_ref` their clinic's: the track of their latest answer, on a session that
    counts (not voided), to the instrument their clinic uses now. NULL when they have none;
    "" while detection has not yet judged the latest one.

    Only the instrument in use: detection judges no other (an answer to one the clinic has
    since left keeps the track it had), and neither does the client page."""
    in_use = Instrument.objects.current_for(OuterRef(OuterRef(clinic_ref))).values("pk")[:1]
    latest = (
        OutcomeAnswer.objects.of_current_sessions()
        .filter(session__client=OuterRef(client_ref), instrument=Subquery(in_use))
        .latest_first()
        .values("track")[:1]
    )
    return Subquery(latest, output_field=models.CharField())


# Clients whose copies one statement writes: each statement holds its clients' rows only
# while it runs, and SQLite takes at most 999 parameters a statement.
EVALUATED_A_STATEMENT = 500


def copy_evaluated_to_clients(client_ids: Iterable[int]) -> int:
    """Write each client's copies of their latest score and outcome track
    (`Client.evaluated_score`, `Client.evaluated_track`) from their sessions and answers as
    they are now: detection calls it once it has evaluated them. In id order, a statement
    for each 500 clients, each slice committed on its own."""
    ids = sorted(set(client_ids))
    written = 0
    for start in range(0, len(ids), EVALUATED_A_STATEMENT):
        chunk = ids[start : start + EVALUATED_A_STATEMENT]
        with transaction.atomic():
            # Held first, in id order, as every path that locks clients takes them
            # (`measures.concerns.lock_clients`): an UPDATE takes its rows in the order it
            # finds them, and two statements over the same clients taking them in different
            # orders could each hold what the other waits for. And the UPDATE, a statement
            # of its own, then reads what was committed while it waited: one that had
            # waited on another evaluation's copy would read the sessions as they were when
            # it began, and write them over the newer one. (NO KEY: a new session or concern
            # of the client need not wait.)
            list(
                Client.objects.select_for_update(no_key=True)
                .filter(pk__in=chunk)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            written += Client.objects.filter(pk__in=chunk).update(
                evaluated_score=latest_client_score("pk"), evaluated_track=current_track("pk")
            )
    return written


class ExpectedCourse(models.Model):
    """The clinic's experience: for clients who started in `band`, the median improvement
    on this instrument by their `index`-th answer, and how many clients it rests on.
    Only numbers: no client, no score of anyone's."""

    clinic = models.ForeignKey(
        "clients.Clinic", on_delete=models.CASCADE, related_name="+", db_index=False
    )  # indexed by course_one_per_point, which begins with it
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="+")
    band = models.CharField(max_length=10)
    index = models.PositiveSmallIntegerField()
    improvement = models.FloatField()
    clients = models.PositiveIntegerField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["clinic_id", "instrument_id", "band", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "instrument", "band", "index"], name="course_one_per_point"
            ),
            models.CheckConstraint(
                condition=Q(band__in=list(tracking.BANDS)), name="course_band_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Expected course, {self.band} start, answer {self.index}"
