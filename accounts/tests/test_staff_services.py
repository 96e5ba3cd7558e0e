"""accounts.staff, accounts.staff_invitations and clients.moves: the writes behind the
clinic admin's staff pages."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pytest
from django.contrib.sessions.models import Session as SignedInSession
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.test import Client as Browser

from accounts import staff, staff_invitations
from accounts.services import reset_tokens
from accounts.tests.steps import log_in, signed_in_as
from clients import moves, services
from clients.models import AuditAction, AuditEntry, Client, Clinic, Supervision, User
from clients.tests.factories import ClientFactory, ClinicAdminFactory, TherapistFactory
from measures.tests.racing import (
    is_active_written,
    meanwhile,
    on_a_connection_of_its_own,
    paused_once,
    takes_a_lock,
)

pytestmark = pytest.mark.django_db

NEW = {
    "first_name": "Nia",
    "last_name": "Okafor",
    "email": "nia@example.org",
    "username": "nia",
    "is_therapist": True,
}


def invite(actor: User, **changes: Any) -> User:
    return staff.staff_invite(actor=actor, **{**NEW, **changes})


# --- Invitations -------------------------------------------------------------------------


def test_an_invited_colleague_joins_the_admins_clinic_without_a_password(
    clinic_admin: User,
) -> None:
    member = invite(clinic_admin, is_supervisor=True)
    assert (member.clinic, member.get_full_name(), member.email) == (
        clinic_admin.clinic,
        "Nia Okafor",
        "nia@example.org",
    )
    assert (member.is_therapist, member.is_supervisor, member.is_clinic_admin) == (
        True,
        True,
        False,
    )
    assert not member.has_usable_password() and staff.is_invited(member)
    entry = AuditEntry.objects.get(model="clients.user", object_id=str(member.pk))
    assert (entry.action, entry.actor) == (AuditAction.CREATED, clinic_admin)


def test_the_invitation_email_names_the_clinic_and_holds_a_welcome_link(
    clinic_admin: User, settings: Any
) -> None:
    settings.ALLIANCE_BASE_URL = "https://alliance.example.org"
    member = invite(clinic_admin)
    assert staff_invitations.invitation_send(actor=clinic_admin, member=member) is True
    [message] = mail.outbox
    assert message.to == ["nia@example.org"]
    assert message.subject == "You are invited to Riverside on Alliance"
    assert "has invited you to Alliance, as therapist." in message.body
    assert "https://alliance.example.org/staff/welcome/" in message.body
    assert "expires in 7 days" in message.body and "Your username is nia." in message.body


def test_a_clinic_name_with_a_line_break_still_makes_a_one_line_subject(
    clinic_admin: User,
) -> None:
    """A name stored before names were checked: the subject with it broke the mail's
    headers, and Django refused to send (a 500, the colleague without an invitation)."""
    Clinic.objects.filter(pk=clinic_admin.clinic_id).update(name="River\r\nBcc: x@example.org")
    member = invite(User.objects.get(pk=clinic_admin.pk))
    assert staff_invitations.invitation_send(actor=clinic_admin, member=member) is True
    [message] = mail.outbox
    assert message.subject == "You are invited to RiverBcc: x@example.org on Alliance"
    assert message.to == ["nia@example.org"] and not message.bcc


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "TARA"}, "username", "Someone already has this username"),
        # Full-width letters: stored as "TARA" (Django folds them, NFKC), which the check
        # made before folding let through beside "tara".
        ({"username": "ＴＡＲＡ"}, "username", "Someone already has this username"),
        ({"email": "Tara@Example.org"}, "email", "already has this e-mail address"),
    ],
)
def test_a_taken_username_or_address_is_refused(
    clinic_admin: User, therapist: User, changes: dict[str, str], field: str, message: str
) -> None:
    therapist.email = "tara@example.org"
    therapist.save()
    before = User.objects.count()
    with pytest.raises(ValidationError) as refused:
        invite(clinic_admin, **changes)
    assert message in " ".join(refused.value.message_dict[field])
    assert User.objects.count() == before


def test_a_colleagues_address_is_refused_in_the_django_admins_forms_too(
    clinic_admin: User, therapist: User, other_clinic: Clinic
) -> None:
    """Adding or correcting a colleague there took an address already a colleague's, which
    the invitation form refuses: both were sent the other's password-reset links."""
    therapist.email = "tara@example.org"
    therapist.save()
    member = invite(clinic_admin)
    with pytest.raises(ValidationError) as refused:
        staff.staff_change(actor=clinic_admin, member=member, data={"email": "TARA@example.org"})
    assert refused.value.message_dict["email"] == [staff.EMAIL_TAKEN]
    with pytest.raises(ValidationError, match="already has this e-mail address"):
        services.staff_create(
            actor=clinic_admin,
            clinic=clinic_admin.clinic,
            username="lee",
            password=None,
            email="tara@example.org",
        )
    # Moved to a clinic where a colleague has the address.
    TherapistFactory(clinic=other_clinic, username="odo", email="nia@example.org")
    superuser = User.objects.create_superuser(username="root", password="x")
    with pytest.raises(ValidationError, match="already has this e-mail address"):
        staff.staff_change(actor=superuser, member=member, data={"clinic": other_clinic})
    member.refresh_from_db()
    assert (member.email, member.clinic) == ("nia@example.org", clinic_admin.clinic)
    assert not User.objects.filter(username="lee").exists()
    # Another clinic's colleague may have it: nothing of that clinic is to be seen here.
    TherapistFactory(clinic=other_clinic, username="oli", email="lee@example.org")
    services.staff_create(
        actor=clinic_admin,
        clinic=clinic_admin.clinic,
        username="lee",
        password=None,
        email="lee@example.org",
    )


