"""/staff/…: the clinic admin's pages for the clinic's people."""

from __future__ import annotations

import datetime as dt
import re
from smtplib import SMTPException
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client as Browser
from django.urls import reverse
from django.utils.http import urlsafe_base64_encode

from accounts import staff, staff_invitations
from clients.models import AuditEntry, Client, Supervision, User
from clients.tests.factories import (
    ClientFactory,
    ClinicAdminFactory,
    SupervisorFactory,
    TherapistFactory,
)
from conftest import visible_text
from measures.tests.racing import (
    is_active_written,
    meanwhile,
    on_a_connection_of_its_own,
    paused_once,
)

pytestmark = pytest.mark.django_db

LIST = "/staff/"
INVITE = "/staff/invite/"
NEW = {
    "first_name": "Nia",
    "last_name": "Okafor",
    "email": "nia@example.org",
    "username": "nia",
    "is_therapist": "on",
}


def colleague_url(member: User) -> str:
    return reverse("staff:colleague", args=[member.pk])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def options(html: str, name: str) -> set[int]:
    """The ids a select offers."""
    select = re.search(rf'<select name="{name}".*?</select>', html, re.DOTALL)
    assert select, f"no select named {name}"
    return {int(value) for value in re.findall(r'<option value="(\d+)"', select.group(0))}


def test_the_addresses_are_named() -> None:
    assert reverse("staff:list") == LIST and reverse("staff:invite") == INVITE


