"""Reads for the supervisor's dashboard: one row per therapist, the team's totals,
the clients needing attention, weekly sparklines, and how concerns were closed.

Every count is made in SQL, grouped by therapist, one query a table: the team's active
clients (their latest scores and outcomes), its sessions in the period (the typical guess
gap's distances among them: the reading page's number, `measures.guesses`), its concerns
and its repairs' follow-ups (`team_numbers`). The rows' shares and means, and the team's
totals, are worked out from those counts, and the rows sorted and paged in Python: the
totals need every therapist's counts anyway, and one grouped pass over a table cost the
dashboard half what a correlated subquery per column and row did (185 → 99 ms at the
large scale). With the sparklines' grouped query, the page costs the same handful of
queries for two therapists or five hundred. The client's scores and the therapist's
guesses are read from the sessions, where each rating copies them (Session.client_score),
not looked up in the ratings session by session.

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
    BigIntegerField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Abs, Coalesce, TruncWeek
from django.utils import timezone

from alliance.replica import one_snapshot, replica_alias
from clients.colleagues import name_colleagues
from clients.models import Client, User
from measures.evidence import rule_name
from measures.models import (
    Concern,
    ConcernEvent,
    OutcomeAnswer,
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
# Not out of the concerns waiting for review (`_concern_numbers`): those are work to do.
def _counted(path: str) -> Q:
    return Q(**{f"{path}excluded_from_statistics": False})


# The sessions the typical guess gap is over: attended, with the client's score and the
# therapist's guess — those the reading page compares (`reports.reading.compared_sessions`).
GUESSED = Q(
    attendance=Session.Attendance.ATTENDED,
    client_score__isnull=False,
    guessed_client_score__isnull=False,
    # Of clients still with the therapist who guessed: a moved client's sessions leave the
    # therapist's reading page (they no longer see the client), and so this number too,
    # which is that page's (a test holds the two equal, a client moved or not).
    client__therapist=F("therapist"),
)


def _guess_distance() -> ExpressionWrapper:
    """How far a session's guess was from the client's score, in points."""
    difference = ExpressionWrapper(
        F("guessed_client_score") - F("client_score"),
        output_field=DecimalField(max_digits=4, decimal_places=1),
    )
    return Abs(difference)


def caseload_numbers(team: list[int]) -> QuerySet:
    """Per therapist of `team` (their ids), their active clients: how many,
    the total and count of their latest client scores (for a mean over clients, a row's or
    the team's), and how many are not on track by their latest outcome answer.

    The scores and tracks are the clients' copies, as detection last evaluated them
    (`Client.evaluated_score`): seconds behind a rating, within the catch-up's interval of a
    voided or re-dated session. Worked out here instead, they searched every active
    client's sessions twice: 0.35 s of the huge scale's dashboard, against 10 ms."""
    return (
        Client.objects.filter(therapist__in=team, status=Client.Status.ACTIVE)
        .values("therapist")
        .annotate(
            active_clients=Count("pk"),
            latest_total=Sum("evaluated_score"),
            latest_count=Count("evaluated_score"),
            not_on_track=Count("pk", filter=Q(evaluated_track=OutcomeAnswer.Track.NOT_ON_TRACK)),
        )
        .order_by()
    )


# A session counts for the therapist who held it, in the clinic of its client: a colleague a
# superuser moved to another clinic brings no numbers of the one they left (whose clients
# nobody here may see) to the new one's dashboard.
HELD_HERE = Q(client__clinic=F("therapist__clinic"))


def _session_numbers(team: list[int], period: Period) -> QuerySet:
    """Per therapist, the sessions they held in the period: how many, attended, with the
    client's rating, and with a guess beside it (and the guesses' total distance)."""
    return (
        Session.objects.current()
        .filter(
            _counted("client__"),
            HELD_HERE,
            therapist__in=team,
            starts_at__gte=period.start,
            starts_at__lt=period.end,
        )
        .values("therapist")
        .annotate(
            sessions=Count("pk"),
            attended=Count("pk", filter=Q(attendance=Session.Attendance.ATTENDED)),
            # Of attended sessions, as the rate divides by them: a session rated, then
            # corrected to a no-show, had counted here and not there (over 100 %).
            client_ratings=Count(
                "pk", filter=Q(client_score__isnull=False, attendance=Session.Attendance.ATTENDED)
            ),
            guesses=Count("pk", filter=GUESSED),
            guess_gap_total=Sum(_guess_distance(), filter=GUESSED),
        )
        .order_by()
    )


# A concern counts as unacknowledged too long only as escalation chases it
# (`measures.notifications`): of a client still in therapy. A discharged or erased client's
# has no next session to repair the alliance in; it still waits for review.
STALE = Q(client__status=Client.Status.ACTIVE)


def _concern_numbers(team: list[int], stale_before: dt.datetime) -> QuerySet:
    """Per therapist, their clients' concerns waiting for review now, and those of them left
    unacknowledged since before `stale_before` as escalation counts them (`STALE`): those of
    the review queue and of `clients_needing_attention`. An erased client's count among
    those waiting, whatever the clinic keeps of their numbers: a concern still open at the
    erasure waits for the therapist to dismiss it (`measures.review`), work still to do
    rather than a statistic of the client's scores and dates."""
    return (
        Concern.objects.needing_review()
        .filter(client__therapist__in=team)
        .values(therapist=F("client__therapist"))
        .annotate(
            open_concerns=Count("pk"),
            stale_concerns=Count("pk", filter=STALE & Concern.left_unacknowledged(stale_before)),
        )
        .order_by()
    )


