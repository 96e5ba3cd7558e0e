"""The outcome answers of one client as CSV: scoped, in session order, judged in words."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import AuditEntry, Client, User
from measures.tests.factories import OutcomeAnswerFactory
from reports.tests.test_exports import table
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def url(client: Client) -> str:
    return reverse("reports:client-outcomes-csv", args=[client.pk])


def answer(client: Client, days: int, answers: list[int], **judged: Any) -> Any:
    session = SessionFactory(client=client, starts_at=timezone.now() - dt.timedelta(days=days))
    return OutcomeAnswerFactory(
        session=session, answers=answers, score=sum(answers) / len(answers), **judged
    )


def test_every_answer_in_session_order_with_its_judgement_in_words(
    client: Any, therapist: User, client_record: Client, django_assert_num_queries: Any
) -> None:
    answer(client_record, 14, [4, 4, 5, 3])
    answer(client_record, 7, [2, 2, 2, 2], track="not_on_track", expected=6, lowest_on_track=4.75)
    voided = answer(client_record, 3, [9, 9, 9, 9])
    voided.session.__class__.objects.filter(pk=voided.session_id).update(
        voided_at=timezone.now(), voided_by=therapist, void_reason="Wrong client."
    )
    client.force_login(therapist)
    # The session, the user, the client, the audit entry, the answers (as the ratings').
    with django_assert_num_queries(5):
        response = client.get(url(client_record))
        rows = table(response)
    assert response["Content-Disposition"] == 'attachment; filename="alliance-outcomes-rk.csv"'
    assert [(row["session"], row["answers"], row["score"], row["track"]) for row in rows] == [
        ("1", "4;4;5;3", "4", ""),
        ("2", "2;2;2;2", "2", "Not on track"),
    ]
    assert (rows[1]["instrument"], rows[1]["expected"], rows[1]["lowest_on_track"]) == (
        "Outcome check (built in)",
        "6",
        "4.75",
    )
    entry = AuditEntry.objects.get(action="exported", client_id=client_record.pk)
    assert entry.place == "outcomes CSV"


def test_someone_elses_client_is_not_found(
    client: Any, colleague: User, client_record: Client
) -> None:
    answer(client_record, 7, [5, 5, 5, 5])
    client.force_login(colleague)
    assert client.get(url(client_record)).status_code == 404
    assert client.get(reverse("reports:client-outcomes-csv", args=[987654])).status_code == 404


def test_the_client_page_offers_it_once_there_are_answers(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    page = reverse("reports:client-detail", args=[client_record.pk])
    assert url(client_record) not in client.get(page).content.decode()
    answer(client_record, 7, [5, 5, 5, 5])
    assert url(client_record) in client.get(page).content.decode()


def test_round_numbers_are_written_as_numbers(
    client: Any, therapist: User, client_record: Client
) -> None:
    """A score of 10 (every item 10), or a course at 20, is 10 and 20 in a spreadsheet,
    not 1E+1 and 2E+1 (what a normalised Decimal prints)."""
    answer(client_record, 7, [10, 10, 10, 10], expected=20, lowest_on_track=10)
    client.force_login(therapist)
    [row] = table(client.get(url(client_record)))
    assert (row["score"], row["expected"], row["lowest_on_track"]) == ("10", "20", "10")


def test_negative_scores_are_written_as_numbers_not_text(
    client: Any, therapist: User, client_record: Client
) -> None:
    """An instrument may answer below zero (−100 is allowed): its scores reach the
    spreadsheet as numbers, not as text behind the apostrophe that disarms formulas."""
    answer(client_record, 7, [-2, -1], expected=-0.5, lowest_on_track=-1.75)
    client.force_login(therapist)
    [row] = table(client.get(url(client_record)))
    assert (row["score"], row["expected"], row["lowest_on_track"]) == ("-1.5", "-0.5", "-1.75")
