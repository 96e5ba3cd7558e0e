"""Writes for clients and supervision: who may, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from clients import services
from clients.models import Client, Clinic, Supervision, User
from clients.tests.factories import ClientFactory, StaffFactory, SupervisorFactory, TherapistFactory
from measures.tests.factories import erased

pytestmark = pytest.mark.django_db


def test_a_therapist_adds_a_client_to_their_own_caseload(therapist: User) -> None:
    client = services.client_create(
        actor=therapist, therapist=therapist, label=" J.D. ", language="es"
    )
    client.refresh_from_db()
    assert (client.label, client.therapist, client.clinic, client.language, client.status) == (
        "J.D.",
        therapist,
        therapist.clinic,
        "es",
        "active",
    )


def test_a_therapist_cannot_add_to_a_colleagues_caseload(therapist: User, colleague: User) -> None:
    with pytest.raises(PermissionDenied, match="your own caseload"):
        services.client_create(actor=therapist, therapist=colleague, label="J.D.")
    assert not Client.objects.exists()


def test_a_clinic_admin_assigns_a_client_to_any_therapist_of_the_clinic(
    clinic_admin: User, colleague: User
) -> None:
    client = services.client_create(actor=clinic_admin, therapist=colleague, label="J.D.")
    assert client.therapist == colleague


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"is_active": False}, "is deactivated"),
        ({"is_therapist": False, "is_supervisor": True}, "does not hold the therapist role"),
    ],
)
def test_a_client_is_not_added_for_a_colleague_changed_since_the_form_was_read(
    clinic_admin: User, colleague: User, change: dict[str, bool], refusal: str
) -> None:
    """The admin's form read Colin as an active therapist; another admin has since
    deactivated him (or taken his therapist role): his row is read again, locked."""
    User.objects.filter(pk=colleague.pk).update(**change)
    with pytest.raises(ValidationError, match=refusal):
        services.client_create(actor=clinic_admin, therapist=colleague, label="J.D.")
    assert not Client.objects.exists()


def test_nobody_adds_a_client_in_another_clinic(clinic_admin: User, outsider: User) -> None:
    with pytest.raises(PermissionDenied, match="your own clinic"):
        services.client_create(actor=clinic_admin, therapist=outsider, label="J.D.")
    assert not Client.objects.exists()


def test_a_supervisor_cannot_add_clients(supervisor: User, therapist: User) -> None:
    with pytest.raises(PermissionDenied):
        services.client_create(actor=supervisor, therapist=therapist, label="J.D.")


def test_a_client_needs_a_label_and_a_valid_language(therapist: User) -> None:
    with pytest.raises(ValidationError) as error:
        services.client_create(actor=therapist, therapist=therapist, label="  ", language="fr")
    assert set(error.value.message_dict) == {"label", "language"}
    assert not Client.objects.exists()


@pytest.mark.parametrize("label", ["R.K.\u200b", "\u202eK.R", "\u3164", "R.\u2028K."])
def test_a_label_that_would_not_read_as_it_shows_is_refused_and_nothing_saved(
    therapist: User, client_record: Client, label: str
) -> None:
    """Whoever calls the service (a page, the admin, a command): a zero-width space makes
    two clients look one in every list, an override turns the label around."""
    with pytest.raises(ValidationError) as refused:
        services.client_create(actor=therapist, therapist=therapist, label=label)
    assert set(refused.value.message_dict) == {"label"}
    for details in ({"label": label}, {"label": "R.K.", "external_id": "A-1\u200b"}):
        with pytest.raises(ValidationError):
            services.client_update(actor=therapist, client=client_record, **details)
    client_record.refresh_from_db()
    assert (client_record.label, client_record.external_id) == ("R.K.", "")
    assert Client.objects.count() == 1


def test_an_external_id_is_unique_within_a_clinic(therapist: User, colleague: User) -> None:
    services.client_create(actor=therapist, therapist=therapist, label="A", external_id="MRN-1")
    with pytest.raises(ValidationError, match="Another client of this clinic has this external ID"):
        services.client_create(actor=colleague, therapist=colleague, label="B", external_id="MRN-1")
    # Blank external IDs never collide.
    services.client_create(actor=therapist, therapist=therapist, label="C")
    services.client_create(actor=therapist, therapist=therapist, label="D")
    assert Client.objects.count() == 3


def test_only_a_clinic_admin_moves_a_client_to_another_therapist(
    therapist: User, colleague: User, clinic_admin: User, client_record: Client
) -> None:
    with pytest.raises(PermissionDenied, match="Only a clinic admin"):
        services.client_update(
            actor=therapist, client=client_record, label="R.K.", therapist=colleague
        )
    services.client_update(
        actor=clinic_admin, client=client_record, label="R.K.", therapist=colleague
    )
    client_record.refresh_from_db()
    assert client_record.therapist == colleague


def test_a_client_cannot_move_to_another_clinic(
    clinic_admin: User, outsider: User, client_record: Client
) -> None:
    with pytest.raises(PermissionDenied):
        services.client_update(
            actor=clinic_admin, client=client_record, label="R.K.", therapist=outsider
        )
    client_record.refresh_from_db()
    assert client_record.therapist.clinic == clinic_admin.clinic


def test_discharge_and_reopen(therapist: User, client_record: Client) -> None:
    services.client_discharge(actor=therapist, client=client_record)
    client_record.refresh_from_db()
    assert client_record.status == "discharged" and client_record.discharged_at is not None
    with pytest.raises(ValidationError, match="already discharged"):
        services.client_discharge(actor=therapist, client=client_record)
    services.client_reopen(actor=therapist, client=client_record)
    client_record.refresh_from_db()
    assert client_record.status == "active" and client_record.discharged_at is None


def test_a_supervisor_cannot_discharge(supervisor: User, client_record: Client) -> None:
    with pytest.raises(PermissionDenied):
        services.client_discharge(actor=supervisor, client=client_record)
    client_record.refresh_from_db()
    assert client_record.status == "active"


def test_supervision_links_colleagues_of_one_clinic(clinic: Any, colleague: User) -> None:
    supervisor = SupervisorFactory(clinic=clinic)
    services.supervision_create(supervisor=supervisor, therapist=colleague)
    assert Supervision.objects.filter(supervisor=supervisor, therapist=colleague).exists()


def test_supervision_across_clinics_is_refused(clinic: Any, outsider: User) -> None:
    supervisor = SupervisorFactory(clinic=clinic)
    with pytest.raises(ValidationError, match="only supervise therapists of their own clinic"):
        services.supervision_create(supervisor=supervisor, therapist=outsider)
    assert not Supervision.objects.exists()


def test_supervision_needs_the_roles(clinic: Any, therapist: User, colleague: User) -> None:
    with pytest.raises(ValidationError, match="does not hold the supervisor role"):
        services.supervision_create(supervisor=colleague, therapist=therapist)
    plain = StaffFactory(clinic=clinic)
    supervisor = SupervisorFactory(clinic=clinic)
    with pytest.raises(ValidationError, match="does not hold the therapist role"):
        services.supervision_create(supervisor=supervisor, therapist=plain)


def test_supervision_is_unique_and_never_of_oneself(clinic: Any, therapist: User) -> None:
    both = TherapistFactory(clinic=clinic, is_supervisor=True)
    with pytest.raises(ValidationError, match="cannot be their own supervisor"):
        services.supervision_create(supervisor=both, therapist=both)
    services.supervision_create(supervisor=both, therapist=therapist)
    with pytest.raises(ValidationError, match="already supervises"):
        services.supervision_create(supervisor=both, therapist=therapist)
    # The database holds the same lines against writes that skip the service.
    with pytest.raises(IntegrityError), transaction.atomic():
        Supervision.objects.create(supervisor=both, therapist=both)


def test_staff_must_belong_to_a_clinic(db: None) -> None:
    with pytest.raises(ValidationError, match="must belong to a clinic"):
        User(username="loose").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="loose")
    # The people who run the installation may stand outside every clinic.
    User.objects.create_superuser(username="root", password="x")


def test_a_client_must_be_treated_in_their_clinic(clinic: Any, outsider: User) -> None:
    client = ClientFactory.build(therapist=outsider, clinic=clinic, label="X")
    with pytest.raises(ValidationError, match="must work in the client's clinic"):
        client.full_clean()


# --- Staff and supervision links, as the admin changes them ----------------------------


def test_a_clinic_admin_changes_a_colleagues_roles_and_access(
    clinic_admin: User, colleague: User
) -> None:
    services.staff_update(
        actor=clinic_admin, member=colleague, data={"is_supervisor": True, "is_active": False}
    )
    colleague.refresh_from_db()
    assert (colleague.is_supervisor, colleague.is_active) == (True, False)


def test_a_clinic_admin_manages_only_their_own_clinics_people(
    clinic_admin: User, outsider: User
) -> None:
    with pytest.raises(PermissionDenied, match="clinic's admins"):
        services.staff_update(actor=clinic_admin, member=outsider, data={"first_name": "X"})
    outsider.refresh_from_db()
    assert outsider.first_name != "X"


def test_a_therapist_changes_nobody(therapist: User, colleague: User) -> None:
    with pytest.raises(PermissionDenied):
        services.staff_update(actor=therapist, member=colleague, data={"is_active": False})
    colleague.refresh_from_db()
    assert colleague.is_active


def test_a_clinic_admin_never_grants_superuser_nor_moves_a_colleague_away(
    clinic_admin: User, colleague: User, other_clinic: Any
) -> None:
    with pytest.raises(PermissionDenied, match="is_superuser"):
        services.staff_update(actor=clinic_admin, member=colleague, data={"is_superuser": True})
    with pytest.raises(PermissionDenied, match="another clinic"):
        services.staff_update(actor=clinic_admin, member=colleague, data={"clinic": other_clinic})
    colleague.refresh_from_db()
    assert not colleague.is_superuser and colleague.clinic_id == clinic_admin.clinic_id


def test_an_address_is_its_owners_once_they_have_a_password(
    clinic_admin: User, colleague: User
) -> None:
    with pytest.raises(ValidationError) as error:
        services.staff_update(actor=clinic_admin, member=colleague, data={"email": "x@example.org"})
    assert error.value.message_dict == {"email": [services.EMAIL_IS_THE_OWNERS]}
    colleague.set_unusable_password()
    colleague.save()
    services.staff_update(actor=clinic_admin, member=colleague, data={"email": "x@example.org"})
    colleague.refresh_from_db()
    assert colleague.email == "x@example.org"


def test_only_the_clinics_admins_end_its_supervision_links(
    supervisor: User, therapist: User, clinic_admin: User, other_clinic: Any
) -> None:
    link = Supervision.objects.get()
    other_admin = StaffFactory(clinic=other_clinic, is_clinic_admin=True)
    for someone in (supervisor, therapist, other_admin):
        with pytest.raises(PermissionDenied):
            services.supervision_end(actor=someone, supervision=link)
    assert Supervision.objects.exists()
    services.supervision_end(actor=clinic_admin, supervision=link)
    assert not Supervision.objects.exists()


def test_a_clinic_is_renamed_by_its_own_admins_only(
    clinic: Any, other_clinic: Any, clinic_admin: User, therapist: User
) -> None:
    services.clinic_rename(actor=clinic_admin, clinic=clinic, name=" Riverside East ")
    clinic.refresh_from_db()
    assert (clinic.name, clinic.slug) == ("Riverside East", "riverside")
    for actor, target in ((therapist, clinic), (clinic_admin, other_clinic)):
        with pytest.raises(PermissionDenied):
            services.clinic_rename(actor=actor, clinic=target, name="Taken over")
    with pytest.raises(ValidationError):
        services.clinic_rename(actor=clinic_admin, clinic=clinic, name="  ")


@pytest.mark.parametrize("name", ["\u2067Riverside\u2069", "River\u200bside", "\ufeff"])
def test_a_clinic_name_that_would_not_read_as_it_shows_is_refused(
    clinic: Any, clinic_admin: User, name: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.clinic_rename(actor=clinic_admin, clinic=clinic, name=name)
    assert set(refused.value.message_dict) == {"name"}
    with pytest.raises(ValidationError):
        services.clinic_create(name=name, slug="lakeside")
    clinic.refresh_from_db()
    assert clinic.name == "Riverside"
    assert not Clinic.objects.filter(slug="lakeside").exists()


@pytest.mark.parametrize("name", ["Ann\u200b", "\u202eSmith", "\u3164"])
def test_a_colleagues_name_that_would_not_read_as_it_shows_is_refused(
    clinic: Any, clinic_admin: User, colleague: User, name: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.staff_create(clinic=clinic, username="nia", password=None, first_name=name)
    assert set(refused.value.message_dict) == {"first_name"}
    with pytest.raises(ValidationError):
        services.staff_update(actor=clinic_admin, member=colleague, data={"last_name": name})
    colleague.refresh_from_db()
    assert colleague.last_name != name
    assert not User.objects.filter(username="nia").exists()


def test_an_edit_saved_after_the_erasure_does_not_write_the_clients_details_back(
    client_record: Client, therapist: User, clinic_admin: User
) -> None:
    """The edit form was open before the erasure; saving it must not undo the erasure."""
    Client.objects.filter(pk=client_record.pk).update(external_id="RK-0042", email="rk@example.org")
    gone = erased(client_record, by=clinic_admin)
    with pytest.raises(ValidationError, match="erased"):
        services.client_update(
            actor=therapist,
            client=gone,
            label="R.K.",
            external_id="RK-0042",
            email="rk@example.org",
        )
    stored = Client.objects.get(pk=gone.pk)
    assert (stored.label, stored.external_id, stored.email) == (gone.label, "", "")


def test_a_name_stored_before_names_were_checked_stops_no_other_change(
    clinic: Any, clinic_admin: User, colleague: User
) -> None:
    """A role, a deactivation, the notice, the time records are kept, one's own address: each
    still changes; the name is refused only when a change writes it."""
    from accounts.services import user_email_change

    Clinic.objects.filter(pk=clinic.pk).update(name="River\u200bside")
    User.objects.filter(pk=colleague.pk).update(first_name="Colin\u200b")
    clinic.refresh_from_db()
    colleague.refresh_from_db()
    services.staff_update(actor=clinic_admin, member=colleague, data={"is_supervisor": True})
    services.clinic_notice_update(
        actor=clinic_admin, clinic=clinic, notice_en="Our own words.", notice_es=""
    )
    services.clinic_retention_set(
        actor=clinic_admin,
        clinic=clinic,
        retention_days_after_discharge=30,
        keep_numbers_after_erasure=False,
    )
    assert user_email_change(user=colleague, email="colin@example.org")
    colleague.refresh_from_db()
    clinic.refresh_from_db()
    assert (colleague.is_supervisor, colleague.email) == (True, "colin@example.org")
    assert (clinic.notice_en, clinic.retention_days_after_discharge) == ("Our own words.", 30)
    with pytest.raises(ValidationError):
        services.staff_update(
            actor=clinic_admin, member=colleague, data={"first_name": "Colin\u200b"}
        )
