"""The long tables' rows, built in Python: the caseload, the client page's sessions and
the supervisor's dashboard. Thirty to fifty rows of template tags, includes and filters
were a third to a half of these pages' time; each row here is the markup those templates
drew, with `format_html` escaping whatever staff typed (names, labels, references)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Iterable
from typing import Any

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django.utils.translation import get_language

from measures.models import OutcomeAnswer
from reports.templatetags.alliance import (
    client_name,
    concern_status_label,
    outcome_badge,
    percent,
    repeated_labels,
    score_badge,
    severity_badge,
    severity_label,
    signal_badge,
    sparkline,
)

register = template.Library()

_STAND_IN_ID = 918_273_645_546_372_819  # a number no address holds otherwise


def pk_addresses(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for a list of records at the cost of one reverse: the
    address is made once around a stand-in id, and each row puts its own id in its place
    (thirty rows of two `{% url %}` each cost a caseload 0.9 ms)."""
    head, tail = reverse(name, args=[_STAND_IN_ID]).split(str(_STAND_IN_ID))
    return lambda pk: f"{head}{int(pk)}{tail}"


@functools.cache
def _date_words(language: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The months' and weekdays' short names in `language`, as Django's date formats write
    them ("M" and "D"): translated once a language, not once a cell."""
    months = tuple(str(MONTHS_3[number]).title() for number in range(1, 13))
    weekdays = tuple(str(WEEKDAYS_ABBR[number]) for number in range(7))
    return months, weekdays


def day_month_year(moment: dt.datetime) -> str:
    """`moment` as the date format "j M Y" writes it ("3 Dec 2026"). Django's formatter
    parses its format on every call: with the conversion to local time, 17 µs a date
    against 5 here."""
    months, _ = _date_words(get_language())
    return f"{moment.day} {months[moment.month - 1]} {moment.year:04d}"


def weekday_date_time(moment: dt.datetime) -> str:
    """`moment` as "D j M Y, H:i" writes it ("Thu 3 Dec 2026, 14:05"): 31 µs a date
    through Django's formatter, a millisecond for a client page of forty sessions."""
    _, weekdays = _date_words(get_language())
    return (
        f"{weekdays[moment.weekday()]} {day_month_year(moment)}, "
        f"{moment.hour:02d}:{moment.minute:02d}"
    )


NO_SESSION_YET = mark_safe('<span class="text-body-secondary">None yet</span>')
NO_CONCERN = mark_safe(
    '<span class="text-body-secondary">—<span class="visually-hidden">none</span></span>'
)
SPANISH = mark_safe(' <span class="badge text-bg-light border" title="Español">ES</span>')


@register.simple_tag
def caseload_rows(clients: Iterable[Any], shows_therapist: bool = False) -> str:
    """The caseload table's rows: each client's name, therapist (for those who see more
    than their own caseload), latest score, outcome, sparkline, last session and concern.

    Built here, not by the template: thirty rows of template tags were a third of the
    caseload page's time (5 of its 16 ms), these rows a fifth of that."""
    clients = list(clients)
    repeated = repeated_labels(clients)
    client_address = pk_addresses("reports:client-detail")
    concern_address = pk_addresses("measures:concern-detail")
    return format_html_join(
        "\n",
        "{}",
        (
            (_caseload_row(client, repeated, shows_therapist, client_address, concern_address),)
            for client in clients
        ),
    )


def _caseload_row(
    client: Any,
    repeated: Collection[str],
    shows_therapist: bool,
    client_address: Callable[[int], str],
    concern_address: Callable[[int], str],
) -> str:
    return format_html(
        '<tr>\n  <th scope="row"><a href="{}">{}</a>{}</th>\n  {}<td>{}</td>\n'
        "  <td>{}</td>\n  <td>{}</td>\n  <td>{}</td>\n  <td>{}</td>\n</tr>",
        client_address(client.pk),
        client_name(client, repeated),
        SPANISH if client.language == "es" else "",
        format_html("<td>{}</td>\n  ", client.therapist) if shows_therapist else "",
        score_badge(client.latest_score),
        outcome_badge(client.outcome_track),
        sparkline(client.sparkline),
        _last_session(client.last_session_at),
        _open_concern(client, concern_address) if client.concern_id else NO_CONCERN,
    )


def _last_session(moment: dt.datetime | None) -> str:
    if moment is None:
        return NO_SESSION_YET
    moment = localtime(moment)
    return format_html('<time datetime="{}">{}</time>', moment.isoformat(), day_month_year(moment))


def _open_concern(client: Any, concern_address: Callable[[int], str]) -> str:
    return format_html(
        '<a class="text-decoration-none" href="{}">{}<span class="small ms-1">{}</span></a>',
        concern_address(client.concern_id),
        severity_badge(client.concern_severity, severity_label(client.concern_severity)),
        concern_status_label(client.concern_status),
    )


NOT_RATED = mark_safe('<span class="text-body-secondary">Not rated</span>')
REPAIR = mark_safe(
    '<span class="badge text-bg-success me-1" title="A rupture reported as fully talked '
    'through">Repair</span>'
)
NOT_ON_TRACK = mark_safe(' <span class="badge text-bg-danger">Not on track</span>')


@register.simple_tag
def session_rows(history: Any) -> str:
    """The client page's sessions table, a row a session: its number and date (each a
    link to it), attendance, modality, both raters' scores, the outcome answer when the
    client has any, and its signals. Built here, as the caseload's rows are: forty rows of
    template tags and an include a signal cost the page a fifth of its time."""
    session_address = pk_addresses("reports:session-detail")
    places = history.outcome.instrument.decimal_places if history.outcome.answers else None
    return format_html_join(
        "\n",
        "{}",
        ((_session_row(row, session_address, places),) for row in history.sessions),
    )


def _session_row(row: Any, session_address: Callable[[int], str], places: int | None) -> str:
    session = row.session
    address = session_address(session.pk)
    if row.client_rating:
        client_score = score_badge(row.client_rating.alliance_score)
    else:
        client_score = NOT_RATED if session.was_attended else ""
    therapist = row.therapist_rating
    outcome = ""
    if places is not None:
        outcome = format_html("<td>{}</td>", _outcome_cell(row.outcome, places))
    signals = format_html_join("", "{}", ((signal_badge(signal),) for signal in row.flags))
    return format_html(
        '<tr>\n  <th scope="row"><a href="{}">{}</a></th>\n  <td><a href="{}">{}</a></td>\n'
        "  <td>{}</td>\n  <td>{}</td>\n  <td>{}</td>\n  <td>{}</td>\n  {}<td>{}{}</td>\n</tr>",
        address,
        session.number,
        address,
        weekday_date_time(localtime(session.starts_at)),
        session.get_attendance_display(),
        session.get_modality_display(),
        client_score,
        localize(therapist.alliance_score) if therapist else "",
        outcome,
        signals,
        REPAIR if row.repaired else "",
    )


def _outcome_cell(answer: Any, places: int) -> str:
    if answer is None:
        return ""
    return format_html(
        "{}{}",
        floatformat(answer.score, places),
        NOT_ON_TRACK if answer.track == OutcomeAnswer.Track.NOT_ON_TRACK else "",
    )


NO_GUESSES = mark_safe(
    '<span class="text-body-secondary">—<span class="visually-hidden"> no guesses in this period'
    "</span></span>"
)


@register.simple_tag
def therapist_rows(rows: Iterable[Any]) -> str:
    """The dashboard's rows, one a therapist (`reports.dashboard.TeamNumbers.page`, each with
    its `sparkline`): their caseload, sessions, response rate, latest alliance, concerns,
    repairs, guesses and weekly alliance. Fifty rows through template tags and an include
    a row were a fifth of the dashboard's time."""
    caseload_address = pk_addresses("reports:therapist-caseload")
    reading_address = pk_addresses("reports:therapist-reading")
    return format_html_join(
        "\n",
        "{}",
        ((_therapist_row(row, caseload_address, reading_address),) for row in rows),
    )


def _therapist_row(
    row: Any, caseload_address: Callable[[int], str], reading_address: Callable[[int], str]
) -> str:
    repairs = row.repairs_recovered + row.repairs_not_recovered
    return format_html(
        '<tr>\n  <th scope="row"><a href="{}">{}</a></th>\n  <td>{}</td>\n  <td>{}</td>\n'
        "  <td>{}</td>\n  <td>{}</td>\n  <td>{}</td>\n  <td>{}</td>\n  <td>{}</td>\n"
        "  <td>{}{}</td>\n  <td>{}</td>\n  <td>{}</td>\n</tr>",
        caseload_address(row.pk),
        row.colleague_name,
        localize(row.active_clients),
        _count_badge(row.not_on_track, "danger"),
        localize(row.sessions),
        percent(row.response_rate),
        score_badge(row.mean_latest),
        _count_badge(row.open_concerns, "danger"),
        _count_badge(row.stale_concerns, "warning"),
        percent(row.repair_follow_through),
        format_html(
            ' <span class="small text-body-secondary">({} of {})</span>',
            localize(row.repairs_recovered),
            localize(repairs),
        )
        if repairs
        else "",
        _guesses(row, reading_address),
        sparkline(row.sparkline),
    )


def _count_badge(count: int, colour: str) -> str:
    """A count that asks for attention: a pill when there are any, else a plain 0."""
    if not count:
        return "0"
    return format_html(
        '<span class="badge rounded-pill text-bg-{}">{}</span>', colour, localize(count)
    )


@register.simple_tag(name="guess_gap")
def guess_gap_text(gap: Any) -> str:
    """A typical guess gap in points (`reports.reading.GuessGap`), or a dash without guesses."""
    if gap.typical is None:
        return NO_GUESSES
    return format_html(
        '{}<span class="visually-hidden"> points</span>', floatformat(gap.typical, 1)
    )


def _guesses(row: Any, reading_address: Callable[[int], str]) -> str:
    """The therapist's typical guess gap, a link to how well they read their clients when
    they made any guesses in the period."""
    gap = row.guess_gap
    if not gap.guesses:
        return guess_gap_text(gap)
    return format_html(
        '<a href="{}">{}<span class="visually-hidden">: how well {} reads their clients</span>'
        '</a> <span class="small text-body-secondary">({} guess{})</span>',
        reading_address(row.pk),
        guess_gap_text(gap),
        row,
        gap.guesses,
        "" if gap.guesses == 1 else "es",
    )
