"""The client page's outcome: on track or not, the expected band, and what is missing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from conftest import visible_text
from measures.models import OutcomeAnswer
from measures.sweeps import sweep_run
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory
from reports.tests.test_client_page import chart, url
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def answers(client: Client, *scores: float) -> None:
    """Weekly sessions, each with a client rating and an outcome answer of `score`."""
    for week, score in enumerate(scores):
        session = SessionFactory(
            client=client, starts_at=timezone.now() - dt.timedelta(weeks=len(scores) - week)
        )
        RatingFactory(session=session)
        OutcomeAnswerFactory(session=session, answers=[score] * 4)


def words(response: Any) -> str:
    return " ".join(visible_text(response.content.decode()).split())


def page(client: Any, therapist: User, record: Client) -> Any:
    client.force_login(therapist)
    return client.get(url(record))


def test_a_client_off_track_is_marked_from_the_session_it_began(
    client: Any, therapist: User, client_record: Client
) -> None:
    answers(client_record, 6, 6, 4, 4)
    sweep_run()
    response = page(client, therapist, client_record)
    text = words(response)
    assert "Alliance and outcome over time" in text
    assert "Outcome · Outcome check (built in): Not on track since session 3" in text
    data = chart(response)["outcome"]
    assert data["score"] == [6.0, 6.0, 4.0, 4.0]
    assert data["offTrack"] == [False, False, True, True]
    assert (data["min"], data["max"], data["cutoff"], data["higherIsBetter"]) == (0, 10, 6.25, True)


def test_until_the_clinic_has_enough_clients_the_page_says_so(
    client: Any, therapist: User, client_record: Client
) -> None:
    answers(client_record, 4, 5)
    sweep_run()
    text = words(page(client, therapist, client_record))
    assert "On track" in text
    assert (
        "No expected course yet at this client's answer 2: it needs 20 clients of this clinic "
        "who started in the same band and gave as many answers, and there are 1." in text
    )
    assert chart(page(client, therapist, client_record))["outcome"]["expected"] == [None, None]


@override_settings(ALLIANCE_OUTCOME_MIN_CLIENTS=3)
def test_with_enough_clients_the_expected_band_is_drawn(
    client: Any, therapist: User, client_record: Client
) -> None:
    for _ in range(3):
        answers(ClientFactory(therapist=therapist), 4, 6)
    answers(client_record, 4, 5)
    sweep_run()
    response = page(client, therapist, client_record)
    data = chart(response)["outcome"]
    # Median improvement of the four who started at 4 ("moderate"): 2 → expected 6, and
    # not on track below 6 − 1.25.
    assert (data["expected"], data["lowest"]) == ([None, 6.0], [None, 4.75])
    text = words(response)
    assert "expected by now 6" in text and "No expected course yet" not in text


def test_with_the_check_switched_off_the_page_says_so(
    client: Any, therapist: User, client_record: Client
) -> None:
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    text = words(page(client, therapist, client_record))
    assert "The outcome check is switched off for this client" in text


def test_with_the_check_switched_off_after_answers_the_page_still_says_so(
    client: Any, therapist: User, client_record: Client
) -> None:
    """The answers already given stay on the page, and the therapist is not left to think
    the link still asks the check."""
    answers(client_record, 6, 6)
    sweep_run()
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    text = words(page(client, therapist, client_record))
    assert "Outcome · Outcome check (built in): On track" in text
    assert "The outcome check is switched off for this client" in text


def test_a_latest_answer_not_yet_judged_is_not_called_the_first(
    client: Any, therapist: User, client_record: Client
) -> None:
    """With the broker away, an answer waits for the sweep: the page says it waits, not that
    the course starts from it."""
    answers(client_record, 6, 6, 4, 4)
    sweep_run()
    latest = OutcomeAnswer.objects.order_by("-session__starts_at").first()
    OutcomeAnswer.objects.filter(pk=latest.pk).update(track="")
    text = words(page(client, therapist, client_record))
    assert "first answer" not in text
    assert "Outcome · Outcome check (built in): latest answer, at session 4, not judged yet" in text


@override_settings(ALLIANCE_OUTCOME_COURSE_LENGTH=3)
def test_past_the_end_of_the_expected_course_the_page_does_not_wait_for_one(
    client: Any, therapist: User, client_record: Client
) -> None:
    """The course stops at its last answer: past it no number of clients brings one."""
    answers(client_record, 6, 6, 6, 6)
    sweep_run()
    text = words(page(client, therapist, client_record))
    assert "No expected course yet" not in text
    assert (
        "The expected course runs to a client's answer 3; this is answer 4, so not on track "
        "means a reliable fall from the client's first score." in text
    )


def test_another_therapists_client_is_not_found(
    client: Any, colleague: User, client_record: Client
) -> None:
    answers(client_record, 6, 4)
    client.force_login(colleague)
    assert client.get(url(client_record)).status_code == 404


def test_the_sessions_table_shows_each_session_as_it_stands(
    client: Any, therapist: User, client_record: Client
) -> None:
    """One row a session (built in Python, reports/templatetags/alliance.py): its number
    and date linked to it, attendance, modality, both scores, the outcome answer flagged
    when off track, "Not rated" only where the client came and did not answer."""
    answers(client_record, 6, 6, 4)
    sweep_run()
    missed = SessionFactory(client=client_record, attendance="no_show")
    unrated = SessionFactory(client=client_record, modality="video")
    response = page(client, therapist, client_record)
    html = response.content.decode()
    body = html[html.index('id="sessions-heading"') :]
    cells = session_cells(response)
    assert [row[0] for row in cells] == ["1", "2", "3", "4", "5"]
    assert [row[6] for row in cells] == ["6.00", "6.00", "4.00 Not on track", "", ""]
    assert cells[3][2:6] == ["No-show", "In person", "", ""]
    assert cells[4][2:6] == ["Attended", "Video", "Not rated", ""]
    assert all(row[4] and row[5] == "" for row in cells[:3])  # the client rated, not the therapist
    assert f'href="{reverse("reports:session-detail", args=[missed.pk])}"' in body
    assert html.count(f'href="{reverse("reports:session-detail", args=[unrated.pk])}"') == 2


def session_cells(response: Any) -> list[list[str]]:
    """The sessions table's cells, a row a session, as read."""
    html = response.content.decode()
    body = html[html.index('id="sessions-heading"') :].split("<tbody>", 1)[1]
    return [
        [
            " ".join(visible_text(cell).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body.split("</tbody>", 1)[0], re.S)
    ]


def outcome_column(response: Any) -> list[str]:
    return [row[6] for row in session_cells(response)]


def test_a_mean_scored_outcome_is_shown_to_two_places_throughout(
    client: Any, therapist: User, client_record: Client
) -> None:
    """Means of 7, 6.5 and 6.75 stand in one column at one precision, as in the status."""
    for week, items in enumerate([(7, 7, 7, 7), (6, 7, 6, 7), (6, 7, 7, 7)]):
        session = SessionFactory(
            client=client_record, starts_at=timezone.now() - dt.timedelta(weeks=3 - week)
        )
        RatingFactory(session=session)
        OutcomeAnswerFactory(session=session, answers=items)
    response = page(client, therapist, client_record)
    assert sorted(outcome_column(response)) == ["6.50", "6.75", "7.00"]
    assert "latest 6.75" in words(response)


def test_a_summed_outcome_is_shown_whole(
    client: Any, therapist: User, client_record: Client
) -> None:
    from measures.tests.test_client_outcome import own_instrument

    instrument = own_instrument(therapist.clinic)
    for week, items in enumerate([(4, 5), (3, 3)]):
        session = SessionFactory(
            client=client_record, starts_at=timezone.now() - dt.timedelta(weeks=2 - week)
        )
        RatingFactory(session=session)
        OutcomeAnswerFactory(session=session, instrument=instrument, answers=items)
    response = page(client, therapist, client_record)
    assert sorted(outcome_column(response)) == ["6", "9"]
    assert "latest 6" in words(response) and "latest 6." not in words(response)
