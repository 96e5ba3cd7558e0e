"""Ratings and signals in the Django admin: shown, never written, at a fixed cost."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from measures.models import Flag, Rating
from measures.tests.factories import ConcernFactory, FlagFactory, RatingFactory
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(username="root", password="x")


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_a_rating_is_never_rewritten_or_deleted_in_the_admin(
    client: Any, client_record: Client, who: str, request: Any
) -> None:
    rating = RatingFactory(session=SessionFactory(client=client_record))
    before = Rating.objects.filter(pk=rating.pk).values().get()
    client.force_login(request.getfixturevalue(who))
    change = reverse("admin:measures_rating_change", args=[rating.pk])
    page = client.get(change)
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    scores = dict.fromkeys(["trust", "empathy", "collaboration", "boundaries", "growth"], 1)
    form = {"session": rating.session_id, "rater": "client", "respect": 1, **scores}
    assert client.post(change, form).status_code == 403
    assert client.post(reverse("admin:measures_rating_add"), form).status_code == 403
    delete = reverse("admin:measures_rating_delete", args=[rating.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert list(Rating.objects.values()) == [before]


def signals_of_new_concerns(client_record: Client, count: int) -> None:
    """`count` sessions, each with a concern holding one signal and a signal outside it."""
    for _ in range(count):
        session = SessionFactory(client=client_record)
        concern = ConcernFactory(
            session=session, status="dismissed", closed_at=timezone.now(), note="Fine."
        )
        FlagFactory(session=session, concern=concern, rule=Flag.Rule.RELIABLE_DROP)
        FlagFactory(session=session)


# The session, the user, the counts (filtered and in all), and the rows with their
# sessions, concerns and clients. (The admin's menu asks no Django permission since the
# Groups screen left it: every screen in it decides by role.)
FLAG_LIST_QUERIES = 5


@pytest.mark.parametrize("size", [2, 20])
def test_the_signal_list_costs_the_same_queries_at_any_size(
    client: Any,
    clinic_admin: User,
    client_record: Client,
    django_assert_num_queries: Any,
    size: int,
) -> None:
    signals_of_new_concerns(client_record, size)
    client.force_login(clinic_admin)
    with django_assert_num_queries(FLAG_LIST_QUERIES):
        response = client.get(reverse("admin:measures_flag_changelist"))
    assert len(response.context["cl"].result_list) == 2 * size
    assert response.content.decode().count("Concern for R.K. (dismissed)") == size
