"""Small pieces repeated across pages: the score, outcome and severity badges, the
sparkline, and a client's name told apart from another of the same label. The long tables'
rows that use them are built in `table_rows`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from decimal import Decimal
from typing import Any

from django import template
from django.apps import apps
from django.conf import settings
from django.utils.formats import date_format, localize
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from measures.models import Concern, OutcomeAnswer, Severity
from measures.scoring import SCORE_MAX, one_decimal
from reports.selectors import cutoff, is_below_cutoff

register = template.Library()

SPARK_WIDTH = 100
SPARK_HEIGHT = 28
SPARK_PAD = 3
# The least of the 0–10 scale a sparkline spans: scores crowd the ceiling, so on the whole
# scale twelve weeks between 8.6 and 9.4 were a flat line; scaled to them alone, a wobble
# of a tenth would look like a cliff.
SPARK_MIN_SPAN = 1.5


def spark_range(values: Sequence[float]) -> tuple[float, float]:
    """The part of the 0–10 scale a sparkline draws: its scores and the cut-off, at least
    SPARK_MIN_SPAN tall, within the scale."""
    low, high = min(values), max(values)
    if high - low < SPARK_MIN_SPAN:
        middle = (low + high) / 2
        low, high = middle - SPARK_MIN_SPAN / 2, middle + SPARK_MIN_SPAN / 2
    if low < 0:
        low, high = 0.0, high - low
    if high > SCORE_MAX:
        low, high = low - (high - SCORE_MAX), float(SCORE_MAX)
    return low, high


def _y(score: Decimal | float, low: float, high: float) -> float:
    usable = SPARK_HEIGHT - 2 * SPARK_PAD
    return round(SPARK_PAD + usable * (high - float(score)) / (high - low), 1)


# The badges and the sparkline are built here, not by templates: a caseload or dashboard
# draws four a row, and an inclusion tag renders a template of its own each time (a
# quarter of a caseload of thirty). Their markup is what those templates drew.
NO_SCORE = mark_safe(
    '<span class="text-body-secondary">—<span class="visually-hidden"> no client rating yet'
    "</span></span>"
)
NOT_JUDGED = mark_safe(
    '<span class="text-body-secondary">—<span class="visually-hidden"> latest outcome answer '
    "not judged yet</span></span>"
)
NOT_ANSWERED = mark_safe(
    '<span class="text-body-secondary">—<span class="visually-hidden"> no outcome answer yet'
    "</span></span>"
)
NO_SPARKLINE = mark_safe('<span class="text-body-secondary small">No ratings yet</span>')


@register.simple_tag
def score_badge(score: Decimal | None) -> str:
    """The alliance score, coloured against the cut-off (and said in words, not colour alone)."""
    if score is None:
        return NO_SCORE
    score, line = one_decimal(score), cutoff()
    if is_below_cutoff(score):
        return format_html(
            '<span class="badge score-badge score-below">{}<span class="visually-hidden"> '
            "({} the cut-off of {})</span></span>",
            localize(score),
            "at or below" if settings.ALLIANCE_CUTOFF_OPERATOR == "le" else "below",
            localize(line),
        )
    return format_html('<span class="badge score-badge score-above">{}</span>', localize(score))


@register.simple_tag
def outcome_badge(track: str | None) -> str:
    """The client's outcome status by their latest answer, in words (the colour only
    repeats them): "Not on track" stands out; "—" before any answer has been judged."""
    if track is None:
        return NOT_ANSWERED
    if not track:
        return NOT_JUDGED
    label = _label(OutcomeAnswer.Track, track)
    if track == OutcomeAnswer.Track.NOT_ON_TRACK:
        return format_html('<span class="badge text-bg-danger">{}</span>', label)
    return format_html('<span class="small">{}</span>', label)


@register.simple_tag
def sparkline(scores: Sequence[Decimal]) -> str:
    """An inline SVG of recent client scores, scaled to them and the cut-off (dashed) so
    that a recent change shows (`spark_range`)."""
    scores = list(scores)
    if not scores:
        return NO_SPARKLINE
    line_at = cutoff()
    low, high = spark_range([float(score) for score in scores] + [float(line_at)])
    step = SPARK_WIDTH / max(len(scores) - 1, 1)
    points = [(round(i * step, 1), _y(score, low, high)) for i, score in enumerate(scores)]
    line = (
        '<polyline class="sparkline-line" points="{}"></polyline>'.format(
            " ".join(f"{x},{y}" for x, y in points)
        )
        if len(scores) > 1
        else ""
    )
    (last_x, last_y), cutoff_y = points[-1], _y(line_at, low, high)
    below = " is-below" if is_below_cutoff(scores[-1]) else ""
    # The scores' own text, escaped whatever a caller passes; every other value here is a
    # number made above. Plain formatting: a third of format_html's cost on thirty rows.
    listed = conditional_escape(", ".join(str(score) for score in scores))
    return mark_safe(
        f'<svg class="sparkline" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" '
        f'viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" role="img" '
        f'aria-label="Last {len(scores)} client scores: {listed}">\n'
        f'  <line class="sparkline-cutoff" x1="0" x2="{SPARK_WIDTH}" y1="{cutoff_y}" '
        f'y2="{cutoff_y}"></line>\n'
        f"  {line}\n"
        f'  <circle class="sparkline-last{below}" cx="{last_x}" cy="{last_y}" r="2.5"></circle>\n'
        "</svg>"
    )


@register.simple_tag
def signal_badge(signal: Any) -> str:
    """A signal's rule, coloured by its severity when it is in a concern and holds; outlined
    otherwise, the title saying why: it was withdrawn (its rule no longer fires there), its
    session was voided, it is context, or an alert in a stretch already reviewed.
    `signal.session` and `signal.is_context` are set by the selectors."""
    colour = "text-bg-light border"
    if signal.withdrawn_at:
        standing = "Withdrawn: its rule no longer fires at this session"
    elif signal.concern_id:
        colour = "text-bg-" + SEVERITY_COLOURS.get(signal.severity, "secondary")
        standing = "In a concern"
    elif signal.session.is_voided:
        standing = "On a voided session: kept for the record, never raised"
    elif signal.is_context:
        standing = "Context: shown, never raised on its own"
    else:
        standing = "Not raised again: the same stretch as a concern already reviewed"
    return format_html(
        '<span class="badge {} me-1" title="{}">{}</span>',
        colour,
        standing,
        signal.get_rule_display(),
    )


@register.filter
def repeated_labels(clients: Iterable[Any]) -> set[str]:
    """The labels more than one client of this list carries (`clients`: clients, or rows
    with a `client`), so `client_name` can tell them apart."""
    counts = Counter(getattr(item, "client", item).label for item in clients)
    return {label for label, count in counts.items() if count > 1}


@register.simple_tag
def client_name(client: Any, repeated: Collection[str] = ()) -> str:
    """The client's label; where the list holds another client of the same label (three
    "L.B."), what tells them apart: their external ID, else the day they were added."""
    if client.label not in repeated:
        return conditional_escape(client.label)
    if client.external_id:
        detail = format_html("Ref. {}", client.external_id)
    else:
        detail = format_html("added {}", date_format(localtime(client.created_at), "j M Y"))
    return format_html(
        '{} <span class="small text-body-secondary">({})</span>', client.label, detail
    )


SEVERITY_COLOURS = {Severity.HIGH: "danger", Severity.MEDIUM: "warning"}


@register.simple_tag
def severity_badge(severity: str, label: str) -> str:
    """A signal's or concern's severity, in words (the colour only repeats them)."""
    return format_html(
        '<span class="badge text-bg-{}">{}<span class="visually-hidden"> severity</span></span>',
        SEVERITY_COLOURS.get(severity, "secondary"),
        label,
    )


@register.filter
def dimension(rating: Any, name: str) -> int | str:
    """One dimension's score of a rating, or an empty string when there is no rating."""
    return getattr(rating, name, "") if rating else ""


