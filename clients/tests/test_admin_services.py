"""The admin writes through the services the app's pages use, or not at all.

Each write is posted to the real admin page and checked in the database: the
service's effect (a discharge date, a client in the therapist's clinic, a link
ended), its refusals shown on the form with nothing saved, and the writes that
have no service refused with 403.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts.staff import LAST_ADMIN
from accounts.tokens import token_create, token_user
from alliance.fields import CONTROL_CHARACTERS
from clients.models import AuditAction, AuditEntry, Client, Clinic, Supervision, User
from clients.moves import NOT_A_RECEIVER
from clients.tests.factories import SupervisorFactory, TherapistFactory
from measures import rights

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(username="root", password="x")


def change_url(record: Any) -> str:
    return admin_url(record, "change")


def admin_url(record: Any, view: str) -> str:
    meta = record._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[record.pk])


def assert_not_deleted(client: Any, record: Any) -> None:
    """Neither the delete page nor the list's bulk delete (which it does not offer) removes
    `record`."""
    assert client.post(admin_url(record, "delete"), {"post": "yes"}).status_code == 403
    meta = record._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    assert "delete_selected" not in client.get(changelist).content.decode()
    client.post(
        changelist,
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [record.pk], "post": "yes"},
    )
    assert type(record).objects.filter(pk=record.pk).exists()


def client_form(client_record: Client, **changes: Any) -> dict[str, Any]:
    """The client's change form as stored, with `changes`."""
    return {
        "label": client_record.label,
        "therapist": client_record.therapist_id,
        "external_id": client_record.external_id,
        "email": client_record.email,
        "language": client_record.language,
        "status": client_record.status,
        **changes,
    }


def form_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form, shown again"
    form = response.context["adminform"].form
    return {field: list(errors) for field, errors in form.errors.items()}


def stored(record: Any) -> dict[str, Any]:
    return type(record).objects.filter(pk=record.pk).values().get()


# --- Clients ---------------------------------------------------------------------------