@pytest.mark.parametrize("url", [LIST, INVITE])
def test_anonymous_visitors_are_sent_to_log_in(client: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("who", ["therapist", "supervisor", "outsider"])
def test_only_clinic_admins_manage_staff(
    client: Any, who: str, colleague: User, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(LIST).status_code == 403
    assert client.post(INVITE, NEW).status_code == 403
    assert client.get(colleague_url(colleague)).status_code == 403
    assert not User.objects.filter(username="nia").exists()


def test_another_clinics_colleague_does_not_exist_for_an_admin(
    client: Any, clinic_admin: User, outsider: User
) -> None:
    client.force_login(clinic_admin)
    for name in ("staff:colleague", "staff:move-clients", "staff:deactivate"):
        assert client.get(reverse(name, args=[outsider.pk])).status_code == 404
    assert client.post(reverse("staff:deactivate", args=[outsider.pk])).status_code == 404
    outsider.refresh_from_db()
    assert outsider.is_active


def test_the_list_shows_the_clinics_people_and_only_them(
    client: Any, clinic_admin: User, therapist: User, supervisor: User, outsider: User
) -> None:
    TherapistFactory(clinic=clinic_admin.clinic, username="gone", is_active=False)
    invited = TherapistFactory(clinic=clinic_admin.clinic, username="new")
    invited.set_unusable_password()
    invited.save()
    ClientFactory(therapist=therapist)
    client.force_login(clinic_admin)
    html = client.get(LIST).content.decode()
    rows = {
        re.search(r"<td>(\w+)</td>", row).group(1): visible_text(row)
        for row in re.findall(r"<tr>\s*<td><a .*?</tr>", html, re.DOTALL)
    }
    assert set(rows) == {"ada", "tara", "sue", "gone", "new"}
    assert "Deactivated" in rows["gone"] and "Invited" in rows["new"]
    assert str(supervisor) in rows["tara"]  # supervised by
    assert ">otto<" not in html
    assert 'href="/staff/"' in html  # in the navigation


def test_the_list_costs_the_same_queries_at_any_size(
    client: Any, clinic_admin: User, django_assert_num_queries: Any
) -> None:
    client.force_login(clinic_admin)
    client.get(LIST)
    with django_assert_num_queries(6) as small:
        client.get(LIST)
    for n in range(20):
        member = TherapistFactory(clinic=clinic_admin.clinic, username=f"t{n}")
        ClientFactory(therapist=member)
        lead = SupervisorFactory(clinic=clinic_admin.clinic, username=f"s{n}")
        Supervision.objects.create(supervisor=lead, therapist=member)
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(LIST)


def test_a_clinic_admin_invites_a_colleague(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(INVITE, {**NEW, "is_supervisor": "on"})
    member = User.objects.get(username="nia")
    assert response.status_code == 302 and response["Location"] == colleague_url(member)
    assert messages_of(response) == ["Invitation sent to nia@example.org."]
    assert (member.clinic, member.is_therapist, member.is_supervisor) == (
        clinic_admin.clinic,
        True,
        True,
    )
    assert not member.has_usable_password()
    [message] = mail.outbox
    assert message.to == ["nia@example.org"] and "/staff/welcome/" in message.body
    page = client.get(colleague_url(member)).content.decode()
    assert "has not chosen a password yet" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"first_name": ""}, "This field is required."),
        ({"email": "not an address"}, "Enter a valid email address."),
        ({"username": "has space"}, "Enter a valid username."),
        ({"username": "tara"}, "Someone already has this username"),
        ({"is_therapist": ""}, "Choose at least one role."),
        ({"last_name": "Ok\x07"}, "without control characters"),
        ({"last_name": "Ok\u200b"}, "Remove the invisible character U+200B ZERO WIDTH SPACE"),
        ({"first_name": "\u2066Nia\u2069"}, "Remove the invisible character U+2066"),
        ({"first_name": "\u3164"}, "Enter at least one visible character."),
    ],
)
def test_bad_input_is_shown_with_what_was_typed_and_nobody_is_added(
    client: Any, clinic_admin: User, therapist: User, changes: dict[str, str], message: str
) -> None:
    client.force_login(clinic_admin)
    before = User.objects.count()
    data = {key: value for key, value in {**NEW, **changes}.items() if value}
    response = client.post(INVITE, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'value="nia@example.org"' in html or "email" in changes
    assert User.objects.count() == before and mail.outbox == []


def test_an_invitation_sent_twice_lands_on_the_colleague_and_sends_one_e_mail(
    client: Any, clinic_admin: User
) -> None:
    """The second click of a double click (or the form sent again from the browser's
    history) was told "Someone already has this username; choose another.", beside the
    colleague the first click had invited: choosing another invited them twice."""
    client.force_login(clinic_admin)
    first = client.post(INVITE, NEW)
    member = User.objects.get(username="nia")
    second = client.post(INVITE, {**NEW, "username": "NIA", "email": " Nia@Example.org"})
    assert second.status_code == 302 and second["Location"] == colleague_url(member)
    assert messages_of(second)[-1] == (
        "Nia Okafor is invited already, with this username and address: no second "
        "invitation was sent."
    )
    assert first["Location"] == second["Location"]
    assert User.objects.filter(email__iexact="nia@example.org").count() == 1
    assert len(mail.outbox) == 1


def test_a_taken_username_with_another_address_or_a_signed_in_owner_is_still_refused(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    client.force_login(clinic_admin)
    client.post(INVITE, NEW)
    for data in ({**NEW, "email": "other@example.org"}, {**NEW, "username": "tara"}):
        response = client.post(INVITE, data)
        assert response.status_code == 200
        assert "Someone already has this username" in response.content.decode()
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_an_invitation_sent_twice_at_once_is_one_colleague_and_a_message(
    client: Any, clinic_admin: User
) -> None:
    """Both clicks passed the checks before either was saved; the second met the first's
    row and said the username was taken."""
    problems: list[Exception] = []
    inserted, first = paused_once(
        lambda: staff.staff_invite(actor=clinic_admin, **{**NEW, "is_therapist": True}),
        lambda sql: sql.startswith("INSERT") and "clients_user" in sql,
        problems,
    )
    inviting = on_a_connection_of_its_own(first)
    try:
        assert inserted.wait(10)
        client.force_login(clinic_admin)
        response = client.post(INVITE, NEW)
    finally:
        inviting.join()
    assert problems == []
    member = User.objects.get(username="nia")
    assert response.status_code == 302 and response["Location"] == colleague_url(member)
    assert "is invited already" in messages_of(response)[-1]
    assert mail.outbox == []  # the first request sends its own, after this test's service


def test_a_mail_server_that_refuses_loses_no_colleague(
    client: Any, clinic_admin: User, monkeypatch: Any
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise SMTPException("down")

    monkeypatch.setattr("accounts.staff_invitations.send_mail", refuse)
    client.force_login(clinic_admin)
    response = client.post(INVITE, NEW)
    member = User.objects.get(username="nia")
    assert response["Location"] == colleague_url(member)
    assert "could not be sent" in messages_of(response)[0]
    monkeypatch.undo()
    again = client.post(reverse("staff:invitation", args=[member.pk]))
    assert messages_of(again)[-1] == "Invitation sent to nia@example.org."
    assert len(mail.outbox) == 1


def test_an_invitation_to_a_colleague_without_an_address_says_so_and_sends_nothing(
    client: Any, clinic_admin: User
) -> None:
    """Added in the admin, where the address is optional: the page said "Invitation sent
    to ." while no e-mail left (nobody to send it to), and recorded a sending."""
    member = User.objects.create(
        clinic=clinic_admin.clinic, username="nomail", is_therapist=True, password="!"
    )
    client.force_login(clinic_admin)
    response = client.post(reverse("staff:invitation", args=[member.pk]))
    assert response["Location"] == colleague_url(member)
    assert messages_of(response) == [
        f"{member} has no e-mail address to send the invitation to: enter one under "
        "E-mail address on this page, then send it."
    ]
    assert mail.outbox == []
    assert not AuditEntry.objects.filter(object_id=str(member.pk)).exists()
    # The field it names is on the page (a clinic admin invited in the app has no Django
    # admin, where the message used to send them).
    page = client.get(response["Location"]).content.decode()
    assert 'name="invitation-email"' in page and "E-mail address" in visible_text(page)


def welcome_link(message: Any) -> str:
    return "/staff/welcome/" + message.body.split("/staff/welcome/")[1].split()[0]


def test_an_invited_colleagues_mistyped_address_is_corrected_and_the_old_link_dies(
    client: Any, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    client.post(INVITE, {**NEW, "email": "nia@exmaple.org"})
    member = User.objects.get(username="nia")
    astray = welcome_link(mail.outbox[0])
    response = client.post(
        colleague_url(member), {"part": "email", "invitation-email": " nia@example.org "}
    )
    assert response.status_code == 302 and response["Location"] == colleague_url(member)
    assert messages_of(response)[-1] == (
        f"{member}'s e-mail address is now nia@example.org. A link sent to the old one no "
        "longer works: send the invitation again."
    )
    member.refresh_from_db()
    assert member.email == "nia@example.org" and staff.is_invited(member)
    entry = AuditEntry.objects.filter(object_id=str(member.pk)).latest("pk")
    assert (entry.actor, entry.fields) == (clinic_admin, ["email"])
    # Whoever got the e-mail sent astray cannot choose the password.
    assert b"Choose your password" not in Browser().get(astray, follow=True).content
    client.post(reverse("staff:invitation", args=[member.pk]))
    assert mail.outbox[-1].to == ["nia@example.org"]
    opened = Browser().get(welcome_link(mail.outbox[-1]), follow=True)
    assert b"Choose your password" in opened.content


def test_an_address_given_to_a_colleague_added_without_one_lets_the_invitation_go(
    client: Any, clinic_admin: User
) -> None:
    member = User.objects.create(
        clinic=clinic_admin.clinic, username="nomail", is_therapist=True, password="!"
    )
    client.force_login(clinic_admin)
    response = client.post(
        colleague_url(member), {"part": "email", "invitation-email": "no@example.org"}
    )
    assert messages_of(response) == [
        f"{member}'s e-mail address is now no@example.org: send the invitation."
    ]
    sent = client.post(reverse("staff:invitation", args=[member.pk]))
    assert messages_of(sent)[-1] == "Invitation sent to no@example.org."
    assert mail.outbox[-1].to == ["no@example.org"]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("not an address", "Enter a valid email address."),
        ("TARA@example.org", "A colleague of this clinic already has this e-mail address."),
        ("", "This field is required."),
        ("a" * 250 + "@example.org", "Ensure this value has at most 254 characters"),
    ],
)
def test_a_bad_or_taken_address_is_said_with_what_was_typed_and_nothing_changes(
    client: Any, clinic_admin: User, therapist: User, typed: str, message: str
) -> None:
    therapist.email = "tara@example.org"
    therapist.save()
    member = staff.staff_invite(
        actor=clinic_admin,
        first_name="Nia",
        last_name="Okafor",
        email="nia@exmaple.org",
        username="nia",
        is_therapist=True,
    )
    trail = AuditEntry.objects.count()
    client.force_login(clinic_admin)
    response = client.post(colleague_url(member), {"part": "email", "invitation-email": typed})
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert f'value="{typed}"' in html or not typed
    assert "Username nia · nia@exmaple.org" in visible_text(html)
    member.refresh_from_db()
    assert member.email == "nia@exmaple.org" and AuditEntry.objects.count() == trail


def test_a_signed_in_colleagues_address_is_not_offered_and_a_crafted_post_changes_nothing(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    therapist.email = "tara@example.org"
    therapist.save()
    trail = AuditEntry.objects.count()
    client.force_login(clinic_admin)
    assert 'name="invitation-email"' not in client.get(colleague_url(therapist)).content.decode()
    response = client.post(
        colleague_url(therapist), {"part": "email", "invitation-email": "me@elsewhere.org"}
    )
    assert response.status_code == 200
    assert messages_of(response) == [
        f"{therapist} has signed in: their e-mail address is theirs to change, on their own "
        "account page."
    ]
    assert 'name="invitation-email"' not in response.content.decode()
    therapist.refresh_from_db()
    assert therapist.email == "tara@example.org" and AuditEntry.objects.count() == trail


@pytest.mark.parametrize("who", ["therapist", "supervisor"])
def test_only_a_clinic_admin_sets_an_invited_colleagues_address(
    client: Any, clinic_admin: User, who: str, request: Any
) -> None:
    member = staff.staff_invite(
        actor=clinic_admin,
        first_name="Nia",
        last_name="Okafor",
        email="nia@exmaple.org",
        username="nia",
        is_therapist=True,
    )
    client.force_login(request.getfixturevalue(who))
    response = client.post(
        colleague_url(member), {"part": "email", "invitation-email": "me@elsewhere.org"}
    )
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.email == "nia@exmaple.org"


def test_the_supervision_choices_offer_only_supervisors_and_only_therapists(
    client: Any,
    clinic_admin: User,
    therapist: User,
    supervisor: User,
    colleague: User,
    outsider: User,
) -> None:
    lead = SupervisorFactory(clinic=clinic_admin.clinic, username="lea", is_therapist=True)
    TherapistFactory(clinic=clinic_admin.clinic, username="gone", is_active=False)
    SupervisorFactory(clinic=outsider.clinic, username="osu")
    client.force_login(clinic_admin)
    # For a therapist already supervised by sue: the other supervisors.
    html = client.get(colleague_url(therapist)).content.decode()
    assert options(html, "supervisor-colleague") == {lead.pk}
    # For a supervisor: the therapists they do not yet supervise (lea is one too).
    html = client.get(colleague_url(supervisor)).content.decode()
    assert options(html, "supervisee-colleague") == {colleague.pk, lead.pk}


def test_a_clinic_admin_links_a_supervisor_and_ends_the_link(
    client: Any, clinic_admin: User, colleague: User, supervisor: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        colleague_url(colleague), {"part": "add-supervisor", "supervisor-colleague": supervisor.pk}
    )
    assert response["Location"] == colleague_url(colleague)
    link = Supervision.objects.get(supervisor=supervisor, therapist=colleague)
    ended = client.post(reverse("staff:supervision-end", args=[link.pk]), {"from": "therapist"})
    assert ended["Location"] == colleague_url(colleague)
    assert not Supervision.objects.filter(therapist=colleague).exists()


def test_end_clicked_twice_returns_to_the_page_saying_the_link_had_ended(
    client: Any, clinic_admin: User, therapist: User, supervisor: User, outsider: User
) -> None:
    """The second click of a double click on "End" met a "Not found" page."""
    link = Supervision.objects.get(supervisor=supervisor, therapist=therapist)
    url = reverse("staff:supervision-end", args=[link.pk])
    client.force_login(clinic_admin)
    page = client.get(colleague_url(therapist)).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(from|member)" value="(\w+)">', page))
    assert fields == {"from": "therapist", "member": str(therapist.pk)}
    client.post(url, fields)
    again = client.post(url, fields)
    assert again.status_code == 302 and again["Location"] == colleague_url(therapist)
    assert messages_of(again)[-1] == "That supervision link had ended already."
    assert AuditEntry.objects.filter(model="clients.supervision").count() == 1
    # Without the page it came from, or from another clinic's page, it is not found.
    assert client.post(url).status_code == 404
    assert client.post(url, {"member": outsider.pk}).status_code == 404


def test_a_link_ended_twice_at_the_same_moment_is_recorded_once(
    clinic_admin: User, therapist: User, supervisor: User
) -> None:
    """Both requests had read the link: each deleted it and recorded ending it."""
    link = Supervision.objects.get(supervisor=supervisor, therapist=therapist)
    read_twice = Supervision.objects.get(pk=link.pk)
    assert staff.supervision_remove(actor=clinic_admin, supervision=link) is True
    assert staff.supervision_remove(actor=clinic_admin, supervision=read_twice) is False
    assert AuditEntry.objects.filter(model="clients.supervision").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_a_supervisor_added_twice_at_once_is_one_link_and_a_message(
    client: Any, clinic_admin: User, colleague: User, supervisor: User
) -> None:
    """A double click on "Add": the second request read no link yet, and its insert met the
    first's; it answered 500 though the link was made."""
    problems: list[Exception] = []
    inserted, first = paused_once(
        lambda: staff.supervision_add(
            actor=clinic_admin, supervisor=supervisor, therapist=colleague
        ),
        lambda sql: sql.startswith("INSERT") and "clients_supervision" in sql,
        problems,
    )
    adding = on_a_connection_of_its_own(first)
    try:
        assert inserted.wait(10)
        client.force_login(clinic_admin)
        response = client.post(
            colleague_url(colleague),
            {"part": "add-supervisor", "supervisor-colleague": supervisor.pk},
        )
    finally:
        adding.join()
    assert problems == []
    assert response.status_code == 200
    assert "This supervisor already supervises this therapist." in visible_text(
        response.content.decode()
    )
    assert Supervision.objects.filter(supervisor=supervisor, therapist=colleague).count() == 1
    assert AuditEntry.objects.filter(model="clients.supervision").count() == 1


def test_a_crafted_supervisor_who_is_not_one_is_refused(
    client: Any, clinic_admin: User, therapist: User, colleague: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        colleague_url(therapist), {"part": "add-supervisor", "supervisor-colleague": colleague.pk}
    )
    assert response.status_code == 200 and b"Select a valid choice." in response.content
    assert not Supervision.objects.filter(supervisor=colleague).exists()


def test_roles_are_saved_and_a_refusal_is_shown_with_nothing_changed(
    client: Any, clinic_admin: User, therapist: User, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        colleague_url(therapist), {"part": "roles", "is_therapist": "on", "is_supervisor": "on"}
    )
    assert response["Location"] == colleague_url(therapist)
    therapist.refresh_from_db()
    assert therapist.is_supervisor
    refused = client.post(colleague_url(therapist), {"part": "roles", "is_supervisor": "on"})
    assert refused.status_code == 200
    assert "still has 1 client: move them first." in refused.content.decode()
    therapist.refresh_from_db()
    assert therapist.is_therapist


def test_an_admin_who_gives_up_the_role_lands_on_their_caseload_with_the_message(
    client: Any, clinic_admin: User
) -> None:
    """Their colleague page is for clinic admins: sent back to it, they met a 403."""
    ClinicAdminFactory(clinic=clinic_admin.clinic, username="abe")
    client.force_login(clinic_admin)
    response = client.post(colleague_url(clinic_admin), {"part": "roles", "is_therapist": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:caseload")
    landed = client.get(response["Location"])
    assert landed.status_code == 200
    assert messages_of(landed) == [f"{clinic_admin}'s roles saved."]
    clinic_admin.refresh_from_db()
    assert (clinic_admin.is_clinic_admin, clinic_admin.is_therapist) == (False, True)


def test_an_admin_who_keeps_the_role_returns_to_their_page(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        colleague_url(clinic_admin),
        {"part": "roles", "is_clinic_admin": "on", "is_therapist": "on"},
    )
    assert response["Location"] == colleague_url(clinic_admin)
    assert client.get(response["Location"]).status_code == 200


def test_an_unknown_part_saves_nothing(client: Any, clinic_admin: User, therapist: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        colleague_url(therapist), {"part": "is_superuser", "is_clinic_admin": "on"}
    )
    assert response.status_code == 200 and b"nothing was saved" in response.content
    therapist.refresh_from_db()
    assert not therapist.is_clinic_admin


def test_a_leavers_clients_move_after_a_confirmation_listing_them(
    client: Any, clinic_admin: User, therapist: User, colleague: User
) -> None:
    twins = [ClientFactory(therapist=therapist, label="L.B.", external_id=f"X-{n}") for n in (1, 2)]
    url = reverse("staff:move-clients", args=[therapist.pk])
    client.force_login(clinic_admin)
    assert options(client.get(url).content.decode(), "therapist") == {colleague.pk}
    confirm = client.post(url, {"therapist": colleague.pk})
    html = confirm.content.decode()
    assert f"Move 2 clients from {therapist} to {colleague}?" in html
    assert "X-1" in html and "X-2" in html  # the two L.B. told apart
    assert colleague.caseload.count() == 0
    late = ClientFactory(therapist=therapist, label="Late")
    fields = re.findall(r'name="clients" value="(\d+)"', html)
    done = client.post(url, {"therapist": colleague.pk, "confirmed": "True", "clients": fields})
    assert done["Location"] == colleague_url(therapist)
    assert messages_of(done) == [f"2 clients moved to {colleague}."]
    assert set(colleague.caseload.all()) == set(twins)
    assert list(therapist.caseload.all()) == [late]


def test_a_confirmation_with_a_client_of_someone_else_moves_nothing(
    client: Any, clinic_admin: User, therapist: User, colleague: User, colleague_client: Client
) -> None:
    ClientFactory(therapist=therapist)
    client.force_login(clinic_admin)
    url = reverse("staff:move-clients", args=[therapist.pk])
    data = {"therapist": colleague.pk, "confirmed": "True", "clients": [colleague_client.pk]}
    response = client.post(url, data)
    assert response.status_code == 200
    assert "The list of clients changed since it was shown" in response.content.decode()
    assert therapist.caseload.count() == 1
    colleague_client.refresh_from_db()
    assert colleague_client.therapist == colleague


def test_deactivation_asks_for_the_clients_to_move_first(
    client: Any, clinic_admin: User, therapist: User, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    url = reverse("staff:deactivate", args=[therapist.pk])
    assert (
        "Move Tara" in client.get(url).content.decode()
        or "first" in client.get(url).content.decode()
    )
    response = client.post(url)
    assert response["Location"] == colleague_url(therapist)
    assert "still has 1 client: move them first." in messages_of(response)[0]
    therapist.refresh_from_db()
    assert therapist.is_active


def test_a_clinic_admin_deactivates_and_reactivates_a_colleague(
    client: Any, clinic_admin: User, colleague: User
) -> None:
    client.force_login(clinic_admin)
    url = reverse("staff:deactivate", args=[colleague.pk])
    assert f"Deactivate {colleague}?" in client.get(url).content.decode()
    response = client.post(url)
    assert messages_of(response) == [f"{colleague} is deactivated: they can no longer log in."]
    colleague.refresh_from_db()
    assert not colleague.is_active
    page = client.get(colleague_url(colleague)).content.decode()
    assert "cannot log in" in page
    client.post(reverse("staff:reactivate", args=[colleague.pk]))
    colleague.refresh_from_db()
    assert colleague.is_active


def test_an_admin_is_not_offered_to_deactivate_themselves(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    html = client.get(colleague_url(clinic_admin)).content.decode()
    assert reverse("staff:deactivate", args=[clinic_admin.pk]) not in html
    response = client.post(reverse("staff:deactivate", args=[clinic_admin.pk]))
    assert "cannot deactivate yourself" in messages_of(response)[0]


def test_a_large_clinics_people_come_fifty_to_a_page(client: Any, clinic_admin: User) -> None:
    for number in range(50):
        TherapistFactory(clinic=clinic_admin.clinic, username=f"t{number:02d}")
    client.force_login(clinic_admin)
    first = client.get(LIST).content.decode()
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = client.get(LIST, {"page": "2"}).content.decode()
    assert "Page 2 of 2" in second and 'href="?page=1"' in second
    assert (
        "Page 1 of 2" in client.get(LIST, {"page": "x"}).content.decode()
    )  # a bad page: the first


@pytest.mark.parametrize("username", ["TARA", "ｔａｒａ"])
def test_a_taken_username_is_said_beside_a_bad_address(
    client: Any, clinic_admin: User, therapist: User, username: str
) -> None:
    client.force_login(clinic_admin)
    html = client.post(INVITE, {**NEW, "email": "nia@", "username": username}).content.decode()
    assert "Enter a valid email address." in html and "Someone already has this username" in html


def test_a_select_with_nobody_to_offer_is_left_out(
    client: Any, clinic_admin: User, colleague: User
) -> None:
    client.force_login(clinic_admin)
    html = client.get(colleague_url(colleague)).content.decode()
    assert "No other active supervisor to add." in html
    assert 'name="supervisor-colleague"' not in html


def test_a_role_refusal_counts_discharged_clients_apart(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    ClientFactory(therapist=therapist)
    ClientFactory(therapist=therapist, status=Client.Status.DISCHARGED)
    client.force_login(clinic_admin)
    refused = client.post(colleague_url(therapist), {"part": "roles", "is_supervisor": "on"})
    assert "still has 2 clients (1 discharged): move them first." in refused.content.decode()


# --- The invitation's own page ------------------------------------------------------------


def invited(admin: User, username: str = "okafor7") -> User:
    return staff.staff_invite(
        actor=admin,
        first_name="Nia",
        last_name="Okafor",
        email=f"{username}@example.org",
        username=username,
        is_therapist=True,
    )


def link_of(member: User) -> str:
    return "/" + staff_invitations.invitation_url(member).split("://", 1)[1].split("/", 1)[1]


def choose_password(browser: Any, link: str) -> str:
    """Open the link and choose a password; the address of the form it redirected to."""
    opened = browser.get(link, follow=True)
    form = opened.redirect_chain[-1][0]
    password = "a long fresh passphrase"
    done = browser.post(form, {"new_password1": password, "new_password2": password})
    assert done.status_code == 302
    return form


def told(response: Any) -> str:
    return visible_text(response.content.decode())


def test_a_used_invitation_says_so_and_offers_to_log_in_naming_nobody(
    client: Any, clinic_admin: User
) -> None:
    """It answered 200 "It was used already or it expired. Ask your clinic admin to send it
    again", which the admin could not do (the colleague has a password)."""
    member = invited(clinic_admin)
    link = link_of(member)
    form = choose_password(client, link)
    # The link opened again (from the e-mail), and the colleague going Back to the form.
    for response in (Browser().get(link), client.get(form)):
        assert response.status_code == 410
        text = told(response)
        assert "This invitation was used" in text
        assert "Log in with your username and that password." in text
        assert f'href="{reverse("login")}"' in response.content.decode()
        assert "okafor7" not in text and "Okafor" not in text and "Nia" not in text
        assert "ask your clinic admin" not in text.lower()
    refused = Browser().post(link, {"new_password1": "x" * 20, "new_password2": "x" * 20})
    assert refused.status_code == 410
    member.refresh_from_db()
    assert member.check_password("a long fresh passphrase")


def test_an_expired_invitation_says_so(
    client: Any, clinic_admin: User, monkeypatch: Any, settings: Any
) -> None:
    link = link_of(invited(clinic_admin))
    later = dt.datetime.now() + dt.timedelta(days=settings.ALLIANCE_STAFF_INVITATION_DAYS, hours=1)
    monkeypatch.setattr(staff_invitations.invitation_tokens, "_now", lambda: later)
    response = client.get(link)
    assert response.status_code == 410
    text = told(response)
    assert "This invitation expired" in text and "An invitation works for 7 days." in text
    assert "Ask your clinic admin to send it again" in text and "okafor7" not in text


def test_an_invitation_sent_again_says_the_earlier_link_was_replaced(
    client: Any, clinic_admin: User
) -> None:
    member = invited(clinic_admin)
    earlier = link_of(member)
    staff_invitations.invitation_send(actor=clinic_admin, member=member)
    response = client.get(earlier)
    assert response.status_code == 410
    assert "This invitation was replaced" in told(response)
    assert "Choose your password" in told(client.get(welcome_link(mail.outbox[-1]), follow=True))


@pytest.mark.parametrize(
    "forge",
    [
        "garbage",
        "cut short",
        "nobody",
        "another's",
        "password chosen",
        "deactivated",
        "no session",
    ],
)
def test_a_link_we_did_not_make_or_that_cannot_open_says_it_does_not_work(
    client: Any, clinic_admin: User, therapist: User, forge: str
) -> None:
    """A guessed address says nothing of anyone: not even that someone has chosen a
    password (only a link made for them says it was used)."""
    member = invited(clinic_admin)
    link = link_of(member)
    uid = link.split("/")[3]
    other = link_of(invited(clinic_admin, "lee"))
    paths = {
        "garbage": f"/staff/welcome/{uid}/abc-def/",
        "cut short": link[: link.index("-") + 10] + "/",
        "nobody": link.replace(f"/{uid}/", "/OTk5OTk5/"),
        "another's": link.replace(f"/{uid}/", f"/{other.split('/')[3]}/"),
        "password chosen": link.replace(
            f"/{uid}/", f"/{urlsafe_base64_encode(str(therapist.pk).encode())}/"
        ),
        "deactivated": link,
        "no session": f"/staff/welcome/{uid}/set-password/",
    }
    if forge == "deactivated":
        staff.staff_deactivate(actor=clinic_admin, member=member)
    response = client.get(paths[forge])
    assert response.status_code == 404
    text = told(response)
    assert "This invitation link does not work" in text and "was used" not in text
    assert "okafor7" not in text and "tara" not in text


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_a_colleague_deactivated_as_they_choose_their_password_stays_deactivated(
    client: Any, clinic_admin: User
) -> None:
    """The page read the colleague (active) before the deactivation committed, then saved
    the whole row as read: the colleague was active again, with the password they chose."""
    member = invited(clinic_admin)
    form = client.get(link_of(member), follow=True).redirect_chain[-1][0]
    password = "a long fresh passphrase"
    with meanwhile(
        lambda: staff.staff_deactivate(actor=clinic_admin, member=User.objects.get(pk=member.pk)),
        is_active_written,
    ):
        response = client.post(form, {"new_password1": password, "new_password2": password})
    assert response.status_code == 404
    assert "This invitation link does not work" in told(response)
    member.refresh_from_db()
    assert not member.is_active and not member.has_usable_password()
    assert not AuditEntry.objects.filter(object_id=str(member.pk), fields=["password"]).exists()


def test_the_password_form_sent_twice_chooses_it_once_and_says_the_invitation_was_used(
    client: Any, clinic_admin: User
) -> None:
    member = invited(clinic_admin)
    form = client.get(link_of(member), follow=True).redirect_chain[-1][0]
    password = "a long fresh passphrase"
    first = client.post(form, {"new_password1": password, "new_password2": password})
    assert first.status_code == 302 and first["Location"] == reverse("password_reset_complete")
    again = client.post(
        form, {"new_password1": "another passphrase", "new_password2": "another passphrase"}
    )
    assert again.status_code == 410 and "This invitation was used" in told(again)
    member.refresh_from_db()
    assert member.check_password(password)
    assert AuditEntry.objects.filter(object_id=str(member.pk), fields=["password"]).count() == 1