def test_an_invitation_without_a_role_is_refused(clinic_admin: User) -> None:
    with pytest.raises(ValidationError, match="at least one role"):
        invite(clinic_admin, is_therapist=False)
    assert not User.objects.filter(username="nia").exists()


@pytest.mark.parametrize("who", ["therapist", "supervisor"])
def test_only_a_clinic_admin_invites(who: str, request: Any) -> None:
    with pytest.raises(PermissionDenied):
        invite(request.getfixturevalue(who))
    assert not User.objects.filter(username="nia").exists()


def test_the_welcome_link_sets_the_password_once(clinic_admin: User, client: Any) -> None:
    member = invite(clinic_admin)
    link = staff_invitations.invitation_url(member).split("://", 1)[1].split("/", 1)[1]
    opened = client.get(f"/{link}", follow=True)
    assert b"Welcome to Alliance" in opened.content and b"nia" in opened.content
    set_password = opened.redirect_chain[-1][0]
    done = client.post(
        set_password,
        {"new_password1": "a long fresh passphrase", "new_password2": "a long fresh passphrase"},
    )
    assert done.status_code == 302
    member.refresh_from_db()
    assert member.check_password("a long fresh passphrase") and not staff.is_invited(member)
    accepted = AuditEntry.objects.get(action=AuditAction.CHANGED, fields=["password"])
    assert (accepted.actor, accepted.object_id) == (member, str(member.pk))
    # Used: the same link no longer works.
    again = Browser().get(f"/{link}", follow=True)
    assert b"This invitation was used" in again.content


def test_the_welcome_link_expires(clinic_admin: User, monkeypatch: Any, settings: Any) -> None:
    member = invite(clinic_admin)
    token = staff_invitations.invitation_tokens.make_token(member)
    later = dt.datetime.now() + dt.timedelta(days=settings.ALLIANCE_STAFF_INVITATION_DAYS, hours=1)
    assert staff_invitations.invitation_tokens.check_token(member, token)
    monkeypatch.setattr(staff_invitations.invitation_tokens, "_now", lambda: later)
    assert not staff_invitations.invitation_tokens.check_token(member, token)


