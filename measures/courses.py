"""The expected course of the outcome score, from each clinic's own clients.

Refreshed by the nightly sweep (and `manage.py detect_alliance_drops`): every clinic's
answers are streamed once, grouped per instrument and client in answer order, and
`measures.tracking.expected_course` gives the median improvement per starting band and
answer. Only numbers are stored. Clients erased from the clinic's statistics and voided
sessions do not count.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from alliance.replica import caught_up_alias
from measures import tracking
from measures.models import ExpectedCourse, Instrument, OutcomeAnswer

STREAM_CHUNK = 5000

Key = tuple[int, int]  # (clinic id, instrument id)


def course_for(clinic_id: int, instrument_id: int) -> dict[str, dict[int, tracking.Expected]]:
    """The stored course of one clinic on one instrument."""
    course: dict[str, dict[int, tracking.Expected]] = {}
    rows = ExpectedCourse.objects.filter(
        clinic_id=clinic_id, instrument_id=instrument_id
    ).values_list("band", "index", "improvement", "clients")
    for band, index, improvement, clients in rows:
        course.setdefault(band, {})[index] = tracking.Expected(improvement, clients)
    return course


def answer_rows() -> Iterator[tuple[int, int, int, Decimal]]:
    """(clinic, instrument, client, score) of every answer that counts, in answer order per
    client, streamed from the read replica once it has caught up. (The stored courses are
    read from the primary: the sweep compares them with, and judges by, what it has just
    written there.)"""
    return (
        OutcomeAnswer.objects.using(caught_up_alias())
        .of_current_sessions()
        .filter(session__client__excluded_from_statistics=False)
        .order_by(
            "session__client__clinic_id",
            "instrument_id",
            "session__client_id",
            "session__starts_at",
            "session__number",
        )
        .values_list("session__client__clinic_id", "instrument_id", "session__client_id", "score")
        .iterator(chunk_size=STREAM_CHUNK)
    )


def _score_series() -> Iterator[tuple[Key, list[list[float]]]]:
    """((clinic, instrument), each client's scores in answer order)."""
    for key, by_key in itertools.groupby(answer_rows(), key=lambda row: (row[0], row[1])):
        yield (
            key,
            [
                [float(row[3]) for row in by_client]
                for _client, by_client in itertools.groupby(by_key, key=lambda row: row[2])
            ],
        )


def courses_refresh(now: dt.datetime) -> set[int]:
    """Recompute every clinic's expected courses; returns the clinics whose course changed
    (their clients' answers need judging again)."""
    scales = {instrument.pk: instrument.scale() for instrument in Instrument.objects.all()}
    longest = settings.ALLIANCE_OUTCOME_COURSE_LENGTH
    changed: set[int] = set()
    seen: set[Key] = set()
    for (clinic_id, instrument_id), series in _score_series():
        seen.add((clinic_id, instrument_id))
        course = tracking.expected_course(series, scales[instrument_id], longest=longest)
        if course != course_for(clinic_id, instrument_id):
            _store(clinic_id, instrument_id, course, now)
            changed.add(clinic_id)
    # A course whose answers are all gone (voided, erased from the statistics) goes too.
    stale = ExpectedCourse.objects.values_list("clinic_id", "instrument_id").distinct()
    for clinic_id, instrument_id in set(stale) - seen:
        _store(clinic_id, instrument_id, {}, now)
        changed.add(clinic_id)
    return changed


@transaction.atomic
def _store(
    clinic_id: int,
    instrument_id: int,
    course: dict[str, dict[int, tracking.Expected]],
    now: dt.datetime,
) -> None:
    # Statistics, not records: replaced whole, so no point of an older course lingers.
    ExpectedCourse.objects.filter(clinic_id=clinic_id, instrument_id=instrument_id).delete()
    ExpectedCourse.objects.bulk_create(
        ExpectedCourse(
            clinic_id=clinic_id,
            instrument_id=instrument_id,
            band=band,
            index=index,
            improvement=point.improvement,
            clients=point.clients,
            computed_at=now,
        )
        for band, points in course.items()
        for index, point in points.items()
    )
