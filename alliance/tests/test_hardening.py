"""What every request and response goes through: refusals, private pages, headers, logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.views import LoginView
from django.test import Client as Browser
from django.urls import reverse

from clients.models import Client, User
from measures.models import Rating
from measures.tests.factories import concern_with_signal
from sessions import invitations
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

ANSWERS = {
    "trust": "9", "empathy": "8", "collaboration": "7", "boundaries": "10", "growth": "6",
    "respect": "10", "rupture": "none", "rupture_resolved": "", "comment": "",
    "notice_version": "1",
}  # fmt: skip


@pytest.fixture
def session(client_record: Client) -> Session:
    return SessionFactory(client=client_record)


@pytest.fixture
def token(session: Session) -> str:
    return invitations.invitation_create(session=session)[1]


def refused(response: Any, status: int = 400) -> bool:
    return response.status_code == status and b"Nothing was saved" in response.content


# --- NUL bytes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/?q=%00",
        "/?q=R.K.%00",
        "/dashboard/?period=custom&from=2025-03-31%00&to=2025-04-13",
        "/admin/sessions/session/?attendance__exact=%00",
        "/admin/clients/client/?q=%00",
        "/r/abc%00def/",
        "/clients/%00/",
    ],
)
def test_a_nul_byte_anywhere_in_the_address_is_a_clean_400(
    client: Any, clinic_admin: User, path: str
) -> None:
    client.force_login(clinic_admin)
    assert refused(client.get(path))


def test_a_nul_byte_in_a_form_is_refused_before_anything_is_stored(
    client: Any, token: str, session: Session
) -> None:
    response = client.post(f"/r/{token}/", {**ANSWERS, "comment": "fine\x00"})
    assert refused(response)
    assert not Rating.objects.filter(session=session).exists()
    login = client.post(reverse("login"), {"username": "ta\x00ra", "password": "x"})
    assert refused(login)


@pytest.mark.parametrize(
    "header",
    [
        {"HTTP_COOKIE": "sessionid=abcdefgh\x00ijk"},
        {"HTTP_COOKIE": 'sessionid="abcdefgh\\000ijk"'},
        {"HTTP_USER_AGENT": "Mozilla\x00"},
        {"HTTP_ACCEPT_LANGUAGE": "es\x00"},
    ],
)
def test_a_nul_byte_in_a_header_or_cookie_is_a_clean_400(
    client: Any, therapist: User, header: dict[str, str]
) -> None:
    browser = Browser(**header)
    for response in (
        browser.get("/"),
        browser.post(reverse("login"), {"username": "tara", "password": "wrong"}),
    ):
        assert refused(response)


# --- charsets and sizes ---------------------------------------------------------------


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", "utf-32", "cp500", "nonsense"])
def test_a_form_in_another_charset_is_a_clean_400(
    client: Any, token: str, session: Session, therapist: User, charset: str
) -> None:
    content_type = f"application/x-www-form-urlencoded; charset={charset}"
    body = "username=tara&password=correct+horse+battery".encode("utf-16")
    assert refused(client.generic("POST", reverse("login"), body, content_type))
    assert "_auth_user_id" not in client.session
    rating = "&".join(f"{k}={v}" for k, v in ANSWERS.items()).encode("utf-16")
    assert refused(client.generic("POST", f"/r/{token}/", rating, content_type))
    assert not Rating.objects.filter(session=session).exists()


def test_utf_8_declared_explicitly_is_accepted(client: Any, therapist: User) -> None:
    body = b"username=tara&password=correct+horse+battery"
    response = client.generic(
        "POST", reverse("login"), body, "application/x-www-form-urlencoded; charset=UTF-8"
    )
    assert response.status_code == 302


def test_a_body_larger_than_any_form_is_refused_unread(client: Any, settings: Any) -> None:
    body = b"x" * (settings.ALLIANCE_MAX_REQUEST_BYTES + 1)
    response = client.generic("POST", reverse("login"), body, "multipart/form-data; boundary=b")
    assert refused(response, 413)


def test_a_thirty_megabyte_upload_to_the_log_in_page_is_refused(client: Any) -> None:
    response = client.generic(
        "POST",
        reverse("login"),
        b"",
        "multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(30 * 1024 * 1024),
    )
    assert refused(response, 413)


def test_a_file_in_a_small_form_is_refused(client: Any, therapist: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("notes.txt", b"hello")
    response = client.post(reverse("login"), {"username": "tara", "password": "x", "f": upload})
    assert response.status_code == 400 and "_auth_user_id" not in client.session


# --- private pages and headers ----------------------------------------------------


def test_every_clinical_page_is_no_store(
    client: Any, clinic_admin: User, therapist: User, client_record: Client
) -> None:
    concern = concern_with_signal(client_record)
    session = concern.last_session
    client.force_login(therapist)
    pages = [
        reverse("reports:caseload"),
        reverse("reports:client-detail", args=[client_record.pk]),
        reverse("reports:session-detail", args=[session.pk]),
        reverse("measures:review-queue"),
        reverse("measures:concern-detail", args=[concern.pk]),
        reverse("reports:client-ratings-csv", args=[client_record.pk]),
        reverse("account"),
    ]
    admin = Browser()
    admin.force_login(clinic_admin)
    for browser, path in [(client, page) for page in pages] + [
        (admin, reverse("reports:dashboard")),
        (admin, reverse("reports:dashboard-csv")),
        (admin, reverse("measures:thresholds")),
        (admin, "/admin/"),
    ]:
        response = browser.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path
        assert "private" in response["Cache-Control"], path


def test_every_response_carries_the_permissions_policy_and_csp(client: Any) -> None:
    for path in (reverse("login"), "/no-such-page/", reverse("password_reset")):
        response = client.get(path)
        assert "camera=()" in response["Permissions-Policy"]
        assert "microphone=()" in response["Permissions-Policy"]
        assert "script-src 'self';" in response["Content-Security-Policy"]


def test_the_link_page_sends_no_referrer_anywhere(client: Any, token: str) -> None:
    response = client.get(f"/r/{token}/")
    assert response["Referrer-Policy"] == "no-referrer"
    # No <meta name="referrer"> may relax the header for the page's own requests.
    assert b'name="referrer"' not in response.content


def too_many_fields(browser: Browser, address: str) -> Any:
    body = "&".join(f"{key}={value}" for key, value in ANSWERS.items())
    body += "&" + "&".join(f"x{number}=1" for number in range(1100))
    return browser.post(address, body, content_type="application/x-www-form-urlencoded")


def a_broken_multipart_body(browser: Browser, address: str) -> Any:
    return browser.post(address, b"--x\r\nnot a part", content_type="multipart/form-data")


@pytest.mark.parametrize("refused_by_django", [too_many_fields, a_broken_multipart_body])
def test_djangos_own_refusals_at_a_link_are_private_and_send_no_referrer(
    token: str, refused_by_django: Any
) -> None:
    """Django refuses these while the guard reads the form, above the link's own view and
    the middleware marking pages no-store; the address still holds the token."""
    response = refused_by_django(Browser(raise_request_exception=False), f"/r/{token}/")
    assert response.status_code == 400
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert not Rating.objects.exists()


def test_staff_pages_keep_the_same_origin_referrer_policy(client: Any) -> None:
    response = too_many_fields(Browser(raise_request_exception=False), reverse("login"))
    assert response.status_code == 400
    assert response["Referrer-Policy"] == "same-origin"


def test_djangos_debug_pages_may_use_their_inline_styles_and_ours_may_not(
    client: Any, settings: Any, therapist: User
) -> None:
    settings.DEBUG = True
    debug_404 = client.get("/no-such-page/")
    assert debug_404.status_code == 404 and b"NONE,NOARCHIVE" in debug_404.content
    assert "style-src 'self' 'unsafe-inline'" in debug_404["Content-Security-Policy"]
    client.force_login(therapist)
    ours = client.get(reverse("reports:client-detail", args=[999999]))
    own_policy = client.get(reverse("reports:caseload"))["Content-Security-Policy"]
    assert "unsafe-inline" not in own_policy
    settings.DEBUG = False
    production_404 = client.get("/no-such-page/")
    assert "unsafe-inline" not in production_404["Content-Security-Policy"]
    assert ours.status_code == 404


# The strict CSP (style-src 'self', no 'unsafe-inline') blocks a style attribute or a
# <style> element, and any inline script or event handler: each would silently not apply.
INLINE_STYLE_OR_SCRIPT = re.compile(
    r"<style\b|\sstyle\s*=|<script(?![^>]*\ssrc=)|\son[a-z]+\s*=", re.I
)


def test_the_500_page_is_styled_within_the_csp_it_is_sent_with(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.DEBUG = False

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(LoginView, "get", fail)
    response = Browser(raise_request_exception=False).get(reverse("login"))
    assert response.status_code == 500
    html = response.content.decode()
    assert not INLINE_STYLE_OR_SCRIPT.search(html), INLINE_STYLE_OR_SCRIPT.search(html)
    assert "style-src 'self';" in response["Content-Security-Policy"]
    assert "Something went wrong" in html and "bootstrap.min.css" in html


def test_no_template_carries_inline_style_or_script_that_the_csp_blocks() -> None:
    offenders = [
        f"{path.relative_to(django_settings.BASE_DIR)}:{text.count(chr(10), 0, found.start()) + 1}:"
        f" {found.group()}"
        for directory in _template_directories()
        for path in sorted(directory.rglob("*.html"))
        for text in [path.read_text()]
        for found in INLINE_STYLE_OR_SCRIPT.finditer(text)
    ]
    assert offenders == []


def _template_directories() -> list[Path]:
    """The project's templates/ and every app of ours that has its own."""
    base = Path(django_settings.BASE_DIR)
    directories = [base / "templates"]
    directories += [path for path in base.glob("*/templates") if path.is_dir()]
    assert directories[0].is_dir() and any(directories[0].rglob("500.html"))
    return directories


# --- logs --------------------------------------------------------------------------


def test_search_terms_and_reset_tokens_stay_out_of_the_logs(caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    server = logging.getLogger("django.server")
    server.info('"GET %s HTTP/1.1" 200 1234', "/?q=R.K.&sort=label")
    server.info('"GET %s HTTP/1.1" 302 0', "/accounts/password/reset/MQ/cx1-abc123def456/")
    server.info('"GET %s HTTP/1.1" 200 99', "/accounts/password/reset/MQ/set-password/")
    server.info('"GET %s HTTP/1.1" 302 0', "/staff/welcome/Mg/cx2-fed654cba321/")
    text = caplog.text
    assert "R.K." not in text and "sort=label" not in text and "/?[redacted]" in text
    assert "cx1-abc123def456" not in text
    assert "cx2-fed654cba321" not in text and "/staff/welcome/Mg/[redacted]" in text
    assert "/accounts/password/reset/MQ/set-password/" in text
