"""Reads for the supervisor's dashboard: one row per therapist, the team's totals,
the clients needing attention, weekly sparklines, and how concerns were closed.

Every count and mean is computed in SQL — correlated subqueries per therapist row (the
typical guess gap among them: the reading page's number, `measures.guesses`, worked out in
SQL so a team can be sorted and paged by it), one aggregate for the totals, one grouped
query for the sparklines — so the page costs the same handful of queries for two
therapists or five hundred. The client's scores and the therapist's guesses are read from
the sessions, where each rating copies them (Session.client_score), not looked up in the
ratings session by session.

Each read names `replica_alias()`: with a read replica configured the page (and its CSV)
reads there, a moment behind the primary at most, and leaves the primary to the writes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Abs, Cast, Coalesce, NullIf, TruncWeek
from django.utils import timezone

from alliance.replica import replica_alias
from clients.models import Client, User
from measures.evidence import rule_name
from measures.models import (
    Concern,
    ConcernEvent,
    OutcomeAnswer,
    current_track,
    latest_client_score,
    severity_rank,
)
from measures.scoring import one_decimal
from reports import reading
from sessions.models import Session

SPARKLINE_WEEKS = 12
ATTENTION_LIMIT = 20
# A supervisor of a whole health system oversees hundreds of therapists: the page shows
# them this many at a time (the CSV has them all).
THERAPISTS_A_PAGE = 50
# Dashboard columns a supervisor may sort by (URL value → annotation).
SORTS = {
    "therapist": "last_name",
    "active_clients": "active_clients",
    "not_on_track": "not_on_track",
    "sessions": "sessions",
    "response_rate": "response_rate",
    "mean_latest": "mean_latest",
    "open_concerns": "open_concerns",
    "stale_concerns": "stale_concerns",
    "repair_follow_through": "repair_follow_through",
    "guess_gap": "typical_guess_gap",
}
SORTABLE = tuple(SORTS)
# A repair's follow-up finished: the alliance came back, or it did not (measures.follow_up).
RECOVERED = (ConcernEvent.Action.RECOVERED,)
NOT_RECOVERED = (ConcernEvent.Action.REOPENED, ConcernEvent.Action.NOT_RECOVERED)


@dataclass(frozen=True)
class Period:
    """[start, end) in time; `days` for the 7/30/90 presets, None for a custom range."""

    start: dt.datetime
    end: dt.datetime
    days: int | None

    @property
    def last_day(self) -> dt.date:
        return timezone.localtime(self.end - dt.timedelta(microseconds=1)).date()


def period_of_days(days: int, now: dt.datetime | None = None) -> Period:
    """The last `days` days, ending at the end of today (local time)."""
    today = timezone.localdate(now)
    return period_between(today - dt.timedelta(days=days - 1), today, days=days)


def period_between(first: dt.date, last: dt.date, days: int | None = None) -> Period:
    """Whole local days from `first` to `last`, inclusive."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return Period(start=start, end=end, days=days)


def stale_days() -> int:
    """A concern left open this many days is stale: it is escalated to the supervisor
    (`ALLIANCE_ESCALATE_AFTER_DAYS`), and the dashboard counts it."""
    return settings.ALLIANCE_ESCALATE_AFTER_DAYS


def stale_label() -> str:
    """The stale column's name on the page ("Unacknowledged > 7 days")."""
    days = stale_days()
    return f"Unacknowledged > {days} day{'' if days == 1 else 's'}"


# An erased client of a clinic that keeps no numbers after erasure counts in no statistic
# (README "The client's rights"); these conditions keep them out, by the path to the client.
def _counted(path: str) -> Q:
    return Q(**{f"{path}excluded_from_statistics": False})