def test_a_link_tells_used_expired_and_replaced_apart_only_when_we_made_it(
    clinic_admin: User, therapist: User, monkeypatch: Any, settings: Any
) -> None:
    member = invite(clinic_admin)
    tokens = staff_invitations.invitation_tokens
    first = tokens.make_token(member)
    # A link made before links carried their second hash still opens.
    assert tokens.link_state(member, first.rsplit("-", 1)[0]) is staff_invitations.LinkState.OPEN
    staff_invitations.invitation_send(actor=clinic_admin, member=member)
    member.refresh_from_db()
    assert tokens.link_state(member, first) is staff_invitations.LinkState.REPLACED
    latest = tokens.make_token(member)
    later = dt.datetime.now() + dt.timedelta(days=settings.ALLIANCE_STAFF_INVITATION_DAYS, hours=1)
    with monkeypatch.context() as patched:
        patched.setattr(tokens, "_now", lambda: later)
        assert tokens.link_state(member, latest) is staff_invitations.LinkState.EXPIRED
    member.set_password("a long fresh passphrase")
    member.save()
    assert tokens.link_state(member, latest) is staff_invitations.LinkState.USED
    assert tokens.link_state(member, first) is staff_invitations.LinkState.USED
    # Made for someone else, it says nothing of the one whose address it is put on.
    assert tokens.link_state(therapist, latest) is staff_invitations.LinkState.UNKNOWN
    assert tokens.link_state(member, latest + "0" * 200) is staff_invitations.LinkState.UNKNOWN


def test_a_password_reset_token_is_no_invitation_nor_the_reverse(clinic_admin: User) -> None:
    member = invite(clinic_admin)
    tokens = staff_invitations.invitation_tokens
    assert not tokens.check_token(member, reset_tokens.make_token(member))
    assert not reset_tokens.check_token(member, tokens.make_token(member))
    assert not tokens.check_token(member, "garbage")
    assert not tokens.check_token(member, "zz-abc")


def test_an_invitation_is_not_sent_to_someone_with_a_password(
    clinic_admin: User, therapist: User
) -> None:
    with pytest.raises(ValidationError, match="already chosen a password"):
        staff_invitations.invitation_send(actor=clinic_admin, member=therapist)
    assert mail.outbox == []


def test_an_invited_colleagues_address_is_corrected_and_recorded_and_only_theirs(
    clinic_admin: User, other_clinic: Clinic
) -> None:
    member = invite(clinic_admin, email="nia@exmaple.org")
    earlier = staff_invitations.invitation_tokens.make_token(member)
    assert staff.staff_email_set(actor=clinic_admin, member=member, email="nia@example.org")
    assert not invitation_works(member, earlier)
    entry = AuditEntry.objects.filter(object_id=str(member.pk)).latest("pk")
    assert (entry.actor, entry.action, entry.fields) == (
        clinic_admin,
        AuditAction.CHANGED,
        ["email"],
    )
    # The same address again changes and records nothing.
    trail = AuditEntry.objects.count()
    assert not staff.staff_email_set(actor=clinic_admin, member=member, email="nia@example.org")
    assert AuditEntry.objects.count() == trail
    # Another clinic's admin sets nothing.
    stranger = ClinicAdminFactory(clinic=other_clinic, username="stan")
    with pytest.raises(PermissionDenied):
        staff.staff_email_set(actor=stranger, member=member, email="stan@example.org")


def test_a_deactivated_or_signed_in_colleagues_address_is_not_set_by_an_admin(
    clinic_admin: User, therapist: User
) -> None:
    member = invite(clinic_admin)
    staff.staff_deactivate(actor=clinic_admin, member=member)
    trail = AuditEntry.objects.count()
    with pytest.raises(ValidationError, match="is deactivated: reactivate them first"):
        staff.staff_email_set(actor=clinic_admin, member=member, email="new@example.org")
    with pytest.raises(ValidationError, match="theirs to change, on their own account page"):
        staff.staff_email_set(actor=clinic_admin, member=therapist, email="new@example.org")
    with pytest.raises(ValidationError, match="theirs to change"):
        staff.staff_email_set(actor=clinic_admin, member=clinic_admin, email="new@example.org")
    assert AuditEntry.objects.count() == trail
    assert not User.objects.filter(email="new@example.org").exists()


# --- Roles and supervision ---------------------------------------------------------------


def roles(**given: bool) -> dict[str, bool]:
    return {"is_therapist": False, "is_supervisor": False, "is_clinic_admin": False, **given}