def _repairer() -> Coalesce:
    """Who made the repair a follow-up step judged: whoever resolved its concern in the
    last "resolved" step recorded before it. Not the concern's `closed_by`, which a
    re-opening clears and the next closing rewrites (a repair that did not hold would count
    for whoever closed the concern again); not the client's therapist, who may have taken
    the client over since. A concern resolved with no step of it kept counts for the
    client's therapist."""
    resolved = (
        ConcernEvent.objects.filter(
            concern=OuterRef("concern"), action=ConcernEvent.Action.RESOLVED, pk__lt=OuterRef("pk")
        )
        .order_by("-pk")
        .values("actor")[:1]
    )
    return Coalesce(
        Subquery(resolved), "concern__client__therapist", output_field=BigIntegerField()
    )


def _follow_up_numbers(team: list[int], period: Period) -> QuerySet:
    """Per therapist, the repairs they made whose follow-up finished in the period:
    recovered, or not. A repair counts for the therapist who made it, as the review does
    (`review_outcomes`): a client moved on afterwards leaves it with them. Only repairs of
    the team's clinic's clients: a colleague moved to another clinic brings none of the one
    they left."""
    return (
        ConcernEvent.objects.alias(repairer=_repairer())
        .filter(
            _counted("concern__client__"),
            repairer__in=team,
            concern__client__clinic__in=User.objects.filter(pk__in=team).values("clinic"),
            at__gte=period.start,
            at__lt=period.end,
            action__in=RECOVERED + NOT_RECOVERED,
        )
        .values(therapist=F("repairer"))
        .annotate(
            repairs_recovered=Count("pk", filter=Q(action__in=RECOVERED)),
            repairs_not_recovered=Count("pk", filter=Q(action__in=NOT_RECOVERED)),
        )
        .order_by()
    )


# Every number a row holds, and what it is without any row to count (no client, session,
# concern or follow-up of that therapist's).
COUNTED = {
    "active_clients": 0,
    "latest_total": None,
    "latest_count": 0,
    "not_on_track": 0,
    "sessions": 0,
    "attended": 0,
    "client_ratings": 0,
    "guesses": 0,
    "guess_gap_total": None,
    "open_concerns": 0,
    "stale_concerns": 0,
    "repairs_recovered": 0,
    "repairs_not_recovered": 0,
}


@dataclass
class TeamNumbers:
    """Every overseen therapist with the dashboard's columns (`rows`, in name order), and
    the team's totals worked out from the same counts."""

    rows: list[User]
    totals: dict[str, Any]

    def sorted_rows(self, sort: str = "therapist", descending: bool = False) -> list[User]:
        """The rows by a column (SORTS), either way, those without a value last; ties by
        name. The therapist column is the name order itself, reversed whole when descending
        (first names too: Bob Smith before Ann Smith), as selecting its heading again
        promises."""
        if sort not in SORTS or sort == "therapist":
            # `name_order` is the database's (its collation's) order of the names; a Python
            # sort of the strings would put "de Vries" elsewhere.
            return sorted(self.rows, key=lambda row: row.name_order, reverse=descending)
        column = SORTS[sort]

        def by_column(row: User) -> tuple[Any, ...]:
            value = getattr(row, column)
            if value is None:
                return (True, 0, row.name_order)
            return (False, -value if descending else value, row.name_order)

        return sorted(self.rows, key=by_column)

    def page(self, sort: str = "therapist", descending: bool = False, number: int = 1) -> Page:
        """One page of the sorted rows, THERAPISTS_A_PAGE of them."""
        return Paginator(self.sorted_rows(sort, descending), THERAPISTS_A_PAGE).get_page(number)


