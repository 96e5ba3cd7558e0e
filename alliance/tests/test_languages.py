"""Which language a page speaks: the client's link, the client's; every other page, English.

Only the client's form is written in two languages. A staff page following the browser
mixed the app's English with Django's Spanish (the log-in form, the password rules) and
Spanish numbers and months."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from clients.models import Client, User
from sessions import invitations
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

SPANISH_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "es-ES,es;q=0.9"}
ENGLISH_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}


def link_of(client_record: Client, language: str) -> str:
    Client.objects.filter(pk=client_record.pk).update(language=language)
    _, token = invitations.invitation_create(session=SessionFactory(client=client_record))
    return reverse("measures:client-rating", args=[token])


def test_the_log_in_page_is_english_whatever_the_browser_asks(client: Any) -> None:
    response = client.get(reverse("login"), **SPANISH_BROWSER)
    html = response.content.decode()
    assert "Username" in html and "Nombre de usuario" not in html
    assert response["Content-Language"] == "en"


def test_a_staff_page_is_english(client: Any, therapist: User, client_record: Client) -> None:
    client.force_login(therapist)
    response = client.get(client_record.get_absolute_url(), **SPANISH_BROWSER)
    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert "Ir al contenido" not in response.content.decode()  # Django's "Skip to content"


def test_an_english_clients_link_is_english_from_a_spanish_browser(
    client: Any, client_record: Client
) -> None:
    response = client.get(link_of(client_record, "en"), **SPANISH_BROWSER)
    assert "How was today's session?" in response.content.decode()
    assert response["Content-Language"] == "en"


def test_a_spanish_clients_link_is_spanish_from_an_english_browser(
    client: Any, client_record: Client
) -> None:
    response = client.get(link_of(client_record, "es"), **ENGLISH_BROWSER)
    assert "¿Cómo fue la sesión de hoy?" in response.content.decode()
    assert response["Content-Language"] == "es"


def test_a_link_that_names_no_client_answers_in_the_browsers_language(client: Any) -> None:
    """A bad token: nobody's language is known, so the browser's is the best guess."""
    address = reverse("measures:client-rating", args=["not-a-token"])
    response = client.get(address, **SPANISH_BROWSER)
    assert response.status_code == 404
    assert "Este enlace no se puede usar" in response.content.decode()
    assert response["Content-Language"] == "es"