def _count(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT(*) of `queryset` (already filtered on OuterRef) as an integer."""
    counted = queryset.order_by().values(group=Value(1)).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


# The sessions the typical guess gap is over: attended, with the client's score and the
# therapist's guess — those the reading page compares (`reports.reading.compared_sessions`).
GUESSED = Q(
    attendance=Session.Attendance.ATTENDED,
    client_score__isnull=False,
    guessed_client_score__isnull=False,
)


def _guess_gap(**options: Any) -> Avg:
    """The typical guess gap over guessed sessions: the mean distance, in points, between
    the therapist's guess and the client's score — `measures.guesses.read`'s mean absolute
    difference, worked out in SQL so the dashboard can sort and page by it."""
    difference = ExpressionWrapper(
        F("guessed_client_score") - F("client_score"),
        output_field=DecimalField(max_digits=4, decimal_places=1),
    )
    return Avg(Abs(difference), output_field=FloatField(), **options)


def dashboard_rows(user: Any, period: Period, sort: str = "therapist", descending: bool = False):  # type: ignore[no-untyped-def]
    """One row per overseen therapist with every column of the dashboard, sorted."""
    now = timezone.now()
    stale_before = now - dt.timedelta(days=stale_days())
    in_period = Q(starts_at__gte=period.start, starts_at__lt=period.end)
    held = Session.objects.current().filter(
        in_period, _counted("client__"), therapist=OuterRef("pk")
    )
    their_concerns = Concern.objects.filter(_counted("client__"), client__therapist=OuterRef("pk"))
    followed_up = ConcernEvent.objects.filter(
        _counted("concern__client__"),
        concern__client__therapist=OuterRef("pk"),
        at__gte=period.start,
        at__lt=period.end,
    )
    not_on_track = (
        Client.objects.filter(therapist=OuterRef("pk"), status=Client.Status.ACTIVE)
        .annotate(track=current_track("pk"))
        .filter(track=OutcomeAnswer.Track.NOT_ON_TRACK)
    )
    latest_scores = (
        Client.objects.filter(therapist=OuterRef("pk"), status=Client.Status.ACTIVE)
        .annotate(latest=latest_client_score("pk"))
        .order_by()
        .values("therapist")
        .annotate(mean=Avg("latest"))
        .values("mean")
    )
    rows = (
        User.objects.overseen_by(user)
        .annotate(
            active_clients=_count(
                Client.objects.filter(therapist=OuterRef("pk"), status=Client.Status.ACTIVE)
            ),
            sessions=_count(held),
            attended=_count(held.filter(attendance=Session.Attendance.ATTENDED)),
            client_ratings=_count(held.filter(client_score__isnull=False)),
            mean_latest=Subquery(latest_scores, output_field=FloatField()),
            not_on_track=_count(not_on_track),
            open_concerns=_count(their_concerns.needing_review()),
            stale_concerns=_count(
                their_concerns.filter(status=Concern.Status.OPEN, opened_at__lt=stale_before)
            ),
            repairs_recovered=_count(followed_up.filter(action__in=RECOVERED)),
            repairs_not_recovered=_count(followed_up.filter(action__in=NOT_RECOVERED)),
            guesses=_count(held.filter(GUESSED)),
            typical_guess_gap=Subquery(
                held.filter(GUESSED)
                .order_by()
                .values("therapist")
                .annotate(gap=_guess_gap())
                .values("gap"),
                output_field=FloatField(),
            ),
        )
        .annotate(
            response_rate=Cast(F("client_ratings"), FloatField())
            / NullIf(Cast(F("attended"), FloatField()), Value(0.0)),
            # Repairs that held, of those whose follow-up finished in the period.
            repair_follow_through=Cast(F("repairs_recovered"), FloatField())
            / NullIf(
                Cast(F("repairs_recovered") + F("repairs_not_recovered"), FloatField()),
                Value(0.0),
            ),
        )
    )
    column = SORTS.get(sort, "last_name")
    order = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
    return rows.order_by(order, "last_name", "first_name", "pk").using(replica_alias())


def therapist_rows(
    user: Any, period: Period, sort: str = "therapist", descending: bool = False
) -> list[User]:
    """`dashboard_rows` as a list, each with its guess gap (`row.guess_gap`)."""
    return _with_guess_gaps(list(dashboard_rows(user, period, sort, descending)))


def therapist_page(
    user: Any,
    period: Period,
    sort: str = "therapist",
    descending: bool = False,
    number: int = 1,
) -> Page:
    """One page of `therapist_rows`, THERAPISTS_A_PAGE rows: the same two queries for a team
    of five or five hundred — how many there are, and the page's rows (PostgreSQL works out
    the columns of those rows alone unless the order needs them)."""
    page = Paginator(dashboard_rows(user, period, sort, descending), THERAPISTS_A_PAGE)
    page = page.get_page(number)
    page.object_list = _with_guess_gaps(list(page.object_list))
    return page


def _with_guess_gaps(rows: list[User]) -> list[User]:
    for row in rows:
        row.guess_gap = reading.GuessGap(row.typical_guess_gap, row.guesses)
    return rows


def team_totals(user: Any, period: Period) -> dict[str, Any]:
    """The same columns over the whole team: one aggregate query each over its clients,
    sessions and concerns (not summed from the rows in Python: a team's response rate and
    mean are over its sessions and clients, not over its therapists)."""
    replica = replica_alias()
    team = User.objects.overseen_by(user).values("pk").using(replica)
    now = timezone.now()
    stale_before = now - dt.timedelta(days=stale_days())
    clients = Client.objects.using(replica).filter(therapist__in=team, status=Client.Status.ACTIVE)
    sessions = (
        Session.objects.current()
        .filter(
            _counted("client__"),
            therapist__in=team,
            starts_at__gte=period.start,
            starts_at__lt=period.end,
        )
        .using(replica)
    )
    concerns = Concern.objects.using(replica).filter(
        _counted("client__"), client__therapist__in=team
    )
    followed_up = Q(events__at__gte=period.start, events__at__lt=period.end)
    not_on_track = Q(track=OutcomeAnswer.Track.NOT_ON_TRACK)
    totals = {
        **clients.annotate(latest=latest_client_score("pk"), track=current_track("pk")).aggregate(
            active_clients=Count("pk"),
            mean_latest=Avg("latest"),
            not_on_track=Count("pk", filter=not_on_track),
        ),
        **sessions.aggregate(
            sessions=Count("pk"),
            attended=Count("pk", filter=Q(attendance=Session.Attendance.ATTENDED)),
            client_ratings=Count("pk", filter=Q(client_score__isnull=False)),
            # All the team's guesses together, not the mean of the therapists' gaps.
            guesses=Count("pk", filter=GUESSED),
            typical_guess_gap=_guess_gap(filter=GUESSED),
        ),
        **concerns.aggregate(
            # distinct: the join to the follow-up events repeats a concern once per event.
            open_concerns=Count("pk", filter=Q(status__in=Concern.REVIEWABLE), distinct=True),
            stale_concerns=Count(
                "pk",
                filter=Q(status=Concern.Status.OPEN, opened_at__lt=stale_before),
                distinct=True,
            ),
            repairs_recovered=Count("events", filter=followed_up & Q(events__action__in=RECOVERED)),
            repairs_not_recovered=Count(
                "events", filter=followed_up & Q(events__action__in=NOT_RECOVERED)
            ),
        ),
    }
    attended = totals["attended"]
    totals["response_rate"] = totals["client_ratings"] / attended if attended else None
    finished = totals["repairs_recovered"] + totals["repairs_not_recovered"]
    totals["repair_follow_through"] = totals["repairs_recovered"] / finished if finished else None
    totals["guess_gap"] = reading.GuessGap(totals.pop("typical_guess_gap"), totals.pop("guesses"))
    return totals


def weekly_means(
    therapist_ids: list[int], now: dt.datetime | None = None
) -> dict[int, list[Decimal]]:
    """Each therapist's weekly mean client alliance over the last 12 weeks, in one query."""
    now = now or timezone.now()
    since = now - dt.timedelta(weeks=SPARKLINE_WEEKS)
    rows = (
        Session.objects.current()
        .filter(
            _counted("client__"),
            therapist_id__in=therapist_ids,
            starts_at__gte=since,
            client_score__isnull=False,
        )
        .annotate(week=TruncWeek("starts_at"))
        .values("therapist_id", "week")
        .annotate(mean=Avg("client_score"))
        .order_by("therapist_id", "week")
        .values_list("therapist_id", "mean")
        .using(replica_alias())
    )
    series: dict[int, list[Decimal]] = defaultdict(list)
    for therapist_id, mean in rows:
        series[therapist_id].append(one_decimal(mean))
    return series


