"""The Django admin, scoped for staff who are not superusers."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import Client, User
from measures.tests.factories import FlagFactory, RatingFactory
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def staff(user: User) -> User:
    user.is_staff = True
    user.save()
    return user


def changelist_labels(client: Any, model: str) -> set[str]:
    response = client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200
    return {str(obj) for obj in response.context["cl"].result_list}


def test_anonymous_is_sent_to_the_admin_log_in(client: Any) -> None:
    response = client.get(reverse("admin:clients_client_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_therapist_sees_only_their_caseload_read_only(
    client: Any,
    therapist: User,
    client_record: Client,
    colleague_client: Client,
    outsider_client: Client,
) -> None:
    client.force_login(staff(therapist))
    assert changelist_labels(client, "clients_client") == {"R.K."}
    # A colleague's client is not there to open.
    response = client.get(reverse("admin:clients_client_change", args=[colleague_client.pk]))
    assert response.status_code == 302
    # Read-only: no add, and a post to change is refused.
    assert client.get(reverse("admin:clients_client_add")).status_code == 403
    response = client.post(
        reverse("admin:clients_client_change", args=[client_record.pk]),
        {
            "label": "Changed",
            "clinic": client_record.clinic_id,
            "therapist": therapist.pk,
            "language": "en",
            "status": "active",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00",
        },
    )
    assert response.status_code == 403
    client_record.refresh_from_db()
    assert client_record.label == "R.K."


def test_scoping_covers_sessions_ratings_and_flags(
    client: Any, therapist: User, client_record: Client, outsider_client: Client
) -> None:
    for someone in (client_record, outsider_client):
        session = SessionFactory(client=someone)
        RatingFactory(session=session)
        FlagFactory(session=session)
    client.force_login(staff(therapist))
    assert changelist_labels(client, "therapy_sessions_session") == {"Session 1 with R.K."}
    assert changelist_labels(client, "measures_rating") == {"Client rating of Session 1 with R.K."}
    assert all("R.K." in label for label in changelist_labels(client, "measures_flag"))


def test_a_clinic_admin_manages_the_clinics_clients(
    client: Any, clinic_admin: User, colleague: User, client_record: Client, outsider_client: Client
) -> None:
    client.force_login(clinic_admin)
    assert changelist_labels(client, "clients_client") == {"R.K."}
    response = client.post(
        reverse("admin:clients_client_change", args=[client_record.pk]),
        {
            "label": "R.K.",
            "clinic": client_record.clinic_id,
            "therapist": colleague.pk,
            "language": "es",
            "status": "active",
            "external_id": "",
            "email": "",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    client_record.refresh_from_db()
    assert (client_record.therapist, client_record.language) == (colleague, "es")


def test_a_clinic_admin_cannot_assign_to_another_clinics_therapist(
    client: Any, clinic_admin: User, outsider: User, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:clients_client_change", args=[client_record.pk]),
        {
            "label": "R.K.",
            "clinic": client_record.clinic_id,
            "therapist": outsider.pk,
            "language": "en",
            "status": "active",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00",
        },
    )
    assert response.status_code == 200
    assert "therapist" in response.context["adminform"].form.errors
    client_record.refresh_from_db()
    assert client_record.therapist != outsider


def test_a_clinic_admin_cannot_reach_another_clinic(
    client: Any, clinic_admin: User, outsider: User, outsider_client: Client
) -> None:
    client.force_login(clinic_admin)
    for url in (
        reverse("admin:clients_client_change", args=[outsider_client.pk]),
        reverse("admin:clients_user_change", args=[outsider.pk]),
        reverse("admin:clients_clinic_change", args=[outsider.clinic_id]),
    ):
        assert client.get(url).status_code == 302, url
    assert outsider.username not in changelist_labels(client, "clients_user")


def test_a_clinic_admin_cannot_grant_superuser(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    client.force_login(clinic_admin)
    response = client.get(reverse("admin:clients_user_change", args=[therapist.pk]))
    assert response.status_code == 200
    assert "is_superuser" not in response.context["adminform"].form.fields


def test_a_superuser_sees_every_clinic(
    client: Any, client_record: Client, outsider_client: Client
) -> None:
    root = User.objects.create_superuser(username="root", password="x")
    client.force_login(root)
    assert changelist_labels(client, "clients_client") == {"R.K.", "Z.Z."}


def test_flag_history_shows_in_the_admin_and_sweeps_only_to_superusers(
    client: Any, clinic_admin: User, client_record: Client
) -> None:
    from measures.models import FlagEvent, Sweep

    flag = FlagFactory(session=SessionFactory(client=client_record))
    FlagEvent.objects.create(flag=flag, action="commented", note="Seen in supervision.")
    Sweep.objects.create()
    client.force_login(clinic_admin)
    page = client.get(reverse("admin:measures_flag_change", args=[flag.pk]))
    assert page.status_code == 200 and b"Seen in supervision." in page.content
    assert client.get(reverse("admin:measures_sweep_changelist")).status_code == 403
    root = User.objects.create_superuser(username="root", password="x")
    client.force_login(root)
    assert client.get(reverse("admin:measures_sweep_changelist")).status_code == 200