def test_roles_change_and_are_recorded(clinic_admin: User, colleague: User) -> None:
    staff.staff_roles_set(
        actor=clinic_admin, member=colleague, **roles(is_therapist=True, is_supervisor=True)
    )
    colleague.refresh_from_db()
    assert colleague.is_supervisor
    entry = AuditEntry.objects.get(action=AuditAction.CHANGED, model="clients.user")
    assert (entry.actor, entry.fields) == (clinic_admin, ["is_supervisor"])


def test_a_therapist_keeps_the_role_while_they_have_clients(
    clinic_admin: User, therapist: User, client_record: Client, supervisor: User
) -> None:
    with pytest.raises(ValidationError) as refused:
        staff.staff_roles_set(actor=clinic_admin, member=therapist, **roles(is_supervisor=True))
    text = " ".join(refused.value.messages)
    assert "still has 1 client:" in text and "is still supervised" in text
    therapist.refresh_from_db()
    assert therapist.is_therapist and not therapist.is_supervisor


def test_a_supervisor_keeps_the_role_while_they_supervise(
    clinic_admin: User, supervisor: User
) -> None:
    with pytest.raises(ValidationError, match="still supervises"):
        staff.staff_roles_set(actor=clinic_admin, member=supervisor, **roles(is_therapist=True))


def test_the_clinics_last_active_admin_keeps_the_role(clinic_admin: User) -> None:
    with pytest.raises(ValidationError, match="only active clinic admin"):
        staff.staff_roles_set(actor=clinic_admin, member=clinic_admin, **roles(is_therapist=True))
    second = ClinicAdminFactory(clinic=clinic_admin.clinic, username="abe")
    staff.staff_roles_set(actor=clinic_admin, member=second, **roles(is_therapist=True))
    second.refresh_from_db()
    assert not second.is_clinic_admin


def test_no_roles_at_all_is_refused(clinic_admin: User, colleague: User) -> None:
    with pytest.raises(ValidationError, match="at least one role"):
        staff.staff_roles_set(actor=clinic_admin, member=colleague, **roles())


def test_only_a_supervisor_supervises_and_only_a_therapist_is_supervised(
    clinic_admin: User, therapist: User, colleague: User
) -> None:
    with pytest.raises(ValidationError, match="does not hold the supervisor role"):
        staff.supervision_add(actor=clinic_admin, supervisor=colleague, therapist=therapist)
    assert not Supervision.objects.exists()


def test_another_clinics_admin_links_nobody_here(
    therapist: User, supervisor: User, other_clinic: Any
) -> None:
    other_admin = ClinicAdminFactory(clinic=other_clinic, username="oda")
    Supervision.objects.all().delete()
    with pytest.raises(PermissionDenied):
        staff.supervision_add(actor=other_admin, supervisor=supervisor, therapist=therapist)
    assert not Supervision.objects.exists()


# --- Moving clients and deactivating -----------------------------------------------------


def test_a_caseload_moves_exactly_the_confirmed_clients(
    clinic_admin: User, therapist: User, colleague: User
) -> None:
    confirmed = [ClientFactory(therapist=therapist, label=f"C{n}") for n in range(3)]
    confirmed[2].status = Client.Status.DISCHARGED
    confirmed[2].save()
    added_since = ClientFactory(therapist=therapist, label="New")
    moved = moves.caseload_move(
        actor=clinic_admin,
        leaver=therapist,
        therapist=colleague,
        client_ids=[client.pk for client in confirmed],
    )
    assert moved == 3
    assert set(colleague.caseload.all()) == set(confirmed)
    assert list(therapist.caseload.all()) == [added_since]
    entries = AuditEntry.objects.filter(action=AuditAction.CHANGED, model="clients.client")
    assert sorted(entries.values_list("client_id", flat=True)) == sorted(c.pk for c in confirmed)
    assert {tuple(entry.fields) for entry in entries} == {("therapist",)}


def test_a_caseload_moves_only_to_an_active_therapist_of_the_clinic(
    clinic_admin: User, therapist: User, client_record: Client, outsider: User, supervisor: User
) -> None:
    gone = TherapistFactory(clinic=therapist.clinic, username="gone", is_active=False)
    for receiver in (outsider, supervisor, gone, therapist):
        with pytest.raises(ValidationError):
            moves.caseload_move(
                actor=clinic_admin,
                leaver=therapist,
                therapist=receiver,
                client_ids=[client_record.pk],
            )
    client_record.refresh_from_db()
    assert client_record.therapist == therapist


