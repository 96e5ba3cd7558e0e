"""Clients of the same label in one list (three "L.B.") are told apart: by external ID,
else by the day they were added. A label alone in its list is shown as it is."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from conftest import visible_text
from measures.tests.factories import concern_with_signal
from reports.templatetags.table_rows import pk_addresses

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_lbs(therapist: User) -> list[Client]:
    added = timezone.now() - dt.timedelta(days=400)
    clients = [
        ClientFactory(therapist=therapist, label="L.B.", external_id="A-17"),
        ClientFactory(therapist=therapist, label="L.B.", external_id="B-02"),
        ClientFactory(therapist=therapist, label="L.B.", created_at=added),
    ]
    for client in clients:
        concern_with_signal(client)
    return clients


def told_apart(text: str) -> None:
    text = " ".join(text.split())
    assert "L.B. (Ref. A-17)" in text and "L.B. (Ref. B-02)" in text
    added = timezone.localtime(timezone.now() - dt.timedelta(days=400))
    assert f"L.B. (added {added.day} {added:%b %Y})" in text
    assert "R.K. (" not in text and "R.K." in text


@pytest.mark.parametrize(
    ("who", "list_page"),
    [
        ("therapist", "reports:caseload"),
        ("therapist", "measures:review-queue"),
        ("supervisor", "measures:review-queue"),
        ("supervisor", "reports:dashboard"),
    ],
)
def test_team_lists_tell_same_labels_apart(
    client: Any,
    who: str,
    list_page: str,
    three_lbs: list[Client],
    client_record: Client,
    request: Any,
) -> None:
    concern_with_signal(client_record)
    client.force_login(request.getfixturevalue(who))
    told_apart(visible_text(client.get(reverse(list_page)).content.decode()))


def test_the_supervisors_drill_down_tells_them_apart(
    client: Any, supervisor: User, therapist: User, three_lbs: list[Client], client_record: Client
) -> None:
    client.force_login(supervisor)
    html = client.get(reverse("reports:therapist-caseload", args=[therapist.pk])).content.decode()
    told_apart(visible_text(html))


@pytest.mark.parametrize("name", ["reports:client-detail", "measures:concern-detail"])
def test_addresses_made_around_a_stand_in_match_reverse(name: str) -> None:
    address_of = pk_addresses(name)
    for pk in (1, 7, 42, 918_273, 2**40):
        assert address_of(pk) == reverse(name, args=[pk])
