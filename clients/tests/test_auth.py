"""Log-in, log-out and password change with our templates."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import User

pytestmark = pytest.mark.django_db


def test_the_log_in_page_renders(client: Any) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in" in response.content
    assert b"/static/vendor/bootstrap/css/bootstrap.min.css" in response.content


def test_a_wrong_password_is_refused_with_a_message(client: Any, therapist: User) -> None:
    response = client.post(reverse("login"), {"username": "tara", "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


def test_a_therapist_logs_in_and_out(client: Any, therapist: User) -> None:
    response = client.post(
        reverse("login"), {"username": "tara", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(therapist.pk)
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def test_password_change_needs_the_old_password(client: Any, therapist: User) -> None:
    client.force_login(therapist)
    url = reverse("password_change")
    bad = client.post(
        url,
        {
            "old_password": "nope",
            "new_password1": "Quiet-river-42",
            "new_password2": "Quiet-river-42",
        },
    )
    assert bad.status_code == 200 and b"Your old password was entered incorrectly" in bad.content
    good = client.post(
        url,
        {
            "old_password": "correct horse battery",
            "new_password1": "Quiet-river-42",
            "new_password2": "Quiet-river-42",
        },
    )
    assert good["Location"] == reverse("password_change_done")
    therapist.refresh_from_db()
    assert therapist.check_password("Quiet-river-42")
