"""Fixtures for the tests that walk the URL conf (the access matrix, the scoped reads)."""

from __future__ import annotations

import django.test.client
import pytest

from alliance.tests.urlconf_walk import Records, World
from clients.models import Client, Clinic, Supervision, User
from clients.tests.factories import ClinicAdminFactory, SupervisorFactory


@pytest.fixture
def world(
    clinic: Clinic,
    other_clinic: Clinic,
    therapist: User,
    colleague: User,
    supervisor: User,
    clinic_admin: User,
    outsider: User,
    client_record: Client,
    outsider_client: Client,
) -> World:
    idle_supervisor = SupervisorFactory(clinic=clinic, username="ivy")
    other_admin = ClinicAdminFactory(clinic=other_clinic, username="olga")
    superuser = User.objects.create_superuser(username="root", password="x")
    for member in (therapist, colleague, supervisor, idle_supervisor):
        member.is_staff = True
        member.save(update_fields=["is_staff"])
    client_record.email = "rk@example.org"  # so A's "e-mail the link" really sends one
    client_record.save(update_fields=["email"])
    other_supervision = Supervision.objects.create(
        supervisor=SupervisorFactory(clinic=other_clinic, username="oscar"), therapist=outsider
    )
    own_supervision = Supervision.objects.get(supervisor=supervisor, therapist=therapist)
    users = {
        "anonymous": None,
        "link_holder": None,
        "therapist": therapist,
        "colleague": colleague,
        "supervisor": supervisor,
        "idle_supervisor": idle_supervisor,
        "clinic_admin": clinic_admin,
        "other_admin": other_admin,
        "superuser": superuser,
    }
    return World(
        users=users,
        own=Records(client_record, supervision=own_supervision, clinic_admin=clinic_admin),
        other=Records(outsider_client, supervision=other_supervision, clinic_admin=other_admin),
    )


@pytest.fixture
def status_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The matrix reads status codes and redirects, never what a template was given: skip
    the test client's copy of every context it renders, about a fifth of the run."""
    monkeypatch.setattr(
        django.test.client, "store_rendered_templates", lambda *args, **kwargs: None
    )
