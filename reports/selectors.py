"""Reads for the therapist's pages: the caseload and one client's history.

Each selector costs a fixed number of queries whatever the caseload's size:
per-client numbers are correlated subqueries, the sparklines one windowed query.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.utils import formats, timezone

from clients.models import Client
from measures import tracking
from measures.courses import course_for
from measures.history import Point, Thresholds
from measures.models import (
    Concern,
    Flag,
    Instrument,
    OutcomeAnswer,
    Rating,
    current_track,
    instrument_for,
    latest_client_score,
    severity_rank,
)
from measures.rules import repaired
from measures.scoring import DIMENSIONS, one_decimal
from measures.thresholds import clinic_thresholds
from sessions.models import Session, SessionRevision

SPARKLINE_LENGTH = 10


def cutoff() -> Decimal:
    return Decimal(str(settings.ALLIANCE_CUTOFF))


def is_below_cutoff(score: Decimal) -> bool:
    """As the cut-off rule judges a score (`Thresholds.is_below_cutoff`, with the
    installation's `ALLIANCE_CUTOFF_OPERATOR`): a badge or a sparkline says "below" exactly
    when the rule fires, at the cut-off itself included when it is `le`."""
    rule = Thresholds(
        cutoff=settings.ALLIANCE_CUTOFF, cutoff_operator=settings.ALLIANCE_CUTOFF_OPERATOR
    )
    return rule.is_below_cutoff(float(score))


@dataclass(frozen=True)
class CaseloadFilters:
    """What the caseload lists: a status, part of a label, and whether only the clients
    whose latest outcome answer is not on track."""

    status: str = Client.Status.ACTIVE
    search: str = ""
    not_on_track_only: bool = False


def caseload(
    user: Any,
    *,
    status: str = Client.Status.ACTIVE,
    search: str = "",
    not_on_track_only: bool = False,
) -> QuerySet[Client]:
    """The clients `user` may see, with the numbers the caseload page shows; with
    `not_on_track_only`, those whose latest outcome answer is not on track.

    Clients with a concern waiting for review come first, the most severe first.
    """
    last_session = Session.objects.current().filter(client=OuterRef("pk")).order_by("-starts_at")
    clients = (
        Client.objects.visible_to(user)
        .filter(status=status)
        .select_related("therapist")
        # A join, not a subquery per column: at most one concern per client is open (a
        # database constraint, on exactly these statuses), so it never repeats a client.
        .annotate(
            open_concern=FilteredRelation(
                "concerns", condition=Q(concerns__status__in=list(Concern.REVIEWABLE))
            )
        )
        .annotate(
            latest_score=latest_client_score("pk"),
            last_session_at=Subquery(last_session.values("starts_at")[:1]),
            concern_id=F("open_concern__id"),
            concern_severity=F("open_concern__severity"),
            concern_status=F("open_concern__status"),
            concern_rank=Case(
                When(open_concern__id__isnull=True, then=Value(3)),
                default=severity_rank("open_concern__severity"),
            ),
            outcome_track=current_track("pk"),
        )
        .order_by("concern_rank", "label", "id")
    )
    if search:
        clients = clients.filter(label__icontains=search)
    if not_on_track_only:
        clients = clients.filter(outcome_track=OutcomeAnswer.Track.NOT_ON_TRACK)
    return clients


def sparklines(client_ids: list[int]) -> dict[int, list[Decimal]]:
    """Each client's last ten client scores, oldest first, in one query (from the sessions'
    copies of them)."""
    rows = (
        Session.objects.current()
        .filter(client_id__in=client_ids, client_score__isnull=False)
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("client_id")],
                order_by=[F("starts_at").desc(), F("number").desc()],
            )
        )
        .filter(recency__lte=SPARKLINE_LENGTH)
        .order_by("client_id", "starts_at", "number")
        .values_list("client_id", "client_score")
    )
    series: dict[int, list[Decimal]] = defaultdict(list)
    for client_id, score in rows:
        series[client_id].append(one_decimal(score))
    return series


def with_sparklines(clients: Iterable[Client]) -> list[Client]:
    """The caseload rows ready to show: each client's sparkline (one query for them all),
    and the latest score to one decimal (SQLite hands back the float's full digits)."""
    clients = list(clients)
    lines = sparklines([client.pk for client in clients])
    for client in clients:
        client.sparkline = lines.get(client.pk, [])
        if client.latest_score is not None:
            client.latest_score = one_decimal(client.latest_score)
    return clients


@dataclass
class SessionRow:
    """One session on the client page, with both raters' ratings if given."""

    session: Session
    client_rating: Rating | None = None
    therapist_rating: Rating | None = None
    flags: list[Flag] = field(default_factory=list)
    # The outcome answer given at this session, if it was to the instrument in use.
    outcome: OutcomeAnswer | None = None

    @property
    def alerting(self) -> bool:
        """A signal here belongs to a concern (context alone draws no triangle)."""
        return any(flag.concern_id is not None for flag in self.flags)

    @property
    def repaired(self) -> bool:
        """A rupture reported as fully talked through: kept and shown, never raised."""
        return repaired(_point(self))


def _point(row: SessionRow) -> Point:
    client, therapist = row.client_rating, row.therapist_rating
    return Point(
        session_id=row.session.pk,
        number=row.session.number,
        starts_at=row.session.starts_at,
        attendance=row.session.attendance,
        client=tuple(client.dimension_scores.values()) if client else None,
        rupture=client.rupture if client else "",
        rupture_resolved=client.rupture_resolved if client else "",
        therapist=tuple(therapist.dimension_scores.values()) if therapist else None,
        therapist_rupture=therapist.rupture if therapist else "",
        therapist_rupture_resolved=therapist.rupture_resolved if therapist else "",
    )


@dataclass
class OutcomeStatus:
    """Where the client stands on the outcome instrument, in words for the page."""

    instrument: Instrument
    answers: list[OutcomeAnswer]
    # How many of the clinic's clients the expected course at the latest answer rests on,
    # and how many it needs (the setting).
    course_clients: int = 0
    min_clients: int = 0
    # The last answer the expected course reaches (the setting): none is expected past it.
    course_length: int = 0

    @property
    def latest(self) -> OutcomeAnswer | None:
        return self.answers[-1] if self.answers else None

    @property
    def not_on_track_since(self) -> int | None:
        """The session from which the client has been not on track, or None."""
        since = None
        for answer in self.answers:
            if answer.track == OutcomeAnswer.Track.NOT_ON_TRACK:
                since = since or answer.session.number
            else:
                since = None
        return since

    @property
    def has_expected_course(self) -> bool:
        return self.latest is not None and self.latest.expected is not None

    @property
    def course_words(self) -> str:
        """Why there is no expected band yet, if there is none (nothing while the latest
        answer waits to be judged: its expected score is not written yet)."""
        if len(self.answers) < 2 or self.has_expected_course or not self.latest.track:
            return ""
        if len(self.answers) > self.course_length:
            return (
                f"The expected course runs to a client's answer {self.course_length}; this is "
                f"answer {len(self.answers)}, so not on track means a reliable fall from the "
                "client's first score."
            )
        return (
            f"No expected course yet at this client's answer {len(self.answers)}: it needs "
            f"{self.min_clients} clients of this clinic who started in the same band and gave "
            f"as many answers, and there are {self.course_clients}. Until then, not on track "
            "means a reliable fall from the client's first score."
        )


@dataclass
class ClientHistory:
    sessions: list[SessionRow]
    concerns: list[Concern]
    # Voided sessions, listed apart: out of the chart, the table and the scores.
    voided: list[Session] = field(default_factory=list)
    outcome: OutcomeStatus | None = None

    def client_scores(self) -> dict[int, float]:
        """The client's alliance score by session number, as `measures.concerns.client_scores`
        reads it for one client (client ratings of sessions not voided): the concerns' stories
        on this page are told from these rows, not read again."""
        return {
            row.session.number: float(row.client_rating.alliance_score)
            for row in self.sessions
            if row.client_rating is not None
        }

    def chart_data(self) -> dict[str, Any]:
        """What the chart draws (via json_script): rated sessions in order, both raters,
        and the outcome with its expected band on an axis of its own."""
        rated = [
            row for row in self.sessions if row.client_rating or row.therapist_rating or row.outcome
        ]

        def series(rater: str, name: str | None) -> list[float | None]:
            values = []
            for row in rated:
                by_client = rater == Rating.Rater.CLIENT
                rating = row.client_rating if by_client else row.therapist_rating
                if rating is None:
                    values.append(None)
                elif name is None:
                    values.append(float(rating.alliance_score))
                else:
                    values.append(getattr(rating, name))
            return values

        return {
            "labels": [_session_label(row.session) for row in rated],
            "outcome": self._outcome_series(rated),
            "cutoff": float(cutoff()),
            "flagged": [row.alerting for row in rated],
            "repaired": [row.repaired for row in rated],
            "client": {
                "score": series(Rating.Rater.CLIENT, None),
                **{d: series(Rating.Rater.CLIENT, d) for d in DIMENSIONS},
            },
            "therapist": {
                "score": series(Rating.Rater.THERAPIST, None),
                **{d: series(Rating.Rater.THERAPIST, d) for d in DIMENSIONS},
            },
        }

    def _outcome_series(self, rated: list[SessionRow]) -> dict[str, Any] | None:
        if self.outcome is None or not self.outcome.answers:
            return None
        instrument = self.outcome.instrument

        def series(name: str) -> list[float | None]:
            values = [getattr(row.outcome, name) if row.outcome else None for row in rated]
            return [None if value is None else float(value) for value in values]

        low, high = instrument.score_range
        return {
            "name": instrument.name,
            "score": series("score"),
            "expected": series("expected"),
            "lowest": series("lowest_on_track"),
            "offTrack": [
                bool(row.outcome) and row.outcome.track == OutcomeAnswer.Track.NOT_ON_TRACK
                for row in rated
            ],
            "min": low,
            "max": high,
            "cutoff": float(instrument.cutoff),
            "higherIsBetter": instrument.higher_is_better,
        }


def _session_label(session: Session) -> str:
    return f"{session.number} · {timezone.localtime(session.starts_at).strftime('%-d %b')}"


def client_history(client: Client) -> ClientHistory:
    """Every session of one client, newest last, with ratings, signals and the client's
    concerns, the voided sessions apart: four queries."""
    sessions = list(client.sessions.in_history_order().select_related("voided_by", "outcome"))
    voided = [session for session in sessions if session.is_voided]
    shown = {session.pk: session for session in sessions if not session.is_voided}
    # Each session's ratings and signals, two queries, grouped here rather than by
    # prefetch_related, whose queryset per session cost forty sessions 2–3 ms.
    ratings: dict[int, dict[str, Rating]] = defaultdict(dict)
    for rating in Rating.objects.filter(session_id__in=list(shown)):
        rating.session = shown[rating.session_id]
        ratings[rating.session_id][rating.rater] = rating
    thresholds = clinic_thresholds(client.clinic_id)
    flags: dict[int, list[Flag]] = defaultdict(list)
    # The page shows each signal's rule and standing, never its evidence; a withdrawn one no
    # longer fires, and is shown on its session's page and its concern's.
    for flag in (
        Flag.objects.holding()
        .filter(session_id__in=list(shown))
        .defer("evidence")
        .order_by("created_at")
    ):
        flag.session = shown[flag.session_id]  # already in hand: no query per flag in templates
        # Outside any concern: context, or an alert in a stretch already reviewed.
        flag.is_context = not thresholds.alerts(flag.rule, flag.severity)
        flags[flag.session_id].append(flag)
    instrument = instrument_for(client.clinic_id)
    rows = [
        SessionRow(
            session=session,
            client_rating=ratings[pk].get(Rating.Rater.CLIENT),
            therapist_rating=ratings[pk].get(Rating.Rater.THERAPIST),
            flags=flags[pk],
            outcome=_answer_to(session, instrument),
        )
        for pk, session in shown.items()
    ]
    concerns = list(
        Concern.objects.filter(client=client)
        .select_related("first_session", "last_session")
        .order_by("-opened_at", "-pk")
    )
    for concern in concerns:
        concern.client = client  # already in hand: no query per concern for its stories
    return ClientHistory(
        sessions=rows,
        concerns=concerns,
        voided=voided,
        outcome=_outcome_status(client, instrument, rows),
    )


def _answer_to(session: Session, instrument: Instrument) -> OutcomeAnswer | None:
    """The session's outcome answer (selected with it), if given to `instrument`."""
    try:
        answer = session.outcome
    except OutcomeAnswer.DoesNotExist:
        return None
    if answer.instrument_id != instrument.pk:
        return None
    answer.session = session
    return answer


def _outcome_status(
    client: Client, instrument: Instrument, rows: list[SessionRow]
) -> OutcomeStatus:
    """The client's outcome answers in order; one query for the course's size, when the
    latest answer has no expected score yet."""
    answers = [row.outcome for row in rows if row.outcome is not None]
    status = OutcomeStatus(
        instrument,
        answers,
        min_clients=settings.ALLIANCE_OUTCOME_MIN_CLIENTS,
        course_length=settings.ALLIANCE_OUTCOME_COURSE_LENGTH,
    )
    if len(answers) >= 2 and answers[-1].expected is None:
        band = tracking.starting_band(float(answers[0].score), instrument.scale())
        point = course_for(client.clinic_id, instrument.pk).get(band, {}).get(len(answers))
        status.course_clients = point.clients if point else 0
    return status


# --- One session's history -------------------------------------------------------------


def session_signals(session: Session) -> list[Flag]:
    """The session's signals, oldest first, each outside any concern told apart as context
    (shown, never raised on its own) or an alert in a stretch already reviewed, as on the
    client page: one query, and one for the clinic's thresholds when a signal needs it."""
    flags = list(session.flags.order_by("created_at"))  # with the evidence each describes
    outside = [flag for flag in flags if flag.concern_id is None]
    thresholds = clinic_thresholds(session.client.clinic_id) if outside else None
    for flag in flags:
        flag.session = session  # already in hand: no query per flag in the template
        flag.is_context = (
            thresholds is not None
            and flag.concern_id is None
            and not (thresholds.alerts(flag.rule, flag.severity))
        )
    return flags


REVISED_FIELD_NAMES = {
    "starts_at": "date and time",
    "duration_minutes": "duration",
    "attendance": "attendance",
    "modality": "modality",
    "notes": "private notes",
}


@dataclass
class Change:
    """One edit of a session as the page tells it: when, by whom, what it held before."""

    revised_at: Any
    revised_by: Any
    # (field as people say it, its previous value in words)
    previous: list[tuple[str, str]]


def _previous_in_words(name: str, value: Any) -> str:
    if name == "starts_at":
        moment = dt.datetime.fromisoformat(value)
        return formats.date_format(timezone.localtime(moment), "j M Y, H:i")
    if name == "duration_minutes":
        return f"{value} minutes"
    if name == "attendance":
        return str(Session.Attendance(value).label)
    if name == "modality":
        return str(Session.Modality(value).label)
    return str(value) if value else "(none)"


def session_changes(user: Any, session: Session, *, with_notes: bool) -> list[Change]:
    """Each edit of `session`, oldest first, in one query. Private notes' earlier text only
    `with_notes` (for the session's therapist); an edit of the notes alone is then left out."""
    changes = []
    revisions = (
        SessionRevision.objects.visible_to(user)
        .filter(session=session)
        .select_related("revised_by")
        .order_by("revised_at", "pk")
    )
    for revision in revisions:
        # In the form's order (PostgreSQL's jsonb keeps keys in an order of its own).
        previous = [
            (label, _previous_in_words(name, revision.previous[name]))
            for name, label in REVISED_FIELD_NAMES.items()
            if name in revision.previous and (with_notes or name != "notes")
        ]
        if previous:
            changes.append(Change(revision.revised_at, revision.revised_by, previous))
    return changes