def overseen_team(user: Any) -> list[User]:
    """The therapists `user` oversees, by surname (each with its `colleague_name`), read on
    the primary: who may be seen is
    decided where access is changed, not on a replica that may lag (a supervision just
    ended would go on showing that caseload's clients for as long as it lags). The counts
    beside them may come from the replica, for the ids read here."""
    team = list(User.objects.overseen_by(user).order_by("last_name", "first_name", "pk"))
    # Named as every list of staff names them: two of one name, with their usernames.
    name_colleagues(team)
    return team


def team_numbers(user: Any, period: Period) -> TeamNumbers:
    """The dashboard's numbers for the therapists `user` oversees, over `period`: the
    therapists, then each table's counts grouped by therapist — five queries for a team of
    two or five hundred. The totals are summed from the same counts (a team's response
    rate and mean are over its sessions and clients, not the mean of its therapists')."""
    replica = replica_alias()
    therapists = overseen_team(user)
    ids = [therapist.pk for therapist in therapists]
    stale_before = timezone.now() - dt.timedelta(days=stale_days())
    counts: dict[int, dict[str, Any]] = defaultdict(dict)
    # One moment for all four: a rating, session or client landing between two counts
    # would otherwise be in one and not the next (its session counted as answered while
    # its score is not yet in the mean), mixing two moments in one row and its totals.
    with one_snapshot(replica):
        for grouped in (
            caseload_numbers(ids),
            _session_numbers(ids, period),
            _concern_numbers(ids, stale_before),
            _follow_up_numbers(ids, period),
        ):
            for row in grouped.using(replica):
                counts[row.pop("therapist")].update(row)
    for position, therapist in enumerate(therapists):
        therapist.name_order = position
        _fill(therapist, {**COUNTED, **counts.get(therapist.pk, {})})
    return TeamNumbers(therapists, _totals(therapists))


def _fill(row: Any, counts: dict[str, Any]) -> None:
    """Set a row's counts, and the shares and means worked out from them."""
    for name, value in counts.items():
        setattr(row, name, value)
    row.mean_latest = _share(row.latest_total, row.latest_count)
    row.response_rate = _share(row.client_ratings, row.attended)
    row.repair_follow_through = _share(
        row.repairs_recovered, row.repairs_recovered + row.repairs_not_recovered
    )
    row.typical_guess_gap = _share(row.guess_gap_total, row.guesses)
    row.guess_gap = reading.GuessGap(row.typical_guess_gap, row.guesses)


def _share(part: Decimal | int | None, whole: int) -> float | None:
    """part / whole, None when there is nothing to divide by (a dash on the page)."""
    if part is None or not whole:
        return None
    return float(Decimal(part) / whole)


def _totals(rows: list[Any]) -> dict[str, Any]:
    """The team's totals: each count summed over its therapists, the shares and means
    worked out from the sums."""
    totals = {name: sum(getattr(row, name) or 0 for row in rows) for name in COUNTED}
    latest_total, latest_count = totals.pop("latest_total"), totals.pop("latest_count")
    guess_gap_total, guesses = totals.pop("guess_gap_total"), totals.pop("guesses")
    attended, recovered = totals["attended"], totals["repairs_recovered"]
    finished = recovered + totals["repairs_not_recovered"]
    return {
        **totals,
        "mean_latest": Decimal(latest_total) / latest_count if latest_count else None,
        "response_rate": totals["client_ratings"] / attended if attended else None,
        "repair_follow_through": recovered / finished if finished else None,
        "guess_gap": reading.GuessGap(_share(guess_gap_total, guesses), guesses),
    }


def therapist_rows(
    user: Any, period: Period, sort: str = "therapist", descending: bool = False
) -> list[User]:
    """Every overseen therapist's row, sorted (the CSV's rows)."""
    return team_numbers(user, period).sorted_rows(sort, descending)


def team_totals(user: Any, period: Period) -> dict[str, Any]:
    """The team's totals alone."""
    return team_numbers(user, period).totals