@register.simple_tag
def dimension_cells(row: Any, dimensions: Sequence[tuple[str, str]]) -> str:
    """One session's cells of the dimension table, "C 9 · T 8" for each dimension: built
    here, since forty sessions of six cells through template tags cost a tenth of the
    client's page. The scores are whole numbers, so nothing needs escaping."""
    raters = [
        (letter, rating)
        for letter, rating in (("C", row.client_rating), ("T", row.therapist_rating))
        if rating
    ]
    return mark_safe(
        "".join(
            "<td>"
            + " · ".join(f"{letter} {int(getattr(rating, key))}" for letter, rating in raters)
            + "</td>"
            for key, _name in dimensions
        )
    )


@register.filter
def severity_label(value: str) -> str:
    """A stored severity ("high") as the pages say it ("High")."""
    return _label(Severity, value)


@register.filter
def concern_status_label(value: str) -> str:
    """A stored concern status ("acknowledged") as the pages say it."""
    return _label(Concern.Status, value)


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value).replace("_", " ").capitalize()


@register.filter
def percent(value: float | None) -> str:
    """A share as a whole percentage; a dash when there is nothing to divide by."""
    return "—" if value is None else f"{round(value * 100)}%"


@register.simple_tag(takes_context=True)
def sort_header(context: Any, column: str, label: str) -> str:
    """A column heading that sorts the table by it (again to reverse), with aria-sort."""
    request = context["request"]
    current, descending = context.get("sort"), context.get("descending")
    query = request.GET.copy()
    query["sort"] = column
    query.pop("dir", None)
    query.pop("page", None)  # a new order starts at its first page
    if column == current and not descending:
        query["dir"] = "desc"
    state = ""
    if column == current:
        state = ' aria-sort="descending"' if descending else ' aria-sort="ascending"'
    arrow = ("▼" if descending else "▲") if column == current else ""
    return format_html(
        '<th scope="col"{}><a href="?{}">{}</a> <span aria-hidden="true">{}</span></th>',
        mark_safe(state),
        query.urlencode(),
        label,
        arrow,
    )


