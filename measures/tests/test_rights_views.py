"""The client's rights pages: export and erase, for the client's clinic admins only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import AuditAction, AuditEntry, Client, User

pytestmark = pytest.mark.usefixtures("postgresql")


def export_url(client: Client) -> str:
    return reverse("measures:client-export", args=[client.pk])


def erase_url(client: Client) -> str:
    return reverse("measures:client-erase", args=[client.pk])


@pytest.fixture
def discharged(client_record: Client) -> Client:
    client_record.status = Client.Status.DISCHARGED
    client_record.discharged_at = timezone.now()
    client_record.save()
    return client_record


def test_anonymous_is_sent_to_log_in(client: Any, discharged: Client) -> None:
    for url in (export_url(discharged), erase_url(discharged)):
        assert client.get(url)["Location"].startswith(reverse("login"))


def test_an_outsider_gets_404_and_readers_get_403(
    client: Any, discharged: Client, outsider: User, therapist: User, supervisor: User
) -> None:
    client.force_login(outsider)
    assert client.post(erase_url(discharged), {"label": "R.K."}).status_code == 404
    for reader in (therapist, supervisor):
        client.force_login(reader)
        assert client.get(export_url(discharged)).status_code == 403
        assert client.post(erase_url(discharged), {"label": "R.K."}).status_code == 403
    discharged.refresh_from_db()
    assert not discharged.is_erased


def test_the_clinic_admin_downloads_the_record_and_the_summary(
    client: Any, discharged: Client, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    assert "Export all data" in client.get(discharged.get_absolute_url()).content.decode()
    response = client.post(export_url(discharged), {"format": "json"})
    assert response["Content-Disposition"] == f'attachment; filename="client-{discharged.pk}.json"'
    assert json.loads(response.content)["client"]["label"] == "R.K."
    summary = client.post(export_url(discharged), {"format": "html"})
    assert "Everything held about R.K." in summary.content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.EXPORTED).count() == 2


def test_a_wrong_label_erases_nothing(client: Any, discharged: Client, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(erase_url(discharged), {"label": "someone else"})
    assert response.status_code == 200
    assert "not this client" in response.content.decode()
    discharged.refresh_from_db()
    assert discharged.label == "R.K."


def test_an_active_client_is_not_offered_erasure_nor_erased(
    client: Any, client_record: Client, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    assert "Erase (anonymise)" not in client.get(client_record.get_absolute_url()).content.decode()
    response = client.post(erase_url(client_record), {"label": "R.K."})
    assert "discharged" in response.content.decode()
    client_record.refresh_from_db()
    assert not client_record.is_erased


def test_the_clinic_admin_erases_a_discharged_client(
    client: Any, discharged: Client, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    assert "Erase (anonymise)" in client.get(discharged.get_absolute_url()).content.decode()
    response = client.post(erase_url(discharged), {"label": "R.K."})
    assert response.status_code == 302
    discharged.refresh_from_db()
    assert discharged.is_erased and discharged.label.startswith("Erased ")
    entry = AuditEntry.objects.get(action=AuditAction.ERASED)
    assert entry.actor_id == clinic_admin.pk and "R.K." not in json.dumps(entry.fields)