def moving_in_a_thread(
    actor: User, leaver: User, receiver: User, problems: list[Exception]
) -> tuple[Any, Any]:
    """A leaver's caseload moving to `receiver` on a connection of its own, paused once it
    holds its first lock (another admin's request, at the same moment)."""
    client_ids = list(leaver.caseload.values_list("pk", flat=True))
    receiver = User.objects.get(pk=receiver.pk)  # its own copy, as that request reads it
    locked, move = paused_once(
        lambda: moves.caseload_move(
            actor=actor, leaver=leaver, therapist=receiver, client_ids=client_ids
        ),
        takes_a_lock,
        problems,
    )
    return locked, on_a_connection_of_its_own(move)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
@pytest.mark.parametrize("change", ["deactivate", "therapist role"])
def test_a_colleague_receiving_clients_is_not_deactivated_at_the_same_moment(
    clinic: Clinic, change: str
) -> None:
    """One admin moves a leaver's clients to Colin while another deactivates Colin (or
    takes his therapist role), who held none when the page was drawn: both went through,
    and the clients were left with a therapist who could not sign in."""
    admin, other_admin = ClinicAdminFactory(clinic=clinic), ClinicAdminFactory(clinic=clinic)
    leaver = TherapistFactory(clinic=clinic)
    receiver = TherapistFactory(clinic=clinic, is_supervisor=True)
    ClientFactory.create_batch(2, therapist=leaver)
    problems: list[Exception] = []
    locked, moving = moving_in_a_thread(admin, leaver, receiver, problems)
    try:
        assert locked.wait(10)
        with pytest.raises(ValidationError, match="still has 2 clients"):
            if change == "deactivate":
                staff.staff_deactivate(actor=other_admin, member=receiver)
            else:
                staff.staff_roles_set(
                    actor=other_admin, member=receiver, **roles(is_supervisor=True)
                )
    finally:
        moving.join()
    assert problems == []
    receiver.refresh_from_db()
    assert (receiver.is_active, receiver.is_therapist) == (True, True)
    assert receiver.caseload.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_clients_are_not_moved_to_a_colleague_deactivated_at_the_same_moment(
    clinic: Clinic,
) -> None:
    admin, other_admin = ClinicAdminFactory(clinic=clinic), ClinicAdminFactory(clinic=clinic)
    leaver, receiver = TherapistFactory(clinic=clinic), TherapistFactory(clinic=clinic)
    ClientFactory.create_batch(2, therapist=leaver)
    problems: list[Exception] = []
    deactivated, deactivating = paused_once(
        # Its own copy, as the other admin's request reads it.
        lambda: staff.staff_deactivate(actor=other_admin, member=User.objects.get(pk=receiver.pk)),
        lambda sql: sql.startswith("UPDATE") and '"is_active"' in sql,
        problems,
    )
    thread = on_a_connection_of_its_own(deactivating)
    try:
        assert deactivated.wait(10)
        with pytest.raises(ValidationError, match=moves.NOT_A_RECEIVER):
            moves.caseload_move(
                actor=admin,
                leaver=leaver,
                therapist=receiver,
                client_ids=list(leaver.caseload.values_list("pk", flat=True)),
            )
    finally:
        thread.join()
    assert problems == []
    assert leaver.caseload.count() == 2


def _another_admin_changes(colin: User, other_admin: User, change: str) -> None:
    """Another admin deactivates Colin, or takes his therapist role, from a copy of his row
    of their own, as their request reads it."""
    member = User.objects.get(pk=colin.pk)
    if change == "deactivate":
        staff.staff_deactivate(actor=other_admin, member=member)
    else:
        staff.staff_roles_set(actor=other_admin, member=member, **roles(is_supervisor=True))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
