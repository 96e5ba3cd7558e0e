"""The hardening as deployed: gunicorn, production settings, a real socket.

Only pages that need no database are asked (the guards answer before any view), so the
server needs nothing but the code.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alliance.tests.serving import gunicorn, production_environment


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    log = tmp_path_factory.mktemp("gunicorn") / "access.log"
    environment = production_environment(
        SECRET_KEY="a-long-random-production-secret-" + "q8Zr4mW2xK7pL9vB3nT6yH1" * 2,
        DATABASE_URL=f"sqlite:///{log.parent / 'unused.sqlite3'}",
        STATIC_ROOT=str(log.parent / "static"),
        # No broker, whatever this process has: each rating judged as it is saved, so the
        # detection check's answer does not depend on the environment the suite runs in.
        CELERY_BROKER_URL="",
    )
    with gunicorn(environment, "--workers", "1", "--access-logfile", str(log)) as port:
        yield port, log


def ask(
    port: int, method: str, path: str, body: bytes = b"", **headers: str
) -> http.client.HTTPResponse:
    """Ask as the TLS-terminating proxy would pass it on (https unless told otherwise)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers={"X-Forwarded-Proto": "https", **headers})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_hostile_requests_get_clean_answers_from_gunicorn(server: tuple[int, Path]) -> None:
    port, _ = server
    assert ask(port, "GET", "/?q=%00").status == 400
    form = "application/x-www-form-urlencoded; charset=utf-16"
    assert (
        ask(
            port,
            "POST",
            "/accounts/login/",
            "username=a".encode("utf-16"),
            **{"Content-Type": form},
        ).status
        == 400
    )
    big = ask(
        port,
        "POST",
        "/accounts/login/",
        b"x" * 300_000,
        **{"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert big.status == 413


def test_pages_are_private_and_carry_the_policies(server: tuple[int, Path]) -> None:
    port, _ = server
    page = ask(port, "GET", "/accounts/login/")
    assert page.status == 200
    assert "no-store" in page.getheader("Cache-Control")
    assert "camera=()" in page.getheader("Permissions-Policy")
    assert "script-src 'self';" in page.getheader("Content-Security-Policy")
    assert page.getheader("Strict-Transport-Security")
    csrf_cookie = page.getheader("Set-Cookie") or ""
    assert "csrftoken=" in csrf_cookie and "Secure" in csrf_cookie and "HttpOnly" in csrf_cookie
    # Behind the proxy, a plain-HTTP request is sent to HTTPS.
    assert ask(port, "GET", "/accounts/login/", **{"X-Forwarded-Proto": "http"}).status == 301


def test_the_access_log_keeps_no_search_terms_or_tokens(server: tuple[int, Path]) -> None:
    port, log = server
    ask(port, "GET", "/?q=R.K.&status=active")
    ask(port, "GET", "/accounts/login/?next=/%3Fq%3DR.K.")
    ask(port, "GET", "/accounts/password/reset/MQ/cx1-abc123def456/")
    time.sleep(0.5)  # gunicorn writes its access log line after the response
    text = log.read_text()
    assert "GET /?[redacted]" in text and "/accounts/login/?[redacted]" in text
    assert "R.K." not in text and "status=active" not in text
    assert "cx1-abc123def456" not in text


def plain_json(port: int, path: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def test_health_answers_a_load_balancer_over_plain_http(server: tuple[int, Path]) -> None:
    """Every page redirects plain HTTP to https; /health/ and /health/detection/ answer
    it, as a load balancer or monitor asks them (and counts a redirect as a failure)."""
    port, _ = server
    assert ask(port, "GET", "/accounts/login/", **{"X-Forwarded-Proto": "http"}).status == 301
    status, answer = plain_json(port, "/health/")
    assert (status, answer["database"]) == (200, "ok")  # its (unmigrated) SQLite answers
    status, answer = plain_json(port, "/health/detection/")
    assert (status, answer["detection"]) == (200, "in process")