# A page's route name, with its namespace or without ("two-factor-setup"): lower-case
# words joined by hyphens. A place written in words has spaces.
ROUTE_NAME = re.compile(r"(?:[a-z_]+:)?[a-z0-9]+(?:-[a-z0-9]+)*")


@register.filter
def place_words(place: str) -> str:
    """Where an audit entry's write came from, as the audit page says it: a page's route
    name ("sessions:session-log") as words ("session log"); a place already in words stays.
    The CSV keeps the stored value, for tools."""
    if not ROUTE_NAME.fullmatch(place):
        return place  # already in words ("concern page", "api")
    return place.rsplit(":", 1)[-1].replace("-", " ")


@register.filter
def actor_words(entry: Any, names: dict[int, str] | None = None) -> str:
    """Who made an audit entry, as the audit page's "Who" filter lists them: a colleague of
    the entry's clinic by the name the filter gives them (`names`: their name, their
    username if they have none, and after a name two colleagues share, their username).
    Anyone else — a superuser, someone since moved to another clinic, "system", "client
    link" — by the name the entry kept. The CSV keeps that stored username, for tools. The
    actor comes with the entries (`select_related`), so no row costs a query."""
    actor = entry.actor if entry.actor_id is not None else None
    if actor is not None and actor.clinic_id == entry.clinic_id:
        return (names or {}).get(actor.pk, str(actor))
    return entry.actor_name


@register.filter
def record_words(label: str) -> str:
    """An audit entry's kind of record ("therapy_sessions.session") by its model's name
    ("session"); a model no longer known stays as stored."""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label