@pytest.mark.parametrize("change", ["deactivate", "therapist role"])
def test_a_client_is_not_added_for_a_colleague_deactivated_at_the_same_moment(
    clinic: Clinic, change: str
) -> None:
    """One admin adds a client for Colin while another deactivates him (or takes his
    therapist role): both went through, leaving a client with a therapist who could not
    sign in. Now the new client finds Colin changed and is not added."""
    admin, other_admin = ClinicAdminFactory(clinic=clinic), ClinicAdminFactory(clinic=clinic)
    colin = TherapistFactory(clinic=clinic, is_supervisor=True)
    refusal = "is deactivated" if change == "deactivate" else "does not hold the therapist role"
    other_admins_change = partial(_another_admin_changes, colin, other_admin, change)
    with (
        meanwhile(other_admins_change, is_active_written),
        pytest.raises(ValidationError, match=refusal),
    ):
        services.client_create(actor=admin, therapist=colin, label="J.D.")
    colin.refresh_from_db()
    assert (colin.is_active, colin.is_therapist) == (
        (False, True) if change == "deactivate" else (True, False)
    )
    assert not Client.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_a_colleague_being_given_a_client_is_not_deactivated_at_the_same_moment(
    clinic: Clinic,
) -> None:
    """The other way round: the client is being added when the deactivation starts. It
    waits for the client, then finds him holding one."""
    admin, other_admin = ClinicAdminFactory(clinic=clinic), ClinicAdminFactory(clinic=clinic)
    colin = TherapistFactory(clinic=clinic)
    problems: list[Exception] = []
    locked, adding = paused_once(
        lambda: services.client_create(
            actor=admin, therapist=User.objects.get(pk=colin.pk), label="J.D."
        ),
        takes_a_lock,
        problems,
    )
    thread = on_a_connection_of_its_own(adding)
    try:
        assert locked.wait(10)
        with pytest.raises(ValidationError, match="still has 1 client"):
            staff.staff_deactivate(actor=other_admin, member=colin)
    finally:
        thread.join()
    assert problems == []
    colin.refresh_from_db()
    assert colin.is_active and colin.caseload.count() == 1


def deactivating_in_a_thread(
    actor: User, member: User, problems: list[Exception]
) -> tuple[Any, Any]:
    """`member` deactivated on a connection of its own, paused once it has written the
    deactivation (another admin's request at the same moment, not yet committed)."""
    member = User.objects.get(pk=member.pk)  # its own copy, as that request reads it
    written, deactivate = paused_once(
        lambda: staff.staff_deactivate(actor=actor, member=member),
        lambda sql: sql.startswith("UPDATE") and "is_active" in sql,
        problems,
    )
    return written, on_a_connection_of_its_own(deactivate)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
@pytest.mark.parametrize("second", ["roles", "deactivate", "admin's form"])
def test_a_colleague_deactivated_while_another_admin_acts_on_them_stays_deactivated(
    clinic: Clinic, second: str
) -> None:
    """The second admin's request read the colleague before the deactivation committed,
    waited for its lock, then saved the whole row as it had read it: a change of roles
    made the colleague active again (signed out, links ended, yet able to sign in: their
    old invitation link opened again), and a second "Deactivate" (a double click) recorded
    a second deactivation."""
    admin, other_admin = ClinicAdminFactory(clinic=clinic), ClinicAdminFactory(clinic=clinic)
    member = invite(admin)
    link = staff_invitations.invitation_tokens.make_token(member)
    read_before = User.objects.get(pk=member.pk)
    problems: list[Exception] = []
    written, deactivating = deactivating_in_a_thread(admin, member, problems)
    try:
        assert written.wait(10)
        if second == "roles":
            staff.staff_roles_set(
                actor=other_admin,
                member=read_before,
                **roles(is_therapist=True, is_supervisor=True),
            )
        elif second == "admin's form":
            staff.staff_change(actor=other_admin, member=read_before, data={"last_name": "Oka"})
        else:
            with pytest.raises(ValidationError, match="is already deactivated"):
                staff.staff_deactivate(actor=other_admin, member=read_before)
    finally:
        deactivating.join()
    assert problems == []
    member.refresh_from_db()
    assert not member.is_active
    assert not staff_invitations.invitation_tokens.check_token(member, link)
    deactivations = AuditEntry.objects.filter(
        object_id=str(member.pk), fields__contains="is_active"
    )
    assert deactivations.count() == 1


