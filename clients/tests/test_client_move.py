"""/clients/<id>/move/: a clinic admin gives a client to another therapist, confirmed first."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from clients.models import AuditAction, AuditEntry, Client, User
from clients.moves import caseload_move, client_move
from clients.services import client_update
from clients.tests.factories import ClinicAdminFactory, SupervisorFactory, TherapistFactory

pytestmark = pytest.mark.django_db


def url(client_record: Client) -> str:
    return reverse("clients:client-move", args=[client_record.pk])


def therapist_of(client_record: Client) -> User:
    client_record.refresh_from_db()
    return client_record.therapist


def test_anonymous_visitors_are_sent_to_log_in(client: Any, client_record: Client) -> None:
    response = client.get(url(client_record))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("who", ["therapist", "supervisor"])
def test_readers_of_the_client_may_not_move_them(
    client: Any, client_record: Client, colleague: User, who: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(url(client_record)).status_code == 403
    data = {"therapist": colleague.pk, "confirmed": "True"}
    assert client.post(url(client_record), data).status_code == 403
    assert therapist_of(client_record).username == "tara"


def test_another_clinics_client_does_not_exist_for_a_clinic_admin(
    client: Any, clinic_admin: User, outsider_client: Client, colleague: User
) -> None:
    client.force_login(clinic_admin)
    assert client.get(url(outsider_client)).status_code == 404
    data = {"therapist": colleague.pk, "confirmed": "True"}
    assert client.post(url(outsider_client), data).status_code == 404
    assert therapist_of(outsider_client).username == "otto"


def test_it_offers_only_the_clinics_other_active_therapists(
    client: Any, clinic_admin: User, client_record: Client, colleague: User, outsider: User
) -> None:
    gone = TherapistFactory(clinic=clinic_admin.clinic, username="gone", is_active=False)
    only_supervises = SupervisorFactory(clinic=clinic_admin.clinic, username="sam")
    client.force_login(clinic_admin)
    html = client.get(url(client_record)).content.decode()
    offered = {int(value) for value in re.findall(r"<option value=\"(\d+)\"", html)}
    assert offered == {colleague.pk}
    assert not {client_record.therapist_id, gone.pk, only_supervises.pk, outsider.pk} & offered


def test_choosing_asks_for_confirmation_and_changes_nothing_yet(
    client: Any, clinic_admin: User, client_record: Client, colleague: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(url(client_record), {"therapist": colleague.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Move R.K. to {colleague}?" in html
    assert 'name="confirmed" value="True"' in html
    assert f'name="from_therapist" value="{client_record.therapist_id}"' in html
    assert therapist_of(client_record).username == "tara"
    assert not AuditEntry.objects.filter(action=AuditAction.CHANGED).exists()


def test_confirming_moves_the_client_and_records_it(
    client: Any, clinic_admin: User, client_record: Client, colleague: User, therapist: User
) -> None:
    client.force_login(clinic_admin)
    data = {"therapist": colleague.pk, "confirmed": "True", "from_therapist": therapist.pk}
    response = client.post(url(client_record), data)
    assert response.status_code == 302
    assert response["Location"] == client_record.get_absolute_url()
    assert therapist_of(client_record) == colleague
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"R.K. moved to {colleague}."]
    entry = AuditEntry.objects.get(action=AuditAction.CHANGED, model="clients.client")
    assert (entry.actor, entry.client_id, entry.fields) == (
        clinic_admin,
        client_record.pk,
        ["therapist"],
    )
    # The new therapist reads the client; the previous one no longer does.
    client.force_login(colleague)
    assert client.get(client_record.get_absolute_url()).status_code == 200
    client.force_login(therapist)
    assert client.get(client_record.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("therapist_value", ["", "abc", "٣", "-1", "999999"])
def test_a_bad_choice_is_refused_and_nothing_moves(
    client: Any, clinic_admin: User, client_record: Client, therapist_value: str
) -> None:
    client.force_login(clinic_admin)
    response = client.post(url(client_record), {"therapist": therapist_value, "confirmed": "True"})
    assert response.status_code == 200
    html = response.content.decode()
    refusals = ("This field is required.", "Select a valid choice.", "Use the digits 0–9.")
    assert any(refusal in html for refusal in refusals)
    assert therapist_of(client_record).username == "tara"


def test_a_confirmed_move_to_another_clinics_therapist_is_refused(
    client: Any, clinic_admin: User, client_record: Client, outsider: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(url(client_record), {"therapist": outsider.pk, "confirmed": "True"})
    assert response.status_code == 200 and b"Select a valid choice." in response.content
    assert therapist_of(client_record).username == "tara"


def confirmation_page_fields(response: Any) -> dict[str, str]:
    """The hidden fields the confirmation page sends back, as the browser would."""
    html = response.content.decode()
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


def test_a_client_moved_by_another_admin_meanwhile_stays_where_they_were_put(
    client: Any, clinic_admin: User, client_record: Client, colleague: User
) -> None:
    """Two admins: one has the confirmation page open (R.K. from tara to colin) while the
    other moves R.K. to wes. Confirming moves nothing and says why."""
    from clients import moves

    wes = TherapistFactory(clinic=clinic_admin.clinic, username="wes")
    client.force_login(clinic_admin)
    page = client.post(url(client_record), {"therapist": colleague.pk})
    other_admin = ClinicAdminFactory(clinic=clinic_admin.clinic, username="abe")
    moves.client_move(
        actor=other_admin,
        client=client_record,
        therapist=wes,
        from_therapist_id=client_record.therapist_id,
    )
    response = client.post(url(client_record), confirmation_page_fields(page))
    assert response.status_code == 200
    html = response.content.decode()
    assert "R.K. was moved to another therapist after the confirmation page was shown" in html
    assert f"R.K. is in {wes}'s caseload" in html
    assert therapist_of(client_record) == wes
    assert AuditEntry.objects.filter(action=AuditAction.CHANGED, actor=clinic_admin).count() == 0


def test_the_service_moves_only_from_the_therapist_the_admin_confirmed(
    clinic_admin: User, therapist: User, colleague: User, client_record: Client
) -> None:
    """The client read before another admin's move: checked again under the client's lock."""
    from django.core.exceptions import ValidationError

    from clients import moves

    wes = TherapistFactory(clinic=clinic_admin.clinic, username="wes")
    stale = Client.objects.get(pk=client_record.pk)
    moves.client_move(
        actor=clinic_admin, client=client_record, therapist=wes, from_therapist_id=therapist.pk
    )
    with pytest.raises(ValidationError, match="was moved to another therapist"):
        moves.client_move(
            actor=clinic_admin, client=stale, therapist=colleague, from_therapist_id=therapist.pk
        )
    assert therapist_of(client_record) == wes
    assert AuditEntry.objects.filter(action=AuditAction.CHANGED).count() == 1


@pytest.mark.parametrize("from_therapist", [None, "", "abc"])
def test_a_confirmation_without_the_therapist_it_named_moves_nothing(
    client: Any, clinic_admin: User, client_record: Client, colleague: User, from_therapist: Any
) -> None:
    client.force_login(clinic_admin)
    data = {"therapist": colleague.pk, "confirmed": "True"}
    if from_therapist is not None:
        data["from_therapist"] = from_therapist
    response = client.post(url(client_record), data)
    assert response.status_code == 200
    assert b"The confirmation page was out of date" in response.content
    assert therapist_of(client_record).username == "tara"


def test_the_client_page_offers_the_move_to_clinic_admins_only(
    client: Any, clinic_admin: User, therapist: User, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    assert url(client_record) in client.get(client_record.get_absolute_url()).content.decode()
    client.force_login(therapist)
    assert url(client_record) not in client.get(client_record.get_absolute_url()).content.decode()


def test_an_erased_clients_page_still_offers_the_move(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    """Moving writes no words, so it stays open after an erasure (a leaver's caseload
    holds erased clients too): the page offers it as the move page allows it."""
    from measures.tests.factories import erased

    erased(client_record, by=clinic_admin)
    client.force_login(clinic_admin)
    assert url(client_record) in client.get(client_record.get_absolute_url()).content.decode()
    assert client.get(url(client_record)).status_code == 200


def test_an_edit_read_before_a_move_does_not_undo_it(
    clinic_admin: User, therapist: User, colleague: User, client_record: Client
) -> None:
    """The therapist opened the edit form; meanwhile the admin moved the client. Saving the
    edit changes its details and leaves the move."""
    from clients import moves, services

    stale = Client.objects.get(pk=client_record.pk)
    moves.client_move(
        actor=clinic_admin,
        client=client_record,
        therapist=colleague,
        from_therapist_id=therapist.pk,
    )
    services.client_update(actor=therapist, client=stale, label="R.K.2")
    client_record.refresh_from_db()
    assert (client_record.label, client_record.therapist) == ("R.K.2", colleague)


@pytest.mark.parametrize("way", ["one client", "a leaver's caseload", "the edit (admin)"])
def test_every_way_a_client_moves_says_when_they_came_to_their_therapist(
    client_record: Client, clinic_admin: User, therapist: User, colleague: User, way: str
) -> None:
    """The concerns they bring follow the date (README "Notifications"); an edit that
    does not move them leaves it."""
    before = timezone.now()
    client_update(actor=clinic_admin, client=client_record, label="R.K.", therapist=therapist)
    client_record.refresh_from_db()
    assert client_record.therapist_since is None
    if way == "one client":
        client_move(
            actor=clinic_admin,
            client=client_record,
            therapist=colleague,
            from_therapist_id=therapist.pk,
        )
    elif way == "a leaver's caseload":
        caseload_move(
            actor=clinic_admin, leaver=therapist, therapist=colleague, client_ids=[client_record.pk]
        )
    else:
        client_update(actor=clinic_admin, client=client_record, label="R.K.", therapist=colleague)
    client_record.refresh_from_db()
    assert client_record.therapist == colleague
    assert before <= client_record.therapist_since <= timezone.now()
