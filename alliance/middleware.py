"""HTTP hardening that applies to every request and response.

- `RequestGuardMiddleware` refuses, before anything reads them, requests no page
  here can use: NUL bytes (PostgreSQL refuses them in text, so they would end as
  a 500), a declared charset other than UTF-8 (Django would decode the form with
  it and fail), and bodies bigger than any form here.
- `SecurityHeadersMiddleware` sends the Content-Security-Policy and the
  Permissions-Policy.
- `PrivatePagesMiddleware` marks every page built here `no-store`: they show
  clinical data, and no browser, proxy or shared computer should keep a copy.
- `LinkAddressesMiddleware`, outermost, makes every answer at a client's link private
  and Referer-free, whichever layer gave it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from alliance.errors import api_error, is_api
from alliance.links import is_link_address

# What a form may declare it is written in; browsers send UTF-8 for our pages.
READABLE_CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii"}
NUL = "\x00"

# Django's own debug pages (404, 500 and CSRF failure with DEBUG on) carry this
# line and inline styles and script that the strict policy would block.
DJANGO_DEBUG_PAGE = b'<meta name="robots" content="NONE,NOARCHIVE">'


class FileUploadRefused(SuspiciousOperation):
    """Django answers a SuspiciousOperation with a 400."""


class RefuseFilesHandler(FileUploadHandler):
    """No form here takes files: a file in a multipart body refuses the request."""

    def new_file(self, *args: object, **kwargs: object) -> None:
        raise FileUploadRefused("This site takes no file uploads.")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _refuse(request: HttpRequest, status: int, reason: str) -> HttpResponse:
    """The refusal page: private, unframeable, and sending no Referer (it may answer a
    link's address, token and all). In the API, its JSON."""
    if is_api(request):
        response: HttpResponse = api_error(status, reason)
    else:
        response = render(request, "400.html", {"reason": reason}, status=status)
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Frame-Options"] = "DENY"
    return response


def _has_nul(data: QueryDict) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in data.lists())


def _headers_have_nul(request: HttpRequest) -> bool:
    """Headers (the user agent is stored with failed sign-ins) and cookies (the session key
    is looked up), including cookie values whose quoting decodes to a NUL."""
    headers = (v for k, v in request.META.items() if k.startswith("HTTP_") and isinstance(v, str))
    return any(NUL in value for value in headers) or any(
        NUL in key or NUL in value for key, value in request.COOKIES.items()
    )


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class RequestGuardMiddleware:
    """Answer 400 or 413 with a plain explanation instead of failing deeper down."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        if _declared_length(request) > settings.ALLIANCE_MAX_REQUEST_BYTES:
            return _refuse(request, 413, _("The request is larger than any form here."))
        charset = request.content_params.get("charset") if request.content_params else None
        if charset is not None and charset.strip().lower() not in READABLE_CHARSETS:
            return _refuse(request, 400, _("Forms must be sent as UTF-8."))
        if NUL in request.path or _has_nul(request.GET):
            return _refuse(request, 400, _("The address contains a character that is not allowed."))
        if _headers_have_nul(request):
            return _refuse(request, 400, _("A header contains a character that is not allowed."))
        if request.method == "POST" and _has_nul(request.POST):
            return _refuse(request, 400, _("The form contains a character that is not allowed."))
        return None


class SecurityHeadersMiddleware:
    """Send the Content-Security-Policy (Django 5.2 has none built in) and Permissions-Policy.

    Every script and stylesheet is served from our own origin and no page of ours
    uses inline script, so a strict policy costs nothing and blunts injected markup.
    With DEBUG on, Django's own error pages are the one exception: they are
    allowed their inline styles and script, so a newcomer sees them readable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            if _is_django_debug_page(response):
                policy = policy.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
                policy = policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
            response["Content-Security-Policy"] = policy
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


def _is_django_debug_page(response: HttpResponse) -> bool:
    return (
        settings.DEBUG
        and response.status_code >= 400
        and not response.streaming
        and DJANGO_DEBUG_PAGE in response.content[:4096]
    )


class PrivatePagesMiddleware:
    """`Cache-Control: no-store` on every page built here (static files never reach it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response


class LinkAddressesMiddleware:
    """`no-store` and `Referrer-Policy: no-referrer` on every answer at a client's link.

    Its views say so themselves (`private_page`), but a request can be answered above
    them: the guard's refusals, Django's own 400 for a form of too many fields or a broken
    multipart body (raised in the guard, which reads the form), a redirect to HTTPS, a
    503 in an outage. Each is at an address holding the token, so each must be kept by
    no cache and leak no Referer. Outermost, so nothing answers around it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_link_address(request.path):
            add_never_cache_headers(response)
            response["Referrer-Policy"] = "no-referrer"
        return response


class ClientLanguageMiddleware(LocaleMiddleware):
    """The client's pages speak the client's language; every other page speaks English.

    Only the client's link is written in two languages (README "Client ratings by link").
    Django's own LocaleMiddleware followed the browser everywhere: a therapist whose
    browser asks for Spanish got the app's English pages with Django's words in Spanish
    (the log-in form, the password rules), decimal commas and Spanish month names beside
    English ones. At a link address the browser's language still answers where no client
    is known (a bad token); a known client's page overrides it with theirs."""

    def process_request(self, request: HttpRequest) -> None:
        if is_link_address(request.path):
            super().process_request(request)
            return
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # The language the page was written in: a client's page sets it to the client's
        # (`measures.views.client_rating`), which the browser's may not be.
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return super().process_response(request, response)
