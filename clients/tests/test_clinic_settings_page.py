"""/clinic/settings/: the clinic's admins word the client form's privacy notice."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import AuditAction, AuditEntry, Clinic, User

pytestmark = pytest.mark.django_db

URL = "/clinic/settings/"


def test_the_address_is_named() -> None:
    assert reverse("clients:clinic-settings") == URL


def test_anonymous_visitors_are_sent_to_log_in(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("who", ["therapist", "supervisor", "outsider"])
def test_it_refuses_everyone_but_clinic_admins(
    client: Any, clinic: Clinic, who: str, request: pytest.FixtureRequest
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"notice_en": "Nobody sees them."}).status_code == 403
    clinic.refresh_from_db()
    assert (clinic.notice_en, clinic.notice_version) == ("", 1)


def test_a_clinic_admin_sees_the_defaults_and_the_version(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    html = client.get(URL).content.decode()
    assert "Your therapist sees your answers. At Riverside" in html
    assert "Su terapeuta ve sus respuestas. En Riverside" in html
    assert "You are on version 1." in html
    assert 'href="/clinic/settings/"' in html  # in the navigation


def test_the_navigation_offers_it_to_clinic_admins_only(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    assert (
        'href="/clinic/settings/"' not in client.get(reverse("reports:caseload")).content.decode()
    )


def test_a_clinic_admin_saves_the_clinics_own_wording(
    client: Any, clinic: Clinic, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(URL, {"notice_en": "Read by your therapist.", "notice_es": ""})
    assert response.status_code == 302 and response["Location"] == URL
    clinic.refresh_from_db()
    assert (clinic.notice_en, clinic.notice_es, clinic.notice_version) == (
        "Read by your therapist.",
        "",
        2,
    )
    assert "clients now see version 2" in client.get(URL).content.decode()


def test_bad_input_is_shown_with_what_was_typed_and_nothing_is_saved(
    client: Any, clinic: Clinic, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    response = client.post(URL, {"notice_en": "Kept words.", "notice_es": "Mal\x07texto"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "line breaks are fine, other control characters are not" in html
    assert "Kept words." in html
    too_long = client.post(URL, {"notice_en": "y" * 1001, "notice_es": ""}).content.decode()
    assert "at most 1000 characters" in too_long and "y" * 1001 in too_long
    clinic.refresh_from_db()
    assert (clinic.notice_en, clinic.notice_es, clinic.notice_version) == ("", "", 1)


# --- How long records are kept ------------------------------------------------------------


def test_a_clinic_admin_sets_how_long_records_are_kept(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        URL,
        {"part": "retention", "retention_days_after_discharge": "365"},
        follow=True,
    )
    assert "How long records are kept is saved." in response.content.decode()
    clinic = Clinic.objects.get(pk=clinic_admin.clinic_id)
    # An unticked box is "no": the numbers of an erased client no longer count.
    assert (clinic.retention_days_after_discharge, clinic.keep_numbers_after_erasure) == (
        365,
        False,
    )
    entry = AuditEntry.objects.get(model="clients.clinic", action=AuditAction.CHANGED)
    assert entry.fields == ["keep_numbers_after_erasure", "retention_days_after_discharge"]
    # The values themselves are never kept (a timestamp may hold the digits "365"; so may
    # an id, the row's own or one it points to, as the sequences run on).
    ids = {"id", "clinic_id", "actor_id", "client_id", "object_id"}
    stored = [
        value for row in AuditEntry.objects.values() for key, value in row.items() if key not in ids
    ]
    assert 365 not in stored and "365" not in stored


@pytest.mark.parametrize("days", ["0", "-5", "٣٠", "36501", "a year"])
def test_a_retention_that_is_not_a_number_of_days_is_refused_and_nothing_saved(
    client: Any, clinic_admin: User, days: str
) -> None:
    client.force_login(clinic_admin)
    response = client.post(
        URL,
        {
            "part": "retention",
            "retention_days_after_discharge": days,
            "keep_numbers_after_erasure": "on",
        },
    )
    assert response.status_code == 200
    assert response.context["retention_form"].errors["retention_days_after_discharge"]
    clinic = Clinic.objects.get(pk=clinic_admin.clinic_id)
    assert clinic.retention_days_after_discharge is None


def test_an_unknown_part_of_the_settings_saves_nothing(client: Any, clinic_admin: User) -> None:
    client.force_login(clinic_admin)
    response = client.post(URL, {"part": "everything", "notice_en": "Hello"}, follow=True)
    assert "nothing was saved" in response.content.decode()
    assert Clinic.objects.get(pk=clinic_admin.clinic_id).notice_en == ""


def test_a_clinic_admin_renames_the_clinic_in_the_app(
    client: Any, clinic: Clinic, clinic_admin: User
) -> None:
    """A clinic admin invited in the app has no Django admin: the name is on this page.
    The default notice names the clinic, so clients read new words: a new version."""
    client.force_login(clinic_admin)
    response = client.post(URL, {"part": "name", "name": "  Riverside Family Practice "})
    assert response.status_code == 302 and response["Location"] == URL
    clinic.refresh_from_db()
    assert (clinic.name, clinic.slug, clinic.notice_version) == (
        "Riverside Family Practice",
        "riverside",
        2,
    )
    [entry] = AuditEntry.objects.filter(model="clients.clinic", action=AuditAction.CHANGED)
    assert (entry.actor, entry.fields) == (clinic_admin, ["name", "notice_version"])
    page = client.get(URL).content.decode()
    assert "The clinic is now called Riverside Family Practice." in page
    assert "At Riverside Family Practice" in page  # the default notice says it


def test_the_same_name_saved_again_records_nothing(
    client: Any, clinic: Clinic, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    assert client.post(URL, {"part": "name", "name": clinic.name}).status_code == 302
    clinic.refresh_from_db()
    assert clinic.notice_version == 1
    assert not AuditEntry.objects.filter(model="clients.clinic").exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("R" * 121, "at most 120 characters"),
        ("Riverside\r\nBcc: all@example.com", "control characters"),
    ],
)
def test_a_bad_name_is_refused_with_what_was_typed_and_nothing_is_saved(
    client: Any, clinic: Clinic, clinic_admin: User, name: str, message: str
) -> None:
    client.force_login(clinic_admin)
    response = client.post(URL, {"part": "name", "name": name})
    assert response.status_code == 200
    assert message in response.content.decode()
    clinic.refresh_from_db()
    assert (clinic.name, clinic.notice_version) == ("Riverside", 1)
    assert not AuditEntry.objects.filter(model="clients.clinic").exists()


@pytest.mark.parametrize("who", ["therapist", "supervisor", "outsider"])
def test_nobody_but_its_admins_renames_the_clinic(
    client: Any, clinic: Clinic, who: str, request: pytest.FixtureRequest
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.post(URL, {"part": "name", "name": "Taken over"}).status_code == 403
    clinic.refresh_from_db()
    assert clinic.name == "Riverside"
