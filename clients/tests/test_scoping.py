"""Who sees which records: the `visible_to(user)` rules, for every scoped model."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from clients.models import Client, Supervision, User
from clients.tests.factories import ClientFactory, SupervisorFactory
from measures.models import Concern, ConcernEvent, Flag, Rating
from measures.tests.factories import (
    ConcernEventFactory,
    ConcernFactory,
    FlagFactory,
    RatingFactory,
)
from sessions.models import RatingInvitation, Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(client_record: Any, colleague_client: Any, outsider_client: Any) -> dict[str, Any]:
    """For each of three clients: a session with a rating, a concern holding a signal (with
    a comment in its history), a context signal outside any concern, and a rating link."""
    made = {}
    for name, client in [
        ("own", client_record),
        ("colleague", colleague_client),
        ("outsider", outsider_client),
    ]:
        session = SessionFactory(client=client)
        RatingFactory(session=session)
        concern = ConcernFactory(session=session)
        FlagFactory(session=session, concern=concern, rule=Flag.Rule.RELIABLE_DROP)
        FlagFactory(session=session)  # context: no concern took it up
        ConcernEventFactory(concern=concern)
        RatingInvitation.objects.create(
            session=session, token_hash=f"{name:0>64}", expires_at=session.starts_at
        )
        made[name] = client
    return made


def visible_labels(user: Any) -> dict[str, set[str]]:
    return {
        "clients": set(Client.objects.visible_to(user).values_list("label", flat=True)),
        "sessions": set(Session.objects.visible_to(user).values_list("client__label", flat=True)),
        "ratings": set(
            Rating.objects.visible_to(user).values_list("session__client__label", flat=True)
        ),
        "flags": set(Flag.objects.visible_to(user).values_list("client__label", flat=True)),
        "concerns": set(Concern.objects.visible_to(user).values_list("client__label", flat=True)),
        "concern events": set(
            ConcernEvent.objects.visible_to(user).values_list("concern__client__label", flat=True)
        ),
        "invitations": set(
            RatingInvitation.objects.visible_to(user).values_list(
                "session__client__label", flat=True
            )
        ),
    }


KINDS = ("clients", "sessions", "ratings", "flags", "concerns", "concern events", "invitations")


def everywhere(labels: set[str]) -> dict[str, set[str]]:
    return {kind: labels for kind in KINDS}


def test_anonymous_sees_nothing(records: dict[str, Any]) -> None:
    assert visible_labels(AnonymousUser()) == everywhere(set())


def test_a_therapist_sees_only_their_own_caseload(therapist: User, records: dict[str, Any]) -> None:
    assert visible_labels(therapist) == everywhere({"R.K."})


def test_a_therapist_cannot_reach_a_colleagues_client(
    colleague: User, records: dict[str, Any]
) -> None:
    assert visible_labels(colleague) == everywhere({"M.P."})


def test_a_supervisor_sees_their_supervisees_caseloads(
    supervisor: User, records: dict[str, Any]
) -> None:
    assert visible_labels(supervisor) == everywhere({"R.K."})


def test_a_supervisor_who_also_treats_sees_both_caseloads(
    supervisor: User, records: dict[str, Any]
) -> None:
    supervisor.is_therapist = True
    supervisor.save()
    ClientFactory(therapist=supervisor, label="S.T.")
    assert visible_labels(supervisor)["clients"] == {"R.K.", "S.T."}


def test_a_clinic_admin_sees_the_whole_clinic(clinic_admin: User, records: dict[str, Any]) -> None:
    assert visible_labels(clinic_admin) == everywhere({"R.K.", "M.P."})


def test_nobody_crosses_clinics(outsider: User, other_clinic: Any, records: dict[str, Any]) -> None:
    assert visible_labels(outsider) == everywhere({"Z.Z."})
    # Even a supervision row pointing across clinics (which the services refuse)
    # grants nothing: the clinic is checked first.
    rogue = SupervisorFactory(clinic=other_clinic)
    Supervision.objects.create(supervisor=rogue, therapist=records["own"].therapist)
    assert visible_labels(rogue) == everywhere(set())


def test_an_inactive_account_sees_nothing(therapist: User, records: dict[str, Any]) -> None:
    therapist.is_active = False
    therapist.save()
    assert visible_labels(therapist) == everywhere(set())


def test_supervision_grants_no_writes(
    supervisor: User, therapist: User, records: dict[str, Any]
) -> None:
    assert not Client.objects.editable_by(supervisor).exists()
    assert list(Client.objects.editable_by(therapist)) == [records["own"]]


def test_sessions_are_editable_only_by_their_author(
    therapist: User, clinic_admin: User, records: dict[str, Any]
) -> None:
    own = Session.objects.get(client=records["own"])
    assert list(Session.objects.editable_by(therapist)) == [own]
    assert not Session.objects.editable_by(clinic_admin).exists()


def test_colleagues_visible_to_each_role(
    therapist: User, colleague: User, supervisor: User, clinic_admin: User, outsider: User
) -> None:
    assert set(User.objects.visible_to(therapist)) == {therapist}
    assert set(User.objects.visible_to(supervisor)) == {supervisor, therapist}
    assert set(User.objects.visible_to(clinic_admin)) == {
        therapist,
        colleague,
        supervisor,
        clinic_admin,
    }
    assert set(User.objects.visible_to(outsider)) == {outsider}


def test_concerns_follow_the_same_scope_as_their_signals(
    therapist: User,
    colleague: User,
    supervisor: User,
    clinic_admin: User,
    outsider: User,
    records: dict[str, Any],
) -> None:
    # A closed concern is still the client's: scope is about whose client, not status.
    closed = ConcernFactory(
        session=SessionFactory(client=records["own"]),
        status=Concern.Status.DISMISSED,
        closed_at=records["own"].created_at,
        note="A hard week at work.",
    )
    for user, expected in [
        (therapist, {"R.K."}),
        (colleague, {"M.P."}),
        (supervisor, {"R.K."}),
        (clinic_admin, {"R.K.", "M.P."}),
        (outsider, {"Z.Z."}),  # their own client, and nothing of Riverside's
    ]:
        labels = visible_labels(user)
        assert labels["concerns"] == labels["flags"] == expected, user
    assert closed in Concern.objects.visible_to(therapist)
    assert closed in Concern.objects.visible_to(supervisor)
    assert not Concern.objects.visible_to(outsider).filter(client=records["own"]).exists()
