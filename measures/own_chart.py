"""The client's own chart: their alliance and their outcome over time, in plain words.

It is drawn for the client's eyes: on "Review with client" (reports), and on their link
after they answer when their therapist has turned it on (measures.views.client_rating).
So it holds the client's own answers and nothing clinical: no therapist's rating, no
cut-off, signal, concern or note, no expected course and no "on track" judgement.

Words are translated where it is called, under the client's language. One query at any
length of history (the client's sessions with both scores annotated), and one more for
the instrument when they have answered it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case, F, OuterRef, Q, Subquery, When
from django.utils import formats, timezone
from django.utils.translation import gettext

from clients.models import Client
from measures.models import Instrument, Rating
from sessions.models import Session

ALLIANCE_RANGE = (0, 10)


def _number(value: float) -> int | float:
    """An end of a range as a person writes it: 10, not 10.0."""
    return int(value) if float(value).is_integer() else value


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _step(low: float, high: float) -> int:
    """About five steps on the axis: 2 on a 0–10 scale."""
    return max(1, round((high - low) / 5))


def _sessions(client: Client) -> list[Session]:
    """The client's current sessions with a score of theirs, oldest first, each annotated
    with the client's alliance score and their answer to the clinic's current instrument
    (an answer to an earlier instrument is on another scale: left out)."""
    alliance = (
        Rating.objects.by_client()
        .filter(session=OuterRef("pk"))
        .with_alliance_score()
        .values("score")[:1]
    )
    current = Instrument.objects.current_for(client.clinic_id).values("pk")[:1]
    answered_now = Q(outcome__instrument_id=Subquery(current))
    return list(
        Session.objects.current()
        .filter(client=client)
        .annotate(
            alliance_score=Subquery(alliance),
            outcome_score=Case(When(answered_now, then=F("outcome__score"))),
            outcome_instrument_id=Case(When(answered_now, then=F("outcome__instrument_id"))),
        )
        .filter(Q(alliance_score__isnull=False) | Q(outcome_score__isnull=False))
        .order_by("starts_at", "number")
        .only("number", "starts_at")
    )


def _last(values: list[float | None]) -> float | None:
    return next((value for value in reversed(values) if value is not None), None)


def _series(
    key: str, label: str, values: list[float | None], *, low: float, high: float, better: bool
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "values": values,
        "min": _number(low),
        "max": _number(high),
        "higher_is_better": better,
        "last": _last(values),
    }


def _axis_title(series: dict[str, Any], shared: bool) -> str:
    ends = {"low": series["min"], "high": series["max"]}
    if shared:
        return gettext("Your answers, from %(low)s to %(high)s: higher is better") % ends
    if series["key"] == "alliance":
        return gettext("Your rating, from 0 to 10")
    if series["higher_is_better"]:
        return gettext("How life has been going, from %(low)s to %(high)s: higher is better") % ends
    return gettext("How life has been going, from %(low)s to %(high)s: lower is better") % ends


def _axes(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One axis per range and direction: a second measure on another scale, or read the
    other way round, gets its own axis on the right, never squeezed onto 0–10."""
    axes: list[dict[str, Any]] = []
    for one in series:
        scale = (one["min"], one["max"], one["higher_is_better"])
        axis = next((axis for axis in axes if axis["scale"] == scale), None)
        if axis is None:
            axis = {
                "id": "y" if not axes else "y2",
                "position": "left" if not axes else "right",
                "scale": scale,
                "min": one["min"],
                "max": one["max"],
                "step": _step(one["min"], one["max"]),
                "members": [],
            }
            axes.append(axis)
        axis["members"].append(one)
        one["axis"] = axis["id"]
    for axis in axes:
        members = axis.pop("members")
        axis.pop("scale")
        axis["title"] = _axis_title(members[0], shared=len(members) > 1)
    return axes


def client_own_chart(client: Client) -> dict[str, Any]:
    """The client's alliance and outcome by session, for the chart and its words.

    Returns `chart_data` (for json_script: session labels and dates, one series per
    measure the client has answered, on the same sessions, with a null where a session
    has only the other; and the axes to draw them on), with `alliance` and `outcome`, the
    series the page speaks of (or None), or `chart_data` None when there is nothing yet.
    """
    sessions = _sessions(client)
    alliance = [_float(session.alliance_score) for session in sessions]
    outcome = [_float(session.outcome_score) for session in sessions]
    # The instrument, by its key, only when the client has answered it: its range,
    # direction and scoring say how the line is drawn and read.
    answered = [session.outcome_instrument_id for session in sessions]
    instrument_id = next((pk for pk in answered if pk is not None), None)
    instrument = Instrument.objects.get(pk=instrument_id) if instrument_id else None
    series = []
    if any(value is not None for value in alliance):
        series.append(
            _series(
                "alliance",
                gettext("How our work together felt to you"),
                alliance,
                low=ALLIANCE_RANGE[0],
                high=ALLIANCE_RANGE[1],
                better=True,
            )
        )
    if instrument is not None:
        low, high = instrument.score_range
        series.append(
            {
                **_series(
                    "outcome",
                    gettext("How life has been going for you"),
                    outcome,
                    low=low,
                    high=high,
                    better=instrument.higher_is_better,
                ),
                # A mean is read to one decimal, a sum in whole points.
                "decimals": 0 if instrument.scoring == Instrument.Scoring.SUM else 1,
            }
        )
    if not series:
        return {"chart_data": None, "alliance": None, "outcome": None}
    by_key = {one["key"]: one for one in series}
    chart_data = {
        "labels": [
            gettext("Session %(number)s") % {"number": session.number} for session in sessions
        ],
        "dates": [
            formats.date_format(timezone.localtime(session.starts_at), "j M")
            for session in sessions
        ],
        "series": series,
        "axes": _axes(series),
    }
    return {
        "chart_data": chart_data,
        "alliance": by_key.get("alliance"),
        "outcome": by_key.get("outcome"),
    }
