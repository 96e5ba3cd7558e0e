"""Rows for the CSV exports: the supervisor's dashboard, and one client's ratings.

The builders take querysets and yield lists of cells; `csv_lines` turns rows into
CSV text one line at a time, so a view can stream a file of any length without
holding it in memory (the Django documentation's "streaming large CSV files").

Every text cell goes through `spreadsheet_safe`: a cell that begins with = + - @
(or a tab or carriage return) is read as a formula by Excel and LibreOffice, and
a client label or a therapist's name is typed by people (OWASP "CSV injection").

The files read from the read replica when one is configured (`replica_alias()`).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from alliance.replica import replica_alias
from clients.models import Client
from measures.models import OutcomeAnswer, Rating
from measures.scoring import DIMENSIONS, alliance_score, one_decimal
from reports.dashboard import Period, stale_days
from sessions.models import Session

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def dashboard_header() -> tuple[str, ...]:
    """The dashboard CSV's columns; the stale one is named after the escalation delay."""
    return (
        "therapist",
        "active_clients",
        "clients_not_on_track",
        "sessions",
        "attended_sessions",
        "client_ratings",
        "response_rate",
        "mean_latest_alliance",
        "concerns_to_review",
        f"unacknowledged_over_{stale_days()}_days",
        "repairs_recovered",
        "repairs_not_recovered",
        "repair_follow_through",
        "typical_guess_gap",
        "guesses_compared",
        "period_start",
        "period_end",
    )


# Deliberately absent: the session's private notes, the rating's free-text comment
# and the therapist's note, and every client identifier but the label (no external
# ID, no e-mail). Free text names people — family, employers, places — and a CSV
# file travels by e-mail and USB stick, beyond the reach of the app's access rules.
# The therapist's guess of the client's score is absent too: it is feedback for the
# therapist and their supervisors ("How well I read my clients"), not part of the record.
RATINGS_HEADER = (
    "client",
    "session",
    "session_date",
    "attendance",
    "modality",
    "rater",
    *DIMENSIONS,
    "alliance_score",
    "rupture",
    "rupture_resolved",
    "submitted_at",
)
# The only columns read from the database, so nothing else can leak in by accident.
RATING_FIELDS = (
    "session__number",
    "session__starts_at",
    "session__attendance",
    "session__modality",
    "rater",
    *DIMENSIONS,
    "rupture",
    "rupture_resolved",
    "submitted_at",
)


