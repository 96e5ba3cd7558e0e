"""The client's own chart (measures.own_chart): their alliance and outcome on the same
sessions, in plain words, with nothing clinical, in two queries."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone, translation

from clients.models import Client
from clients.tests.factories import ClientFactory
from measures.models import Instrument, OutcomeAnswer
from measures.own_chart import client_own_chart
from measures.scoring import DIMENSIONS
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory
from measures.tests.test_client_outcome import own_instrument
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def session_of(client: Client, days_ago: int, **fields: Any) -> Session:
    return SessionFactory(
        client=client, starts_at=timezone.now() - dt.timedelta(days=days_ago), **fields
    )


def rate(session: Session, score: int, rater: str = "client") -> None:
    RatingFactory(session=session, rater=rater, **dict.fromkeys(DIMENSIONS, score))


def answer(session: Session, *answers: int, **fields: Any) -> OutcomeAnswer:
    return OutcomeAnswerFactory(session=session, answers=answers or (4, 4, 4, 4), **fields)


def values(chart: dict[str, Any]) -> dict[str, list[float | None]]:
    return {series["key"]: series["values"] for series in chart["chart_data"]["series"]}


def test_both_measures_are_drawn_on_the_same_sessions_with_a_gap_where_one_is_missing(
    client_record: Client,
) -> None:
    both = session_of(client_record, 21)
    rate(both, 6)
    answer(both, 3, 4, 5, 6)
    rate(session_of(client_record, 14), 8)
    answer(session_of(client_record, 7), 7, 7, 7, 8)
    chart = client_own_chart(client_record)
    assert chart["chart_data"]["labels"] == ["Session 1", "Session 2", "Session 3"]
    assert values(chart) == {"alliance": [6.0, 8.0, None], "outcome": [4.5, None, 7.25]}
    assert (chart["alliance"]["last"], chart["outcome"]["last"]) == (8.0, 7.25)
    # The built-in check is 0–10, higher is better: one axis for both, said so.
    assert chart["chart_data"]["axes"] == [
        {
            "id": "y",
            "position": "left",
            "min": 0,
            "max": 10,
            "step": 2,
            "title": "Your answers, from 0 to 10: higher is better",
        }
    ]
    assert [series["axis"] for series in chart["chart_data"]["series"]] == ["y", "y"]
    assert chart["outcome"]["label"] == "How life has been going for you"


def test_voided_sessions_another_clients_and_the_therapists_answers_are_left_out(
    client_record: Client, therapist: Any
) -> None:
    kept = session_of(client_record, 21)
    rate(kept, 6)
    rate(kept, 2, rater="therapist")
    answer(kept, 5, 5, 5, 5)
    voided = session_of(
        client_record, 14, voided_at=timezone.now(), voided_by=therapist, void_reason="wrong"
    )
    rate(voided, 1)
    answer(voided, 1, 1, 1, 1)
    other = session_of(ClientFactory(therapist=therapist), 7)
    rate(other, 3)
    answer(other, 9, 9, 9, 9)
    chart = client_own_chart(client_record)
    assert chart["chart_data"]["labels"] == ["Session 1"]
    assert values(chart) == {"alliance": [6.0], "outcome": [5.0]}


def test_nothing_clinical_reaches_the_chart(client_record: Client) -> None:
    session = session_of(client_record, 7)
    rate(session, 6)
    answer(
        session,
        track=OutcomeAnswer.Track.NOT_ON_TRACK,
        expected="8.77",
        lowest_on_track="7.33",
    )
    data = client_own_chart(client_record)["chart_data"]
    assert set(data) == {"labels", "dates", "series", "axes"}
    for series in data["series"]:
        assert set(series) <= {
            "key", "label", "values", "min", "max", "higher_is_better", "last", "axis",
            "decimals",
        }  # fmt: skip
    text = json.dumps(data)
    for clinical in ("8.77", "7.33", "6.25", "track", "expected", "cut"):
        assert clinical not in text


def test_a_measure_on_another_scale_gets_its_own_axis_and_says_lower_is_better(
    client_record: Client,
) -> None:
    instrument = own_instrument(client_record.clinic)  # two items of 1–5, summed: 2–10
    earlier = session_of(client_record, 14)
    rate(earlier, 7)
    answer(earlier, 1, 2, instrument=instrument)
    now = session_of(client_record, 7)
    rate(now, 8)
    answer(now, 4, 5, instrument=instrument)
    chart = client_own_chart(client_record)
    assert values(chart)["outcome"] == [3.0, 9.0]
    axes = chart["chart_data"]["axes"]
    assert [(axis["id"], axis["min"], axis["max"], axis["title"]) for axis in axes] == [
        ("y", 0, 10, "Your rating, from 0 to 10"),
        ("y2", 2, 10, "How life has been going, from 2 to 10: lower is better"),
    ]
    assert chart["outcome"]["axis"] == "y2" and chart["outcome"]["decimals"] == 0
    assert chart["outcome"]["higher_is_better"] is False


def test_answers_to_an_instrument_the_clinic_no_longer_uses_are_left_out(
    client_record: Client,
) -> None:
    earlier = session_of(client_record, 14)
    rate(earlier, 7)
    answer(earlier, 1, 2, instrument=own_instrument(client_record.clinic, in_use=False))
    chart = client_own_chart(client_record)
    assert values(chart) == {"alliance": [7.0]}
    assert chart["outcome"] is None


def test_a_client_never_asked_the_outcome_sees_the_alliance_alone(
    client_record: Client,
) -> None:
    rate(session_of(client_record, 7), 9)
    chart = client_own_chart(client_record)
    assert list(values(chart)) == ["alliance"]
    assert chart["chart_data"]["axes"][0]["title"] == "Your rating, from 0 to 10"


def test_with_nothing_answered_there_is_no_chart(client_record: Client) -> None:
    session_of(client_record, 7)
    assert client_own_chart(client_record) == {
        "chart_data": None,
        "alliance": None,
        "outcome": None,
    }


def test_its_words_are_in_the_clients_language(client_record: Client) -> None:
    session = session_of(client_record, 7)
    rate(session, 6)
    answer(session)
    with translation.override("es"):
        data = client_own_chart(client_record)["chart_data"]
    assert data["labels"] == ["Sesión 1"]
    assert [series["label"] for series in data["series"]] == [
        "Cómo vivió usted nuestro trabajo juntos",
        "Cómo le ha ido a usted en la vida",
    ]
    assert data["axes"][0]["title"] == "Sus respuestas, de 0 a 10: más alto es mejor"


@pytest.mark.parametrize("size", [3, 30])
def test_it_costs_two_queries_at_any_length_of_history(
    client_record: Client, django_assert_num_queries: Any, size: int
) -> None:
    for day in range(size):
        session = session_of(client_record, size - day)
        rate(session, 7)
        if day % 2:
            answer(session)
    # The sessions with both scores annotated; the instrument answered, by its key.
    with django_assert_num_queries(2):
        chart = client_own_chart(client_record)
    assert len(chart["chart_data"]["labels"]) == size


def test_without_outcome_answers_it_costs_one_query(
    client_record: Client, django_assert_num_queries: Any
) -> None:
    for days_ago in (14, 7):
        rate(session_of(client_record, days_ago), 7)
    with django_assert_num_queries(1):
        client_own_chart(client_record)


def test_the_built_in_check_is_the_one_documented(client_record: Client) -> None:
    """The words above assume the built-in check: 0–10, a mean, higher is better."""
    built_in = Instrument.objects.get(clinic__isnull=True)
    assert (built_in.score_range, built_in.higher_is_better) == ((0.0, 10.0), True)