def test_discharging_a_client_in_the_admin_records_the_discharge_date(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    before = timezone.now()
    response = client.post(
        change_url(client_record), client_form(client_record, status="discharged")
    )
    assert response.status_code == 302
    client_record.refresh_from_db()
    assert client_record.status == "discharged"
    assert before <= client_record.discharged_at <= timezone.now()


def test_re_opening_a_client_in_the_admin_clears_the_discharge_date(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    client_record.status = "discharged"
    client_record.discharged_at = timezone.now() - dt.timedelta(days=30)
    client_record.save()
    client.force_login(clinic_admin)
    response = client.post(change_url(client_record), client_form(client_record, status="active"))
    assert response.status_code == 302
    client_record.refresh_from_db()
    assert (client_record.status, client_record.discharged_at) == ("active", None)


def test_a_client_added_in_the_admin_joins_the_therapists_clinic_active(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    client.force_login(clinic_admin)
    add = reverse("admin:clients_client_add")
    page = client.get(add)
    # client_create's rules: the clinic is the therapist's, the status active, the date today.
    assert set(page.context["adminform"].form.fields) == {
        "therapist",
        "label",
        "external_id",
        "email",
        "language",
    }
    response = client.post(
        add, {"therapist": therapist.pk, "label": "J.D.", "language": "es", "external_id": "A-7"}
    )
    assert response.status_code == 302
    added = Client.objects.get(label="J.D.")
    assert (added.clinic, added.therapist, added.status, added.language, added.external_id) == (
        therapist.clinic,
        therapist,
        "active",
        "es",
        "A-7",
    )


def test_erasure_leaves_no_label_in_the_admins_own_change_log(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    """Django's log of admin actions (its "Recent actions", not our audit trail) named the
    client by `str(client)`, the label, for every add and change made there."""
    client.force_login(clinic_admin)
    details = {"therapist": therapist.pk, "label": "Jane Roe", "language": "en"}
    client.post(reverse("admin:clients_client_add"), details, follow=True)
    added = Client.objects.get(label="Jane Roe")
    discharge = client_form(added, external_id="NHS-123", status="discharged")
    client.post(change_url(added), discharge, follow=True)  # its message shown and gone
    assert LogEntry.objects.filter(object_repr="Jane Roe").count() == 2
    rights.client_erase(actor=clinic_admin, client=added)
    added.refresh_from_db()
    kept = json.dumps(list(LogEntry.objects.values("object_repr", "change_message")))
    assert "Jane Roe" not in kept and added.label in kept
    assert "Jane Roe" not in client.get(reverse("admin:index")).content.decode()


def test_a_client_added_for_someone_who_is_not_a_therapist_is_refused_on_the_form(
    client: Any, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_client_add"),
        {"therapist": clinic_admin.pk, "label": "J.D.", "language": "en"},
    )
    assert "does not hold the therapist role" in " ".join(form_errors(response)["therapist"])
    assert not Client.objects.exists()


def test_a_refused_change_saves_nothing_not_even_the_discharge(
    client: Any, clinic_admin: User, client_record: Client, colleague_client: Client
) -> None:
    colleague_client.external_id = "A-7"
    colleague_client.save()
    before = stored(client_record)
    client.force_login(clinic_admin)
    response = client.post(
        change_url(client_record),
        client_form(client_record, label="R.K.2", external_id="A-7", status="discharged"),
    )
    assert form_errors(response) == {
        "external_id": ["Another client of this clinic has this external ID."]
    }
    assert 'value="R.K.2"' in response.content.decode()  # the form as submitted
    assert stored(client_record) == before


def test_a_client_is_moved_to_another_therapist_through_client_update(
    client: Any, clinic_admin: User, colleague: User, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        change_url(client_record),
        client_form(client_record, therapist=colleague.pk, label=" R.K. "),
    )
    assert response.status_code == 302
    client_record.refresh_from_db()
    assert (client_record.therapist, client_record.label, client_record.status) == (
        colleague,
        "R.K.",
        "active",
    )


def test_a_client_is_not_moved_to_a_deactivated_colleague_in_the_admin(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    # The staff pages move clients only to active therapists; the admin, through
    # client_update, gave one to a colleague who can no longer sign in, and nobody then
    # treated them or heard of their concerns.
    gone = TherapistFactory(clinic=client_record.clinic, is_active=False)
    before = stored(client_record)
    client.force_login(clinic_admin)
    response = client.post(change_url(client_record), client_form(client_record, therapist=gone.pk))
    assert form_errors(response) == {"therapist": [NOT_A_RECEIVER]}
    assert stored(client_record) == before
    assert not AuditEntry.objects.filter(action=AuditAction.CHANGED).exists()


def test_a_client_is_not_added_for_a_deactivated_colleague_in_the_admin(
    client: Any, clinic_admin: User
) -> None:
    gone = TherapistFactory(clinic=clinic_admin.clinic, is_active=False)
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_client_add"),
        {"therapist": gone.pk, "label": "J.D.", "language": "en"},
    )
    assert form_errors(response) == {
        "therapist": [f"{gone} is deactivated: a client joins an active therapist's caseload."]
    }
    assert not Client.objects.exists()


def test_a_client_of_a_deactivated_colleague_still_has_details_changed_in_the_admin(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    # Staying with the therapist they have is no move: an older record keeps working.
    User.objects.filter(pk=client_record.therapist_id).update(is_active=False)
    client.force_login(clinic_admin)
    response = client.post(change_url(client_record), client_form(client_record, label="R.K.2"))
    assert response.status_code == 302
    client_record.refresh_from_db()
    assert client_record.label == "R.K.2"


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_nobody_deletes_a_client_in_the_admin(
    client: Any, client_record: Client, who: str, request: Any
) -> None:
    """Not even a client with no sessions yet, whom nothing else protects."""
    client.force_login(request.getfixturevalue(who))
    assert client.get(admin_url(client_record, "delete")).status_code == 403
    assert_not_deleted(client, client_record)


def test_a_superuser_reads_clients_but_the_client_services_are_the_clinics(
    client: Any, superuser: User, therapist: User, client_record: Client
) -> None:
    before = stored(client_record)
    client.force_login(superuser)
    page = client.get(change_url(client_record))
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    discharge = client.post(
        change_url(client_record), client_form(client_record, status="discharged")
    )
    assert discharge.status_code == 403
    add = client.post(
        reverse("admin:clients_client_add"), {"therapist": therapist.pk, "label": "J.D."}
    )
    assert add.status_code == 403
    assert stored(client_record) == before and Client.objects.count() == 1


# --- People ----------------------------------------------------------------------------


def user_form(member: User, **changes: Any) -> dict[str, Any]:
    fields = ["username", "first_name", "last_name", "clinic"]
    roles = ["is_therapist", "is_supervisor", "is_clinic_admin", "is_active", "is_staff"]
    form = {name: getattr(member, name) for name in fields}
    form["clinic"] = member.clinic_id
    form |= {name: "on" for name in roles if getattr(member, name)}
    for name, value in changes.items():
        if value is False:
            form.pop(name, None)
        else:
            form[name] = "on" if value is True else value
    return form


def test_a_clinic_admin_changes_a_colleagues_roles_and_deactivates_them(
    client: Any, clinic_admin: User, colleague: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        change_url(colleague),
        user_form(colleague, is_supervisor=True, is_active=False, last_name="Okafor"),
    )
    assert response.status_code == 302
    colleague.refresh_from_db()
    assert (colleague.is_supervisor, colleague.is_active, colleague.last_name) == (
        True,
        False,
        "Okafor",
    )


def test_a_colleague_deactivated_in_the_admin_leaves_as_on_the_staff_page(
    client: Any, clinic_admin: User, colleague: User, supervisor: User, therapist: User
) -> None:
    """Their signed-in sessions, API tokens and supervision links end with their access:
    reactivated, an old token does not work again."""
    Supervision.objects.create(supervisor=supervisor, therapist=colleague)
    _token, raw = token_create(user=colleague, name="script")
    client.force_login(clinic_admin)
    for active in (False, True):
        response = client.post(change_url(colleague), user_form(colleague, is_active=active))
        assert response.status_code == 302
    colleague.refresh_from_db()
    assert colleague.is_active and token_user(raw) is None
    assert list(Supervision.objects.values_list("therapist__username", flat=True)) == ["tara"]


HOLDS_CLIENTS = "{} still has 1 client: move them first."
IS_SUPERVISED = "{} is still supervised: end those supervision links first."


@pytest.mark.parametrize(
    ("changes", "refusals"),
    [
        ({"is_active": False}, [HOLDS_CLIENTS]),
        ({"is_therapist": False, "is_supervisor": True}, [HOLDS_CLIENTS, IS_SUPERVISED]),
    ],
    ids=["deactivated", "no longer a therapist"],
)
def test_what_rests_on_a_therapist_refuses_their_leaving_or_losing_the_role_in_the_admin(
    client: Any,
    clinic_admin: User,
    therapist: User,
    client_record: Client,
    supervisor: User,
    changes: dict[str, Any],
    refusals: list[str],
) -> None:
    client.force_login(clinic_admin)
    before = stored(therapist)
    response = client.post(change_url(therapist), user_form(therapist, **changes))
    assert form_errors(response) == {"__all__": [text.format(therapist) for text in refusals]}
    assert stored(therapist) == before


@pytest.mark.parametrize(
    ("who", "change"),
    [
        ("clinic_admin", {"is_clinic_admin": False, "is_therapist": True}),
        ("superuser", {"is_clinic_admin": False, "is_therapist": True}),
        ("superuser", {"is_active": False}),
    ],
)
def test_the_clinics_only_admin_is_kept_in_the_admin(
    client: Any, clinic_admin: User, who: str, change: dict[str, bool], request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    response = client.post(change_url(clinic_admin), user_form(clinic_admin, **change))
    assert form_errors(response) == {"__all__": [LAST_ADMIN.format(member=clinic_admin)]}
    clinic_admin.refresh_from_db()
    assert clinic_admin.is_clinic_admin and clinic_admin.is_active


def test_a_name_stored_before_names_were_checked_stops_no_other_change_in_the_admin(
    client: Any, clinic_admin: User, colleague: User, therapist: User, client_record: Client
) -> None:
    """A label or name holding a zero-width space from before (which the admin shows as it
    stands, invisible) did not stop a discharge, a move or a role on the same form; a change
    that writes it is still refused."""
    Client.objects.filter(pk=client_record.pk).update(label="R.K.\u200b")
    User.objects.filter(pk=colleague.pk).update(last_name="Ok\u200bafor")
    client_record.refresh_from_db()
    colleague.refresh_from_db()
    client.force_login(clinic_admin)
    for changes in ({"therapist": colleague.pk}, {"status": "discharged"}):
        response = client.post(change_url(client_record), client_form(client_record, **changes))
        assert response.status_code == 302
        client_record.refresh_from_db()
    assert (client_record.therapist, client_record.status) == (colleague, "discharged")
    assert client_record.label == "R.K.\u200b"
    response = client.post(change_url(colleague), user_form(colleague, is_supervisor=True))
    assert response.status_code == 302
    colleague.refresh_from_db()
    assert (colleague.is_supervisor, colleague.last_name) == (True, "Ok\u200bafor")
    errors = form_errors(
        client.post(change_url(therapist), user_form(therapist, last_name="Ok\u200bafor"))
    )
    assert list(errors) == ["last_name"]


def test_a_colleague_moved_to_another_clinic_leaves_nothing_behind(
    client: Any, superuser: User, therapist: User, client_record: Client, other_clinic: Clinic
) -> None:
    """Their clients would be read from the other clinic."""
    client.force_login(superuser)
    response = client.post(change_url(therapist), user_form(therapist, clinic=other_clinic.pk))
    assert form_errors(response) == {
        "clinic": [f"{therapist} still has 1 client: move them first."]
    }
    therapist.refresh_from_db()
    assert therapist.clinic_id == client_record.clinic_id


def test_a_colleague_moved_to_another_clinic_is_in_both_clinics_trails(
    client: Any, superuser: User, clinic: Clinic, other_clinic: Clinic
) -> None:
    """The clinic they left sees them leave its Staff page: its trail says who moved them,
    and when, as the new clinic's does."""
    mover = TherapistFactory(clinic=clinic, username="mover")
    client.force_login(superuser)
    response = client.post(change_url(mover), user_form(mover, clinic=other_clinic.pk))
    assert response.status_code == 302
    moved = AuditEntry.objects.filter(
        action=AuditAction.CHANGED, model="clients.user", object_id=str(mover.pk)
    )
    assert sorted(entry.clinic_id for entry in moved) == sorted([clinic.pk, other_clinic.pk])
    for entry in moved:
        assert "clinic" in entry.fields and entry.actor_id == superuser.pk


def test_a_clinic_admin_fixes_the_address_of_a_colleague_who_has_no_password_yet(
    client: Any, clinic_admin: User, clinic: Clinic
) -> None:
    invited = User.objects.create(username="nina", clinic=clinic, is_therapist=True)
    invited.set_unusable_password()
    invited.save()
    client.force_login(clinic_admin)
    response = client.post(change_url(invited), user_form(invited, email="nina@clinic.example"))
    assert response.status_code == 302
    invited.refresh_from_db()
    assert invited.email == "nina@clinic.example"


def test_a_colleague_added_without_a_clinic_is_refused_on_the_form(
    client: Any, superuser: User
) -> None:
    client.force_login(superuser)
    response = client.post(
        reverse("admin:clients_user_add"), {"username": "nina", "is_therapist": "on"}
    )
    assert form_errors(response) == {"__all__": ["Every member of staff must belong to a clinic."]}
    assert not User.objects.filter(username="nina").exists()


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_nobody_deletes_a_colleague_in_the_admin(
    client: Any, colleague: User, who: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert_not_deleted(client, colleague)


# --- Supervision -----------------------------------------------------------------------


def test_a_clinic_admin_links_a_supervisor_to_a_therapist(
    client: Any, clinic_admin: User, clinic: Clinic, colleague: User
) -> None:
    mentor = SupervisorFactory(clinic=clinic, username="mina")
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_supervision_add"),
        {"supervisor": mentor.pk, "therapist": colleague.pk},
    )
    assert response.status_code == 302
    assert Supervision.objects.filter(supervisor=mentor, therapist=colleague).exists()


def test_a_supervision_without_the_roles_is_refused_on_the_form(
    client: Any, clinic_admin: User, therapist: User, colleague: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_supervision_add"),
        {"supervisor": colleague.pk, "therapist": therapist.pk},
    )
    assert "does not hold the supervisor role" in " ".join(form_errors(response)["supervisor"])
    assert not Supervision.objects.exists()


def test_a_supervision_is_never_edited_into_another(
    client: Any, clinic_admin: User, supervisor: User, therapist: User, colleague: User
) -> None:
    link = Supervision.objects.get()
    client.force_login(clinic_admin)
    response = client.post(
        change_url(link), {"supervisor": supervisor.pk, "therapist": colleague.pk}
    )
    assert response.status_code == 403
    link.refresh_from_db()
    assert link.therapist == therapist


def test_a_clinic_admin_ends_supervision_links_one_by_one_or_several(
    client: Any, clinic_admin: User, supervisor: User, clinic: Clinic
) -> None:
    first = Supervision.objects.get()
    others = [
        Supervision.objects.create(supervisor=supervisor, therapist=TherapistFactory(clinic=clinic))
        for _ in range(2)
    ]
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_supervision_delete", args=[first.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    response = client.post(
        reverse("admin:clients_supervision_changelist"),
        {
            "action": "delete_selected",
            ACTION_CHECKBOX_NAME: [link.pk for link in others],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not Supervision.objects.exists()


# --- Clinics ---------------------------------------------------------------------------


def test_a_superuser_adds_a_clinic(client: Any, superuser: User) -> None:
    client.force_login(superuser)
    response = client.post(
        reverse("admin:clients_clinic_add"), {"name": "Lakeside", "slug": "lakeside"}
    )
    assert response.status_code == 302
    assert Clinic.objects.filter(name="Lakeside", slug="lakeside").exists()


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_a_clinic_is_renamed_through_clinic_rename_and_keeps_its_slug(
    client: Any, clinic: Clinic, clinic_admin: User, who: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    response = client.post(change_url(clinic), {"name": "  Riverside East ", "slug": "east"})
    assert response.status_code == 302
    clinic.refresh_from_db()
    assert (clinic.name, clinic.slug) == ("Riverside East", "riverside")


def test_a_clinic_renamed_to_nothing_is_refused_on_the_form(
    client: Any, clinic: Clinic, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    errors = form_errors(client.post(change_url(clinic), {"name": "   "}))
    assert errors == {"name": ["This field is required."]}
    clinic.refresh_from_db()
    assert clinic.name == "Riverside"


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_a_clinic_name_with_a_line_break_is_refused_on_the_form(
    client: Any, clinic: Clinic, clinic_admin: User, who: str, request: Any
) -> None:
    """A name is one line: it is an e-mail's subject (a colleague's invitation), and a line
    break there made every invitation fail."""
    client.force_login(request.getfixturevalue(who))
    errors = form_errors(client.post(change_url(clinic), {"name": "River\r\nBcc: x@example.org"}))
    assert errors == {"name": [CONTROL_CHARACTERS]}
    clinic.refresh_from_db()
    assert clinic.name == "Riverside"


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_a_clinic_name_with_a_direction_override_is_refused_on_the_admins_form(
    client: Any, clinic: Clinic, clinic_admin: User, who: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    errors = form_errors(client.post(change_url(clinic), {"name": "\u202eedisreviR"}))
    assert errors == {
        "name": [
            "Remove the invisible character U+202E RIGHT-TO-LEFT OVERRIDE: it shows as nothing "
            "or turns the text around, so others would not read what was typed."
        ]
    }
    clinic.refresh_from_db()
    assert clinic.name == "Riverside"


def test_a_clinic_added_with_a_tab_in_its_name_is_refused_on_the_form(
    client: Any, superuser: User
) -> None:
    client.force_login(superuser)
    response = client.post(
        reverse("admin:clients_clinic_add"), {"name": "Lake\tside", "slug": "lakeside"}
    )
    assert form_errors(response) == {"name": [CONTROL_CHARACTERS]}
    assert not Clinic.objects.filter(slug="lakeside").exists()


def test_another_clinics_admin_renames_nothing(
    client: Any, clinic: Clinic, other_clinic: Clinic, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(change_url(other_clinic), {"name": "Taken over"})
    assert response.status_code == 302  # "does not exist", to the admin's index
    other_clinic.refresh_from_db()
    assert other_clinic.name != "Taken over"


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
@pytest.mark.parametrize("days", ["0", "36501", "2147483647"])
def test_a_retention_the_settings_page_refuses_is_refused_in_the_admin_too(
    client: Any, clinic: Clinic, clinic_admin: User, who: str, days: str, request: Any
) -> None:
    """0 days would anonymise every discharged client at the next nightly run; more than
    a date can count back would stop the nightly run for every clinic after this one."""
    client.force_login(request.getfixturevalue(who))
    form = {"name": clinic.name, "retention_days_after_discharge": days}
    errors = form_errors(client.post(change_url(clinic), form))
    assert list(errors) == ["retention_days_after_discharge"]
    clinic.refresh_from_db()
    assert (clinic.retention_days_after_discharge, clinic.keep_numbers_after_erasure) == (
        None,
        True,
    )


def test_a_clinic_admin_sets_the_retention_in_the_admin_through_the_service(
    client: Any, clinic: Clinic, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    form = {"name": clinic.name, "retention_days_after_discharge": "36500"}
    assert client.post(change_url(clinic), form).status_code == 302
    clinic.refresh_from_db()
    assert (clinic.retention_days_after_discharge, clinic.keep_numbers_after_erasure) == (
        36_500,
        False,
    )
    entry = AuditEntry.objects.filter(model="clients.clinic").latest("pk")
    assert (entry.actor_id, entry.action, entry.object_id) == (
        clinic_admin.pk,
        AuditAction.CHANGED,
        str(clinic.pk),
    )


@pytest.mark.parametrize("who", ["clinic_admin", "superuser"])
def test_nobody_deletes_a_clinic(
    client: Any, clinic: Clinic, clinic_admin: User, who: str, request: Any
) -> None:
    client.force_login(request.getfixturevalue(who))
    delete = reverse("admin:clients_clinic_delete", args=[clinic.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    clinic.refresh_from_db()
    assert (clinic.name, clinic.slug) == ("Riverside", "riverside")