class _Echo:
    """A file-like object whose write() hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def spreadsheet_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


# Lines sent together: one write to the client per this many rows, not one per row (an
# audit trail of 50,000 entries was 50,000 writes).
LINES_A_CHUNK = 500


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header, then the rows as CSV text, LINES_A_CHUNK lines a step."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    chunk: list[str] = []
    for row in rows:
        chunk.append(writer.writerow([spreadsheet_safe(cell) for cell in row]))
        if len(chunk) == LINES_A_CHUNK:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _iso_date(moment: dt.datetime, zone: dt.tzinfo) -> str:
    return timezone.localtime(moment, zone).date().isoformat()


def _blank_if_none(value: Any, fmt: Callable[[Any], object]) -> str:
    return "" if value is None else str(fmt(value))


def period_dates(period: Period) -> tuple[str, str]:
    """The first and last day of `period` (ISO), in the zone it was made in."""
    zone = period.start.tzinfo or timezone.get_current_timezone()
    return _iso_date(period.start, zone), period.last_day.isoformat()


def dashboard_filename(period: Period) -> str:
    start, end = period_dates(period)
    return f"alliance-dashboard-{start}-{end}.csv"


def dashboard_rows_for_csv(rows: Iterable[Any], period: Period) -> Iterator[list[Any]]:
    """One list per row of `therapist_rows()`, in its order."""
    start, end = period_dates(period)
    for row in rows:
        yield [
            row.colleague_name,
            row.active_clients,
            row.not_on_track,
            row.sessions,
            row.attended,
            row.client_ratings,
            _blank_if_none(row.response_rate, lambda rate: f"{rate:.3f}"),
            _blank_if_none(row.mean_latest, one_decimal),
            row.open_concerns,
            row.stale_concerns,
            row.repairs_recovered,
            row.repairs_not_recovered,
            _blank_if_none(row.repair_follow_through, lambda rate: f"{rate:.3f}"),
            _blank_if_none(row.guess_gap.typical, lambda gap: f"{gap:.2f}"),
            row.guess_gap.guesses,
            start,
            end,
        ]


def ratings_filename(client: Client) -> str:
    """From the label, which is user input: slugified to [a-z0-9_-], "client" if nothing is left."""
    return f"alliance-ratings-{slugify(client.label) or 'client'}.csv"


def client_ratings(client: Client) -> QuerySet:
    """Both raters' ratings of `client`'s sessions in session order, as dicts of RATING_FIELDS;
    a voided session's ratings stay out.

    `client` must come from a `visible_to(user)` look-up.
    """
    return (
        Rating.objects.of_current_sessions()
        .filter(session__client=client)
        .order_by("session__starts_at", "session__number", "rater")
        .values(*RATING_FIELDS)
        .using(replica_alias())
    )


OUTCOMES_HEADER = (
    "client",
    "session",
    "session_date",
    "instrument",
    "answers",
    "score",
    "track",
    "expected",
    "lowest_on_track",
    "submitted_at",
)


def outcomes_filename(client: Client) -> str:
    return f"alliance-outcomes-{slugify(client.label) or 'client'}.csv"


def client_outcome_rows(client: Client, zone: dt.tzinfo) -> Iterator[list[Any]]:
    """One list per outcome answer of `client` in session order, voided sessions left out:
    one query. The item answers in the instrument's order, separated by ";" (instruments
    differ in length); the track as the pages say it.

    `client` must come from a `visible_to(user)` look-up.
    """
    answers = (
        OutcomeAnswer.objects.of_current_sessions()
        .filter(session__client=client)
        .order_by("session__starts_at", "session__number")
        .values_list(
            "session__number",
            "session__starts_at",
            "instrument__name",
            "answers",
            "score",
            "track",
            "expected",
            "lowest_on_track",
            "submitted_at",
        )
        .using(replica_alias())
    )
    tracks = _words_for(OutcomeAnswer.Track)
    # One client's answers are a few hundred rows at most: fetched at once, as a server-side
    # cursor's three round trips cost more than the rows.
    for number, starts_at, name, given, score, track, expected, lowest, at in answers:
        yield [
            client.label,
            number,
            _iso_date(starts_at, zone),
            name,
            ";".join(str(value) for value in given),
            _plain(score),
            tracks[track],
            "" if expected is None else _plain(expected),
            "" if lowest is None else _plain(lowest),
            timezone.localtime(at, zone).isoformat(timespec="seconds"),
        ]


def _plain(number: Decimal) -> int | float:
    """A stored decimal as a spreadsheet reads it: no trailing zeros (6.5, 10), and never
    in exponent form (`Decimal("10.00").normalize()` is 1E+1). A number, not text: text
    starting "-" (an instrument's score below zero) would be taken for a formula and
    written behind an apostrophe (`spreadsheet_safe`). Two places print exactly as a float."""
    return int(number) if number == number.to_integral_value() else float(number)


def _words_for(choices: Any) -> dict[str, str]:
    """Every stored choice of `choices` as people read it ("a_lot" → "A lot"), blank as
    blank: looked up once a file, not once a cell."""
    return {"": "", **{value: str(label) for value, label in choices.choices}}


def client_rating_rows(client: Client, zone: dt.tzinfo) -> Iterator[list[Any]]:
    """One list per rating of `client`, read with one query; dates in `zone`. Choices are
    written as the pages say them, never as stored codes."""
    attendance, modality = _words_for(Session.Attendance), _words_for(Session.Modality)
    rater, rupture = _words_for(Rating.Rater), _words_for(Rating.Rupture)
    resolved = _words_for(Rating.RuptureResolved)
    for rating in client_ratings(client):  # fetched at once, as the outcome answers are
        yield [
            client.label,
            rating["session__number"],
            _iso_date(rating["session__starts_at"], zone),
            attendance[rating["session__attendance"]],
            modality[rating["session__modality"]],
            rater[rating["rater"]],
            *(rating[name] for name in DIMENSIONS),
            # In Python from the six dimensions just read, as the pages' alliance_score:
            # the SQL expression cost more to build than the file's rows to write.
            alliance_score(rating[name] for name in DIMENSIONS),
            rupture[rating["rupture"]],
            resolved[rating["rupture_resolved"]],
            timezone.localtime(rating["submitted_at"], zone).isoformat(timespec="seconds"),
        ]
