"""Small pieces repeated across pages: the score badge, the outcome badge and the sparkline."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from measures.models import Concern, OutcomeAnswer, Severity
from measures.scoring import SCORE_MAX, one_decimal
from reports.selectors import cutoff

register = template.Library()

SPARK_WIDTH = 100
SPARK_HEIGHT = 28
SPARK_PAD = 3


def _y(score: Decimal | float) -> float:
    usable = SPARK_HEIGHT - 2 * SPARK_PAD
    return round(SPARK_PAD + usable * (1 - float(score) / SCORE_MAX), 1)


@register.inclusion_tag("reports/includes/score_badge.html")
def score_badge(score: Decimal | None) -> dict[str, Any]:
    """The alliance score, coloured against the cut-off (and said in words, not colour alone)."""
    if score is not None:
        score = one_decimal(score)
    return {"score": score, "below": score is not None and score < cutoff(), "cutoff": cutoff()}


@register.inclusion_tag("reports/includes/outcome_badge.html")
def outcome_badge(track: str | None) -> dict[str, Any]:
    """The client's outcome status by their latest answer, in words (the colour only
    repeats them): "Not on track" stands out; "—" before any answer has been judged."""
    return {
        "label": _label(OutcomeAnswer.Track, track) if track else "",
        "not_on_track": track == OutcomeAnswer.Track.NOT_ON_TRACK,
        "answered": track is not None,
    }


@register.inclusion_tag("reports/includes/sparkline.html")
def sparkline(scores: Sequence[Decimal]) -> dict[str, Any]:
    """An inline SVG of recent client scores on a fixed 0–10 scale, with the cut-off dashed."""
    scores = list(scores)
    step = SPARK_WIDTH / max(len(scores) - 1, 1)
    points = [(round(i * step, 1), _y(score)) for i, score in enumerate(scores)]
    return {
        "scores": scores,
        "points": " ".join(f"{x},{y}" for x, y in points),
        "last": points[-1] if points else None,
        "cutoff_y": _y(cutoff()),
        "width": SPARK_WIDTH,
        "height": SPARK_HEIGHT,
        "last_below": bool(scores) and scores[-1] < cutoff(),
    }


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
