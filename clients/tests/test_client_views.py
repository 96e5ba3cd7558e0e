"""The pages for adding, editing, discharging and re-opening clients."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from clients.models import Client, User
from clients.tests.factories import ClientFactory, StaffFactory, TherapistFactory

pytestmark = pytest.mark.django_db

CLIENT_WRITE_PAGES = ["clients:client-edit", "clients:client-discharge", "clients:client-reopen"]
DETAILS = {"label": "J.D.", "external_id": "", "email": "", "language": "en"}


def send(client: Any, method: str, url: str, data: dict[str, Any]) -> Any:
    """GET the page, or POST `data` to it."""
    return client.post(url, data) if method == "post" else client.get(url)


def client_page(client: Client) -> str:
    return reverse("reports:client-detail", args=[client.pk])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def snapshot(client: Client) -> dict[str, Any]:
    """Everything the pages may change, to prove a refused write changed nothing."""
    client.refresh_from_db()
    fields = [
        "therapist_id",
        "label",
        "external_id",
        "email",
        "language",
        "status",
        "discharged_at",
    ]
    return {name: getattr(client, name) for name in fields}


# --- Anyone not allowed ---------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_log_in_to_add_a_client(client: Any, method: str) -> None:
    url = reverse("clients:client-create")
    response = send(client, method, url, DETAILS)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
    assert not Client.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url_name", CLIENT_WRITE_PAGES)
def test_anonymous_visitors_are_sent_to_log_in_to_change_a_client(
    client: Any, client_record: Client, url_name: str, method: str
) -> None:
    before = snapshot(client_record)
    url = reverse(url_name, args=[client_record.pk])
    response = send(client, method, url, DETAILS)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
    assert snapshot(client_record) == before


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url_name", CLIENT_WRITE_PAGES)
def test_an_outsider_cannot_find_another_clinics_client(
    client: Any, outsider: User, client_record: Client, url_name: str, method: str
) -> None:
    before = snapshot(client_record)
    client.force_login(outsider)
    response = send(client, method, reverse(url_name, args=[client_record.pk]), DETAILS)
    assert response.status_code == 404
    assert snapshot(client_record) == before


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url_name", CLIENT_WRITE_PAGES)
def test_a_colleague_cannot_find_another_therapists_client(
    client: Any, colleague: User, client_record: Client, url_name: str, method: str
) -> None:
    before = snapshot(client_record)
    client.force_login(colleague)
    response = send(client, method, reverse(url_name, args=[client_record.pk]), DETAILS)
    assert response.status_code == 404
    assert snapshot(client_record) == before


@pytest.mark.parametrize("url_name", CLIENT_WRITE_PAGES)
def test_an_unknown_client_is_not_found(client: Any, therapist: User, url_name: str) -> None:
    client.force_login(therapist)
    assert client.get(reverse(url_name, args=[999_999])).status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_supervisor_cannot_add_clients(
    client: Any, supervisor: User, therapist: User, method: str
) -> None:
    client.force_login(supervisor)
    data = {**DETAILS, "therapist": therapist.pk}
    response = send(client, method, reverse("clients:client-create"), data)
    assert response.status_code == 403
    assert not Client.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url_name", CLIENT_WRITE_PAGES)
def test_a_supervisor_reads_a_supervisees_client_but_cannot_change_them(
    client: Any, supervisor: User, client_record: Client, url_name: str, method: str
) -> None:
    before = snapshot(client_record)
    client.force_login(supervisor)
    response = send(client, method, reverse(url_name, args=[client_record.pk]), DETAILS)
    assert response.status_code == 403
    assert snapshot(client_record) == before


# --- Adding a client ------------------------------------------------------


def test_a_therapist_sees_the_add_form_without_a_therapist_select(
    client: Any, therapist: User
) -> None:
    client.force_login(therapist)
    response = client.get(reverse("clients:client-create"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Add a client" in content
    assert 'for="id_label"' in content
    assert "A pseudonym or initials, never a legal name." in content
    assert 'name="therapist"' not in content
    assert "<script>" not in content and "style=" not in content


def test_a_therapist_adds_a_client_to_their_own_caseload(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    response = client.post(
        reverse("clients:client-create"),
        {"label": " R.K. ", "external_id": "A-17", "email": "rk@example.org", "language": "es"},
    )
    created = Client.objects.get()
    assert response.status_code == 302
    assert response["Location"] == client_page(created)
    assert messages_of(response) == ["R.K. added to the caseload."]
    assert (created.therapist, created.clinic, created.label) == (
        therapist,
        therapist.clinic,
        "R.K.",
    )
    assert (created.external_id, created.email, created.language, created.status) == (
        "A-17",
        "rk@example.org",
        "es",
        "active",
    )


def test_a_therapist_cannot_add_to_a_colleagues_caseload_by_posting_a_therapist(
    client: Any, therapist: User, colleague: User
) -> None:
    client.force_login(therapist)
    client.post(reverse("clients:client-create"), {**DETAILS, "therapist": colleague.pk})
    assert Client.objects.get().therapist == therapist


def test_a_blank_label_is_refused_and_what_was_typed_stays(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    response = client.post(
        reverse("clients:client-create"),
        {"label": "   ", "external_id": "A-17", "email": "rk@example.org", "language": "es"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "This field is required." in content
    assert 'value="A-17"' in content
    assert 'value="rk@example.org"' in content
    assert '<option value="es" selected>' in content
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("label", "said"),
    [
        ("R.K.\u200b", "Remove the invisible character U+200B ZERO WIDTH SPACE"),
        ("\u202eK.R", "Remove the invisible character U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u3164", "Enter at least one visible character."),
    ],
)
def test_a_label_that_would_not_read_as_it_shows_is_refused_and_what_was_typed_stays(
    client: Any, therapist: User, client_record: Client, label: str, said: str
) -> None:
    before = snapshot(client_record)
    client.force_login(therapist)
    typed = {"label": label, "external_id": "A-17", "email": "", "language": "en"}
    for url in (
        reverse("clients:client-create"),
        reverse("clients:client-edit", args=[client_record.pk]),
    ):
        response = client.post(url, typed)
        assert response.status_code == 200
        content = response.content.decode()
        assert said in content
        assert f'value="{label}"' in content and 'value="A-17"' in content
    assert snapshot(client_record) == before
    assert Client.objects.count() == 1


def test_an_empty_submission_shows_errors_rather_than_a_blank_form(
    client: Any, therapist: User
) -> None:
    client.force_login(therapist)
    response = client.post(reverse("clients:client-create"), {})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert not Client.objects.exists()


def test_an_invalid_email_is_refused(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    response = client.post(reverse("clients:client-create"), {**DETAILS, "email": "not-an-email"})
    assert response.status_code == 200
    assert b"Enter a valid email address." in response.content
    assert not Client.objects.exists()


def test_a_duplicate_external_id_is_shown_on_the_form(client: Any, therapist: User) -> None:
    ClientFactory(therapist=therapist, label="A.B.", external_id="A-17")
    client.force_login(therapist)
    response = client.post(reverse("clients:client-create"), {**DETAILS, "external_id": "A-17"})
    assert response.status_code == 200
    assert b"Another client of this clinic has this external ID." in response.content
    assert b'value="J.D."' in response.content
    assert Client.objects.count() == 1


def test_a_clinic_admin_chooses_among_the_clinics_active_therapists(
    client: Any, clinic_admin: User, therapist: User, colleague: User, outsider: User
) -> None:
    retired = TherapistFactory(clinic=clinic_admin.clinic, username="rita", is_active=False)
    client.force_login(clinic_admin)
    response = client.get(reverse("clients:client-create"))
    content = response.content.decode()
    assert 'name="therapist"' in content
    assert f'<option value="{therapist.pk}">' in content
    assert f'<option value="{colleague.pk}">' in content
    assert f'value="{outsider.pk}"' not in content
    assert f'value="{retired.pk}"' not in content


def test_a_clinic_admin_adds_a_client_to_a_colleagues_caseload(
    client: Any, clinic_admin: User, colleague: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(reverse("clients:client-create"), {**DETAILS, "therapist": colleague.pk})
    created = Client.objects.get()
    assert response["Location"] == client_page(created)
    assert (created.therapist, created.clinic) == (colleague, colleague.clinic)


def test_a_clinic_admin_must_choose_a_therapist(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(reverse("clients:client-create"), DETAILS)
    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert not Client.objects.exists()


def test_a_clinic_admin_cannot_add_a_client_for_another_clinics_therapist(
    client: Any, clinic_admin: User, outsider: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(reverse("clients:client-create"), {**DETAILS, "therapist": outsider.pk})
    assert response.status_code == 200
    assert b"Select a valid choice." in response.content
    assert not Client.objects.exists()


def test_a_therapist_who_is_also_clinic_admin_is_offered_themselves_first(
    client: Any, clinic: Any, colleague: User
) -> None:
    both = StaffFactory(clinic=clinic, username="bea", is_therapist=True, is_clinic_admin=True)
    client.force_login(both)
    response = client.get(reverse("clients:client-create"))
    content = response.content.decode()
    assert f'<option value="{both.pk}" selected>' in content
    assert f'<option value="{colleague.pk}">' in content


# --- Editing a client -----------------------------------------------------


def test_the_edit_form_shows_the_clients_details(client: Any, therapist: User) -> None:
    record = ClientFactory(
        therapist=therapist, label="R.K.", external_id="A-17", email="rk@example.org"
    )
    client.force_login(therapist)
    response = client.get(reverse("clients:client-edit", args=[record.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Edit R.K." in content
    assert 'value="A-17"' in content and 'value="rk@example.org"' in content
    assert f'href="{client_page(record)}"' in content
    assert 'name="therapist"' not in content


def test_a_therapist_changes_their_clients_details(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.post(
        reverse("clients:client-edit", args=[client_record.pk]),
        {"label": "R.K.2", "external_id": "B-2", "email": "new@example.org", "language": "es"},
    )
    assert response["Location"] == client_page(client_record)
    assert messages_of(response) == ["Changes to R.K.2 saved."]
    client_record.refresh_from_db()
    assert (
        client_record.label,
        client_record.external_id,
        client_record.email,
        client_record.language,
        client_record.therapist,
    ) == ("R.K.2", "B-2", "new@example.org", "es", therapist)


def test_a_therapist_cannot_move_their_client_to_a_colleague(
    client: Any, therapist: User, colleague: User, client_record: Client
) -> None:
    client.force_login(therapist)
    client.post(
        reverse("clients:client-edit", args=[client_record.pk]),
        {**DETAILS, "therapist": colleague.pk},
    )
    client_record.refresh_from_db()
    assert client_record.therapist == therapist


def test_a_blank_label_on_edit_changes_nothing_and_keeps_what_was_typed(
    client: Any, therapist: User, client_record: Client
) -> None:
    before = snapshot(client_record)
    client.force_login(therapist)
    response = client.post(
        reverse("clients:client-edit", args=[client_record.pk]),
        {"label": "", "external_id": "B-2", "email": "new@example.org", "language": "es"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "This field is required." in content
    assert 'value="B-2"' in content and 'value="new@example.org"' in content
    assert snapshot(client_record) == before


def test_a_duplicate_external_id_on_edit_changes_nothing(
    client: Any, therapist: User, client_record: Client
) -> None:
    ClientFactory(therapist=therapist, label="A.B.", external_id="A-17")
    before = snapshot(client_record)
    client.force_login(therapist)
    response = client.post(
        reverse("clients:client-edit", args=[client_record.pk]),
        {**DETAILS, "label": "New label", "external_id": "A-17"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "Another client of this clinic has this external ID." in content
    assert "Edit R.K." in content  # the heading shows the stored label, not the refused one
    assert snapshot(client_record) == before


def test_the_edit_page_offers_no_therapist_but_links_a_clinic_admin_to_the_move(
    client: Any, clinic_admin: User, therapist: User, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    html = client.get(reverse("clients:client-edit", args=[client_record.pk])).content.decode()
    assert 'name="therapist"' not in html
    assert f'href="{reverse("clients:client-move", args=[client_record.pk])}"' in html


def test_the_edit_page_offers_a_therapist_no_move(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    html = client.get(reverse("clients:client-edit", args=[client_record.pk])).content.decode()
    assert reverse("clients:client-move", args=[client_record.pk]) not in html


def test_saving_the_edit_form_never_moves_a_client(
    client: Any, clinic_admin: User, therapist: User, colleague: User, client_record: Client
) -> None:
    """Moving is its own confirmed step (test_client_move.py): a therapist sent with the
    details is ignored."""
    client.force_login(clinic_admin)
    response = client.post(
        reverse("clients:client-edit", args=[client_record.pk]),
        {**DETAILS, "label": "R.K.", "therapist": colleague.pk},
    )
    assert response["Location"] == client_page(client_record)
    client_record.refresh_from_db()
    assert client_record.therapist == therapist


def test_a_clinic_admin_edits_a_client_of_a_deactivated_therapist_without_moving_them(
    client: Any, clinic_admin: User, therapist: User, client_record: Client
) -> None:
    therapist.is_active = False
    therapist.save(update_fields=["is_active"])
    client.force_login(clinic_admin)
    response = client.post(
        reverse("clients:client-edit", args=[client_record.pk]),
        {**DETAILS, "label": "R.K.2", "therapist": therapist.pk},
    )
    assert response.status_code == 302
    client_record.refresh_from_db()
    assert (client_record.label, client_record.therapist) == ("R.K.2", therapist)


# --- Discharging and re-opening -------------------------------------------


def test_discharging_asks_for_confirmation_first(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.get(reverse("clients:client-discharge", args=[client_record.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Discharge R.K.?" in content
    assert "Their history stays; you can re-open them later." in content
    assert f'href="{client_page(client_record)}"' in content
    client_record.refresh_from_db()
    assert client_record.status == Client.Status.ACTIVE


def test_a_therapist_discharges_their_client(
    client: Any, therapist: User, client_record: Client
) -> None:
    client.force_login(therapist)
    response = client.post(reverse("clients:client-discharge", args=[client_record.pk]))
    assert response["Location"] == client_page(client_record)
    assert messages_of(response) == ["R.K. discharged."]
    client_record.refresh_from_db()
    assert client_record.status == Client.Status.DISCHARGED
    assert client_record.discharged_at is not None


def test_a_clinic_admin_discharges_a_colleagues_client(
    client: Any, clinic_admin: User, colleague_client: Client
) -> None:
    client.force_login(clinic_admin)
    client.post(reverse("clients:client-discharge", args=[colleague_client.pk]))
    colleague_client.refresh_from_db()
    assert colleague_client.status == Client.Status.DISCHARGED


def test_discharging_an_already_discharged_client_says_so_and_changes_nothing(
    client: Any, therapist: User
) -> None:
    discharged_at = timezone.now() - timedelta(days=30)
    record = ClientFactory(
        therapist=therapist, label="R.K.", status="discharged", discharged_at=discharged_at
    )
    client.force_login(therapist)
    response = client.post(reverse("clients:client-discharge", args=[record.pk]))
    assert response["Location"] == client_page(record)
    assert messages_of(response) == ["This client is already discharged."]
    record.refresh_from_db()
    assert (record.status, record.discharged_at) == ("discharged", discharged_at)


def test_re_opening_asks_for_confirmation_first(client: Any, therapist: User) -> None:
    record = ClientFactory(
        therapist=therapist, label="R.K.", status="discharged", discharged_at=timezone.now()
    )
    client.force_login(therapist)
    response = client.get(reverse("clients:client-reopen", args=[record.pk]))
    assert response.status_code == 200
    assert b"Re-open R.K.?" in response.content
    record.refresh_from_db()
    assert record.status == Client.Status.DISCHARGED


def test_a_therapist_re_opens_a_discharged_client(client: Any, therapist: User) -> None:
    record = ClientFactory(
        therapist=therapist, label="R.K.", status="discharged", discharged_at=timezone.now()
    )
    client.force_login(therapist)
    response = client.post(reverse("clients:client-reopen", args=[record.pk]))
    assert response["Location"] == client_page(record)
    assert messages_of(response) == ["R.K. re-opened."]
    record.refresh_from_db()
    assert (record.status, record.discharged_at) == ("active", None)


def test_re_opening_an_active_client_says_so_and_changes_nothing(
    client: Any, therapist: User, client_record: Client
) -> None:
    before = snapshot(client_record)
    client.force_login(therapist)
    response = client.post(reverse("clients:client-reopen", args=[client_record.pk]))
    assert response["Location"] == client_page(client_record)
    assert messages_of(response) == ["This client is already active."]
    assert snapshot(client_record) == before


def test_a_new_clients_form_has_the_outcome_check_on_and_the_chart_off(
    client: Any, therapist: User
) -> None:
    client.force_login(therapist)
    html = client.get(reverse("clients:client-create")).content.decode()
    inputs = {
        name: re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)  # type: ignore[union-attr]
        for name in ("asks_outcome", "shows_own_chart")
    }
    assert " checked" in inputs["asks_outcome"]
    assert " checked" not in inputs["shows_own_chart"]


def test_the_therapist_switches_the_outcome_check_and_the_clients_chart(
    client: Any, therapist: User, client_record: Client
) -> None:
    from clients.models import AuditEntry

    client.force_login(therapist)
    response = client.post(
        reverse("clients:client-edit", args=[client_record.pk]),
        {"label": "R.K.", "language": "en", "shows_own_chart": "on"},  # outcome check unticked
    )
    assert response.status_code == 302
    client_record.refresh_from_db()
    assert (client_record.asks_outcome, client_record.shows_own_chart) == (False, True)
    entry = AuditEntry.objects.get(action="changed", client_id=client_record.pk)
    assert entry.fields == ["asks_outcome", "shows_own_chart"]
