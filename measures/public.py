"""Guards for the pages a client reaches without an account (the rating link).

- Every response is private: not cached anywhere, and no Referer leaks the
  token to another site.
- Failed token look-ups are counted per client address; past the limit the
  address is paused, so guessing tokens (already hopeless at 256 bits) is
  pointless.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

CACHE_PREFIX = "rating-link-failures:"


def private_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a response `Cache-Control: no-store` and `Referrer-Policy: no-referrer`."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


def client_address(request: HttpRequest) -> str:
    if settings.USE_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            # The last hop is the one our own proxy added; earlier ones are the client's claims.
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def _key(request: HttpRequest) -> str:
    return CACHE_PREFIX + client_address(request)


def is_paused(request: HttpRequest) -> bool:
    return (cache.get(_key(request)) or 0) >= settings.ALLIANCE_LINK_FAILURES_ALLOWED


def record_failure(request: HttpRequest) -> None:
    key = _key(request)
    window = settings.ALLIANCE_LINK_FAILURE_WINDOW_SECONDS
    # add() starts the window once; incr() counts within it without extending it.
    if not cache.add(key, 1, timeout=window):
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=window)
