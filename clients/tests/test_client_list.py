"""The client list: log-in required, scoped, filterable, constant in queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import Client, User
from clients.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db
URL = reverse("clients:client-list")


def test_anonymous_is_sent_to_log_in(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


def test_home_leads_to_the_client_list(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert client.get(reverse("home"))["Location"] == URL


def test_a_therapist_sees_their_clients_and_not_a_colleagues(
    client: Any,
    therapist: User,
    client_record: Client,
    colleague_client: Client,
    outsider_client: Client,
) -> None:
    client.force_login(therapist)
    response = client.get(URL)
    assert response.status_code == 200
    assert list(response.context["clients"]) == [client_record]
    assert b"M.P." not in response.content and b"Z.Z." not in response.content


def test_discharged_clients_are_on_their_own_filter(client: Any, therapist: User) -> None:
    ClientFactory(therapist=therapist, label="Active one")
    ClientFactory(therapist=therapist, label="Gone one", status="discharged")
    client.force_login(therapist)
    assert [c.label for c in client.get(URL).context["clients"]] == ["Active one"]
    assert [c.label for c in client.get(URL, {"status": "discharged"}).context["clients"]] == [
        "Gone one"
    ]


def test_an_unknown_filter_says_so_and_shows_active_clients(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.get(URL, {"status": "<script>"})
    assert response.status_code == 200
    assert list(response.context["clients"]) == [client_record]
    assert b"That filter is not one we know" in response.content
    assert b"<script>" not in response.content


@pytest.mark.parametrize("size", [5, 50])
def test_the_list_costs_the_same_queries_at_any_size(
    client: Any, therapist: User, django_assert_num_queries: Any, size: int
) -> None:
    ClientFactory.create_batch(size, therapist=therapist)
    client.force_login(therapist)
    # session, user, clients (with their therapist joined)
    with django_assert_num_queries(3):
        response = client.get(URL)
    assert len(response.context["clients"]) == size


def test_pages_carry_a_strict_content_security_policy(client: Any) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