def clients_needing_attention(user: Any) -> QuerySet[Concern]:
    """The team's concerns waiting for review, one per client: most severe, then oldest."""
    return (
        Concern.objects.needing_review()
        .filter(client__therapist__in=User.objects.overseen_by(user).values("pk"))
        .select_related("client", "client__therapist")
        .annotate(rank=severity_rank())
        .order_by("rank", "opened_at", "pk")
        .using(replica_alias())[:ATTENTION_LIMIT]
    )


@dataclass
class ReviewOutcomes:
    """How concerns closed in a period were closed: resolved with a repair, or dismissed."""

    label: str
    resolved: int
    dismissed: int

    @property
    def closed(self) -> int:
        return self.resolved + self.dismissed

    @property
    def repair_share(self) -> float | None:
        return self.resolved / self.closed if self.closed else None


def _outcomes(rows: QuerySet) -> QuerySet:
    return rows.annotate(
        resolved=Count("pk", filter=Q(status=Concern.Status.RESOLVED)),
        dismissed=Count("pk", filter=Q(status=Concern.Status.DISMISSED)),
    )


def review_outcomes(user: Any, period: Period) -> dict[str, list[ReviewOutcomes]]:
    """Concerns closed in `period` on the overseen therapists' clients, by the rule that opened
    them and by therapist: the live measure of whether the alerts are worth their time."""
    replica = replica_alias()
    team = User.objects.overseen_by(user).using(replica)
    closed = (
        Concern.objects.closed()
        .filter(
            _counted("client__"),
            client__therapist__in=team.values("pk"),
            closed_at__gte=period.start,
            closed_at__lt=period.end,
        )
        .using(replica)
    )
    by_rule = _outcomes(closed.order_by().values("opening_rule")).order_by("opening_rule")
    names = {therapist.pk: str(therapist) for therapist in team}
    by_therapist = _outcomes(closed.order_by().values("client__therapist")).order_by()
    therapists = [
        ReviewOutcomes(names.get(row["client__therapist"], "—"), row["resolved"], row["dismissed"])
        for row in by_therapist
    ]
    totals = closed.aggregate(
        resolved=Count("pk", filter=Q(status=Concern.Status.RESOLVED)),
        dismissed=Count("pk", filter=Q(status=Concern.Status.DISMISSED)),
    )
    return {
        "rules": [
            ReviewOutcomes(rule_name(row["opening_rule"]), row["resolved"], row["dismissed"])
            for row in by_rule
        ],
        "therapists": sorted(therapists, key=lambda row: row.label),
        "total": [ReviewOutcomes("All concerns", totals["resolved"], totals["dismissed"])],
    }