def weekly_means(
    therapist_ids: list[int], now: dt.datetime | None = None
) -> dict[int, list[Decimal]]:
    """Each therapist's weekly mean client alliance over the last 12 weeks, this one
    included, in one query: from the Monday (local time) 11 weeks before this week's, as
    the weeks are grouped. (Twelve weeks back from now began mid-week: a 13th point, of a
    part of a week.)"""
    local = timezone.localtime(now or timezone.now())
    monday = (local - dt.timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    since = monday - dt.timedelta(weeks=SPARKLINE_WEEKS - 1)
    rows = (
        Session.objects.current()
        .filter(
            _counted("client__"),
            HELD_HERE,
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


@dataclass
class DashboardPage:
    """What the dashboard page shows: the team's numbers, a page of its rows (each with
    its `sparkline`), and the clients needing attention."""

    numbers: TeamNumbers
    page: Page
    attention: list[Concern]
    more_waiting: bool


def dashboard_page(
    user: Any, period: Period, sort: str = "therapist", descending: bool = False, number: int = 1
) -> DashboardPage:
    """The dashboard as shown, every read in the counts' one snapshot (`team_numbers`'s):
    a rating or concern landing while the page is read is in all of it or none. Read after
    the counts, the list of clients needing attention showed a concern "Concerns to review"
    did not count, and a sparkline a rating the mean left out. The same queries: the
    snapshot only lasts two more."""
    with one_snapshot(replica_alias()):
        numbers = team_numbers(user, period)
        page = numbers.page(sort, descending, number)
        lines = weekly_means([row.pk for row in page.object_list])
        attention, more_waiting = clients_needing_attention([row.pk for row in numbers.rows])
    for row in page.object_list:
        row.sparkline = lines.get(row.pk, [])
    names = {row.pk: row.colleague_name for row in numbers.rows}
    for concern in attention:
        therapist = concern.client.therapist
        therapist.colleague_name = names.get(therapist.pk, str(therapist))
    return DashboardPage(numbers, page, attention, more_waiting)


def clients_needing_attention(therapist_ids: list[int]) -> tuple[list[Concern], bool]:
    """The first ATTENTION_LIMIT concerns waiting for review on these therapists' clients (a
    team, read by `overseen_team`), one per client: most severe, then oldest; and whether
    more are waiting past them (read in the same query, one row more), which the page says:
    a list cut short without a word passed for the team's every concern."""
    concerns = list(
        Concern.objects.needing_review()
        .filter(client__therapist__in=therapist_ids)
        .select_related("client", "client__therapist")
        .annotate(rank=severity_rank())
        .order_by("rank", "opened_at", "pk")
        .using(replica_alias())[: ATTENTION_LIMIT + 1]
    )
    return concerns[:ATTENTION_LIMIT], len(concerns) > ATTENTION_LIMIT


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


# Who reviewed a closed concern (`review_outcomes`).
REVIEWER = Coalesce("closed_by", "client__therapist")


def review_outcomes(user: Any, period: Period) -> dict[str, list[ReviewOutcomes]]:
    """Concerns reviewed (`ConcernQuerySet.reviewed`) in `period` by the overseen
    therapists, by the rule that opened them and by therapist: the live measure of whether
    the alerts are worth their time.

    A review counts for whoever closed it, as a session counts for whoever held it: a
    client moved on afterwards takes their concerns' history along, not the review, which
    stays the work of the therapist who did it (and of their supervisor's team). A concern
    closed before Alliance kept who closed it counts for the client's therapist."""
    replica = replica_alias()
    team = overseen_team(user)
    closed = (
        Concern.objects.reviewed()
        .alias(reviewer=REVIEWER)
        .filter(
            _counted("client__"),
            reviewer__in=[therapist.pk for therapist in team],
            # The team's clinic only: a colleague moved to another clinic brings no count
            # of the one they left (whose clients this user cannot see).
            client__clinic__in={therapist.clinic_id for therapist in team},
            closed_at__gte=period.start,
            closed_at__lt=period.end,
        )
        .using(replica)
    )
    # One moment for the three tables, as for the dashboard's counts (`team_numbers`): a
    # concern closed between two of them would be in one and not the next, the total
    # beneath rules that do not add up to it.
    with one_snapshot(replica):
        by_rule = list(_outcomes(closed.order_by().values("opening_rule")).order_by("opening_rule"))
        by_therapist = list(_outcomes(closed.order_by().values(reviewer=REVIEWER)).order_by())
        totals = closed.aggregate(
            resolved=Count("pk", filter=Q(status=Concern.Status.RESOLVED)),
            dismissed=Count("pk", filter=Q(status=Concern.Status.DISMISSED)),
        )
    # In the team's order (surname, first name, in the database's collation), as every
    # other list of staff; every reviewer counted is one of the team (the filter above).
    counted = {row["reviewer"]: row for row in by_therapist}
    therapists = [
        ReviewOutcomes(therapist.colleague_name, row["resolved"], row["dismissed"])
        for therapist in team
        if (row := counted.get(therapist.pk)) is not None
    ]
    return {
        "rules": [
            ReviewOutcomes(rule_name(row["opening_rule"]), row["resolved"], row["dismissed"])
            for row in by_rule
        ],
        "therapists": therapists,
        "total": [ReviewOutcomes("All concerns", totals["resolved"], totals["dismissed"])],
    }
