"""Sessions and rating links in the Django admin: shown, never written.

They are the treating therapist's, written through the session pages (numbering,
caseload checks) and the rating-link pages; the admin writing around them would
skip those rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import Client, User
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(username="root", password="x")


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_a_session_is_never_added_changed_or_deleted_in_the_admin(
    client: Any, client_record: Client, who: str, request: Any
) -> None:
    session = SessionFactory(client=client_record)
    before = list(Session.objects.values())
    client.force_login(request.getfixturevalue(who))
    form = {"client": client_record.pk, "number": 7, "attendance": "no_show"}
    change = reverse("admin:therapy_sessions_session_change", args=[session.pk])
    assert client.get(change).context["has_change_permission"] is False
    assert client.post(change, form).status_code == 403
    assert client.post(reverse("admin:therapy_sessions_session_add"), form).status_code == 403
    delete = reverse("admin:therapy_sessions_session_delete", args=[session.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert list(Session.objects.values()) == before


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_a_rating_link_is_never_changed_or_deleted_in_the_admin(
    client: Any, client_record: Client, who: str, request: Any
) -> None:
    invitation, _token = invitations.invitation_create(session=SessionFactory(client=client_record))
    before = list(RatingInvitation.objects.values())
    client.force_login(request.getfixturevalue(who))
    change = reverse("admin:therapy_sessions_ratinginvitation_change", args=[invitation.pk])
    form = {"session": invitation.session_id, "expires_at_0": "2099-01-01", "expires_at_1": "10:00"}
    assert client.post(change, form).status_code == 403
    delete = reverse("admin:therapy_sessions_ratinginvitation_delete", args=[invitation.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert list(RatingInvitation.objects.values()) == before
