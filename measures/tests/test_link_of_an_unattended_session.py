"""A rating link whose session is then marked cancelled or a no-show.

Found by the hostile-input tests: the link stayed open, and the client's answer made
the rating service refuse the session, a server error on the client's page. Now the
session's change closes the link, and a link left open from before gets the calm page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from measures.models import Rating
from sessions import invitations
from sessions.models import RatingInvitation, Session
from sessions.services import session_update
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

ANSWERS = {
    "trust": "9", "empathy": "8", "collaboration": "7",
    "boundaries": "10", "growth": "6", "respect": "10",
    "rupture": "none", "comment": "", "notice_version": "1",
}  # fmt: skip


@pytest.fixture(autouse=True)
def alliance_questions_only(client_record: Client) -> None:
    """The alliance questions alone: the outcome check has its own tests."""
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)


def update(session: Session, therapist: User, attendance: str) -> None:
    session_update(
        actor=therapist,
        session=session,
        starts_at=session.starts_at,
        duration_minutes=session.duration_minutes,
        attendance=attendance,
        modality=session.modality,
        notes=session.notes,
    )


@pytest.mark.parametrize("attendance", ["cancelled", "no_show"])
def test_marking_a_session_unattended_closes_its_rating_link(
    client: Any, therapist: User, client_record: Client, attendance: str
) -> None:
    session = SessionFactory(client=client_record)
    invitation, token = invitations.invitation_create(session=session)
    update(session, therapist, attendance)
    invitation.refresh_from_db()
    assert invitation.voided_at is not None
    assert not invitations.reminders_due(timezone.now() + dt.timedelta(days=3))
    url = reverse("measures:client-rating", args=[token])
    assert client.get(url).status_code == 404
    assert client.post(url, ANSWERS).status_code == 404
    assert not Rating.objects.exists()


def test_an_attended_session_keeps_its_link_when_edited(
    therapist: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    invitation, _token = invitations.invitation_create(session=session)
    update(session, therapist, "attended")
    invitation.refresh_from_db()
    assert invitation.voided_at is None


def test_a_link_left_open_on_an_unattended_session_gets_the_calm_page(
    client: Any, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    invitation, token = invitations.invitation_create(session=session)
    # Changed around the service (the admin, an old release): the link is still open.
    Session.objects.filter(pk=session.pk).update(attendance="cancelled")
    response = client.post(reverse("measures:client-rating", args=[token]), ANSWERS)
    assert response.status_code == 404
    assert b"Traceback" not in response.content
    assert not Rating.objects.exists()
    assert RatingInvitation.objects.get(pk=invitation.pk).used_at is None
