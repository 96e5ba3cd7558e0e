"""What fails before REST framework answers (no route, the request guards, an outage, a bug)
answers an API client in JSON too, as REST framework's own errors do: {"detail": "…"}."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client as DjangoClient
from rest_framework.throttling import UserRateThrottle

from accounts import tokens
from alliance.errors import NOT_FOUND, RETRY_AFTER_SECONDS, SERVER_ERROR, UNAVAILABLE
from clients.models import User

pytestmark = pytest.mark.django_db


def bearer(user: User) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {tokens.token_create(user=user, name='Tool')[1]}"}


def detail(response: Any) -> str:
    assert response["Content-Type"] == "application/json", response.content[:200]
    return response.json()["detail"]


def test_an_address_the_api_does_not_have_answers_404_in_json(client: Any, therapist: User) -> None:
    for path in ("/api/v1/nothing-here/", "/api/v2/clients/", "/api/"):
        response = client.get(path, **bearer(therapist))
        assert (response.status_code, detail(response)) == (404, NOT_FOUND), path


def test_a_page_the_app_does_not_have_is_still_the_404_page(client: Any) -> None:
    response = client.get("/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_the_request_guards_refuse_in_json_in_the_api(client: Any, therapist: User) -> None:
    nul = client.get("/api/v1/clients/", {"q": "a\x00b"}, **bearer(therapist))
    assert nul.status_code == 400
    assert detail(nul) == "The address contains a character that is not allowed."
    assert "no-store" in nul["Cache-Control"]
    big = client.generic(
        "POST", "/api/v1/clients/", b"x" * (2**20 * 8), "application/json", **bearer(therapist)
    )
    assert big.status_code == 413 and detail(big) == "The request is larger than any form here."


def test_an_outage_answers_the_api_503_in_json_and_a_bug_500(
    monkeypatch: pytest.MonkeyPatch, therapist: User
) -> None:
    browser = DjangoClient(raise_request_exception=False)
    headers = bearer(therapist)

    def outage(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("could not connect to server at 10.1.2.3")

    def bug(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError

    with monkeypatch.context() as down:
        down.setattr(CursorWrapper, "execute", outage)
        unavailable = browser.get("/api/v1/clients/", **headers)
    assert (unavailable.status_code, detail(unavailable)) == (503, UNAVAILABLE)
    assert unavailable["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "10.1.2.3" not in unavailable.content.decode()
    with monkeypatch.context() as broken:
        broken.setattr(CursorWrapper, "execute", bug)
        failed = browser.get("/api/v1/clients/", **headers)
    assert (failed.status_code, detail(failed)) == (500, SERVER_ERROR)
    assert "Retry-After" not in failed


def test_the_schemas_refusals_answer_in_json_too(client: Any, monkeypatch: Any) -> None:
    """The OpenAPI description is YAML unless JSON is asked for, and its refusals were
    too, `detail` turned into `{string: …, code: …}`: a tool reading `detail` from every
    error under /api/ could not read why the schema was refused."""
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1/minute"})
    unknown = client.get("/api/schema/", {"format": "xml"})
    assert unknown.status_code == 406
    assert detail(unknown) == "No format 'xml' here; this address gives: json, yaml."
    assert client.get("/api/schema/").status_code == 200
    refused = client.get("/api/schema/")
    assert refused.status_code == 429 and refused["Retry-After"]
    assert detail(refused).startswith("Request was throttled.")
    # What it serves is unchanged: YAML by default, JSON when asked.
    served = client.get("/api/schema/", REMOTE_ADDR="10.0.0.7")
    assert served["Content-Type"].startswith("application/vnd.oai.openapi")
    assert served.content.startswith(b"openapi:")
    asked = client.get("/api/schema/", HTTP_ACCEPT="application/json", REMOTE_ADDR="10.0.0.8")
    assert "openapi" in asked.json()