def test_a_therapist_cannot_move_their_own_caseload(
    therapist: User, colleague: User, client_record: Client
) -> None:
    with pytest.raises(PermissionDenied):
        moves.caseload_move(
            actor=therapist, leaver=therapist, therapist=colleague, client_ids=[client_record.pk]
        )


def test_a_colleague_with_clients_is_not_deactivated(
    clinic_admin: User, therapist: User, client_record: Client
) -> None:
    with pytest.raises(ValidationError, match="still has 1 client"):
        staff.staff_deactivate(actor=clinic_admin, member=therapist)
    therapist.refresh_from_db()
    assert therapist.is_active


def test_nobody_deactivates_themselves_and_a_deactivated_admin_acts_no_more(
    clinic_admin: User,
) -> None:
    """So the clinic always keeps an active admin: whoever deactivates is one."""
    with pytest.raises(ValidationError, match="cannot deactivate yourself"):
        staff.staff_deactivate(actor=clinic_admin, member=clinic_admin)
    other = ClinicAdminFactory(clinic=clinic_admin.clinic, username="abe")
    staff.staff_deactivate(actor=clinic_admin, member=other)
    with pytest.raises(PermissionDenied):
        staff.staff_deactivate(actor=other, member=clinic_admin)
    clinic_admin.refresh_from_db()
    assert clinic_admin.is_active


def test_deactivating_ends_sign_in_sessions_and_supervision_links(
    clinic_admin: User, therapist: User, supervisor: User
) -> None:
    browser = Browser()
    log_in(browser, "tara")
    assert signed_in_as(browser) == therapist.pk
    staff.staff_deactivate(actor=clinic_admin, member=therapist)
    therapist.refresh_from_db()
    assert not therapist.is_active
    assert not Supervision.objects.exists()
    assert (
        AuditEntry.objects.filter(action=AuditAction.ENDED, model="clients.supervision").count()
        == 1
    )
    changed = AuditEntry.objects.get(action=AuditAction.CHANGED, object_id=str(therapist.pk))
    assert changed.fields == ["is_active"]
    assert not any(
        session.get_decoded().get("_auth_user_id") == str(therapist.pk)
        for session in SignedInSession.objects.all()
    )
    assert browser.get("/").status_code == 302  # sent to log in
    assert log_in(Browser(), "tara").status_code == 200  # the form again: refused


def test_a_deactivated_colleague_is_reactivated(clinic_admin: User, colleague: User) -> None:
    staff.staff_deactivate(actor=clinic_admin, member=colleague)
    staff.staff_reactivate(actor=clinic_admin, member=colleague)
    colleague.refresh_from_db()
    assert colleague.is_active
    with pytest.raises(ValidationError, match="already active"):
        staff.staff_reactivate(actor=clinic_admin, member=colleague)


# --- Credentials that end with the access they gave -------------------------------------


def invitation_works(member: User, token: str) -> bool:
    member.refresh_from_db()
    return staff_invitations.invitation_tokens.check_token(member, token)


