"""Guessing passwords: a few tries per username and address, then a pause."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client as Browser
from django.urls import reverse

from accounts import services
from accounts.tests.steps import log_in, signed_in_as
from clients.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def limit(settings: Any) -> int:
    settings.AXES_FAILURE_LIMIT = 5
    return 5


def test_thirty_wrong_passwords_then_the_right_one_does_not_sign_in(
    client: Any, therapist: User
) -> None:
    statuses = [log_in(client, "tara", f"guess-{n}").status_code for n in range(30)]
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}
    response = log_in(client, "tara")
    assert response.status_code == 429 and signed_in_as(client) is None
    text = response.content.decode()
    assert "Sign-in paused" in text and "15 minutes" in text and "clinic admin" in text


def test_the_admins_log_in_is_the_same_throttled_page(client: Any, clinic_admin: User) -> None:
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "ada", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/admin/"
    assert signed_in_as(client) is None
    for n in range(5):
        log_in(client, "ada", f"guess-{n}")
    assert log_in(client, "ada").status_code == 429


def test_failures_are_recorded_without_the_passwords_tried(client: Any, therapist: User) -> None:
    for n in range(3):
        log_in(client, "tara", f"secret-guess-{n}", REMOTE_ADDR="203.0.113.9")
    attempt = AccessAttempt.objects.get(username="tara")
    assert attempt.failures_since_start == 3 and attempt.ip_address == "203.0.113.9"
    assert AccessFailureLog.objects.filter(username="tara").count() == 3
    assert "secret-guess" not in str(attempt.post_data)


def test_the_lock_is_per_username_and_address(client: Any, therapist: User) -> None:
    for n in range(5):
        log_in(client, "tara", f"guess-{n}", REMOTE_ADDR="203.0.113.9")
    assert log_in(client, "tara", REMOTE_ADDR="203.0.113.9").status_code == 429
    # The therapist at the clinic, from another address, is not locked out by the guesser.
    elsewhere = Browser()
    assert log_in(elsewhere, "tara", REMOTE_ADDR="198.51.100.20").status_code == 302


def test_the_lock_lifts_by_itself_after_the_cool_off(client: Any, therapist: User) -> None:
    for n in range(5):
        log_in(client, "tara", f"guess-{n}")
    assert log_in(client, "tara").status_code == 429
    AccessAttempt.objects.update(attempt_time=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert log_in(client, "tara").status_code == 302 and signed_in_as(client) is not None


def test_a_clinic_admin_unlocks_a_colleague(
    client: Any, therapist: User, clinic_admin: User
) -> None:
    for n in range(5):
        log_in(client, "tara", f"guess-{n}")
    admin = Browser()
    admin.force_login(clinic_admin)
    changelist = reverse("admin:clients_user_changelist")
    listed = admin.get(changelist)
    row = next(row for row in listed.context["cl"].result_list if row.pk == therapist.pk)
    assert row._locked_out is True
    response = admin.post(
        changelist, {"action": "unlock_sign_in", "_selected_action": [therapist.pk]}
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="tara").exists()
    assert log_in(client, "tara").status_code == 302


def test_a_clinic_admin_cannot_unlock_another_clinic(
    client: Any, outsider: User, clinic_admin: User
) -> None:
    for n in range(5):
        log_in(client, "otto", f"guess-{n}")
    admin = Browser()
    admin.force_login(clinic_admin)
    admin.post(
        reverse("admin:clients_user_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [outsider.pk]},
    )
    assert AccessAttempt.objects.filter(username="otto").exists()
    assert log_in(client, "otto").status_code == 429


def test_a_successful_sign_in_clears_earlier_failures(client: Any, therapist: User) -> None:
    for n in range(4):
        log_in(client, "tara", f"guess-{n}")
    assert log_in(client, "tara").status_code == 302
    client.post(reverse("logout"))
    for n in range(4):
        log_in(client, "tara", f"again-{n}")
    assert log_in(client, "tara").status_code == 302


def test_unlocking_is_a_service_the_admin_calls(therapist: User, client: Any) -> None:
    for n in range(5):
        log_in(client, "tara", f"guess-{n}")
    assert services.unlock_sign_in(therapist) == 1
    assert services.unlock_sign_in(therapist) == 0