def test_sending_the_invitation_again_ends_the_earlier_link(clinic_admin: User) -> None:
    member = invite(clinic_admin)
    earlier = staff_invitations.invitation_tokens.make_token(member)
    staff_invitations.invitation_send(actor=clinic_admin, member=member)
    assert not invitation_works(member, earlier)
    [message] = mail.outbox
    latest = message.body.split("/staff/welcome/")[1].split("/")[1]
    assert invitation_works(member, latest)
    entry = AuditEntry.objects.get(action=AuditAction.CHANGED, object_id=str(member.pk))
    assert entry.fields == ["invitation"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
def test_an_invitation_sent_again_as_the_colleague_chooses_their_password_keeps_it(
    clinic_admin: User,
) -> None:
    """The admin's page was read while the colleague was still invited; "Send the
    invitation again" then ended the links by replacing the password, the one the colleague
    had chosen a moment before: they could not sign in with it."""
    member = invite(clinic_admin)
    read_before = User.objects.get(pk=member.pk)

    def choose() -> None:
        with transaction.atomic():
            member.set_password("a long fresh passphrase")
            member.save(update_fields=["password"])

    problems: list[Exception] = []
    saved, choosing = paused_once(
        choose, lambda sql: sql.startswith("UPDATE") and "password" in sql, problems
    )
    thread = on_a_connection_of_its_own(choosing)
    try:
        assert saved.wait(10)
        with pytest.raises(ValidationError, match="has already chosen a password"):
            staff_invitations.invitation_send(actor=clinic_admin, member=read_before)
    finally:
        thread.join()
    assert problems == []
    member.refresh_from_db()
    assert member.check_password("a long fresh passphrase")
    assert mail.outbox == []


def test_an_invitation_is_not_sent_to_a_deactivated_colleague_and_says_why(
    clinic_admin: User,
) -> None:
    """A crafted post (the page offers no button): it said they had chosen a password."""
    member = invite(clinic_admin)
    staff.staff_deactivate(actor=clinic_admin, member=member)
    with pytest.raises(ValidationError, match="is deactivated: reactivate them, then send it"):
        staff_invitations.invitation_send(actor=clinic_admin, member=member)
    assert mail.outbox == []


def test_a_link_from_before_a_deactivation_stays_dead_after_reactivation(
    clinic_admin: User,
) -> None:
    member = invite(clinic_admin)
    token = staff_invitations.invitation_tokens.make_token(member)
    staff.staff_deactivate(actor=clinic_admin, member=member)
    staff.staff_reactivate(actor=clinic_admin, member=member)
    assert not invitation_works(member, token)


def test_deactivating_revokes_the_colleagues_api_tokens(
    clinic_admin: User, colleague: User
) -> None:
    from accounts import tokens

    _token, raw = tokens.token_create(user=colleague, name="Tool")
    staff.staff_deactivate(actor=clinic_admin, member=colleague)
    staff.staff_reactivate(actor=clinic_admin, member=colleague)
    assert tokens.token_user(raw) is None  # not revived by the reactivation


def test_an_admin_still_to_accept_their_invitation_does_not_keep_the_clinic_managed(
    clinic_admin: User,
) -> None:
    invite(clinic_admin, username="new-admin", email="na@example.org", is_clinic_admin=True)
    with pytest.raises(ValidationError, match="only active clinic admin"):
        staff.staff_roles_set(actor=clinic_admin, member=clinic_admin, **roles(is_therapist=True))
    clinic_admin.refresh_from_db()
    assert clinic_admin.is_clinic_admin


def test_a_caseload_moves_in_the_same_queries_at_any_size(
    clinic_admin: User, therapist: User, colleague: User, django_assert_num_queries: Any
) -> None:
    def move(count: int, receiver: User, leaver: User) -> Any:
        ids = [ClientFactory(therapist=leaver).pk for _ in range(count)]
        # savepoint, the receiver locked, the clients locked, update, trail, release
        with django_assert_num_queries(6) as done:
            moves.caseload_move(
                actor=clinic_admin, leaver=leaver, therapist=receiver, client_ids=ids
            )
        return done

    small = move(2, colleague, therapist)
    large = move(20, therapist, colleague)  # and back, with more
    assert len(small.captured_queries) == len(large.captured_queries)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql")
@pytest.mark.parametrize("change", ["deactivate", "therapist role"])
def test_a_client_is_not_moved_in_the_admin_to_a_colleague_deactivated_at_the_same_moment(
    clinic: Clinic, change: str
) -> None:
    """The Django admin's edit of a client (`client_update`) gave them to Colin while another
    admin deactivated him (or took his therapist role): the client was left with a
    therapist who could not sign in, as the moves and adding a client no longer allow."""
    admin, other_admin = ClinicAdminFactory(clinic=clinic), ClinicAdminFactory(clinic=clinic)
    colin = TherapistFactory(clinic=clinic, is_supervisor=True)
    someone = ClientFactory(clinic=clinic, therapist=TherapistFactory(clinic=clinic))
    other_admins_change = partial(_another_admin_changes, colin, other_admin, change)
    with meanwhile(other_admins_change, is_active_written), pytest.raises(ValidationError):
        services.client_update(
            actor=admin, client=Client.objects.get(pk=someone.pk), label=someone.label,
            therapist=colin,
        )  # fmt: skip
    someone.refresh_from_db()
    assert someone.therapist_id != colin.pk
