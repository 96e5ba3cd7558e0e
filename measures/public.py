"""Guards for the pages a client reaches without an account (the rating link).

- Every response is private: not cached anywhere, and no Referer leaks the
  token to another site.
- Failed token look-ups are counted per client address (the real one, behind the
  proxies `ALLIANCE_TRUSTED_PROXY_HOPS` names); past the limit that address gets
  429 for unknown tokens, so guessing (already hopeless at 256 bits) is pointless.
  A valid token is always served: clients behind one clinic or mobile-network
  address must not be locked out by someone else's failures.
- The counts live in the cache. If the cache is down, links still work: the
  count is skipped (and logged), never the client's answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from alliance.net import client_address

CACHE_PREFIX = "rating-link-failures:"
logger = logging.getLogger(__name__)


def private_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a response `Cache-Control: no-store` and `Referrer-Policy: no-referrer`."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


def _key(request: HttpRequest) -> str:
    return CACHE_PREFIX + client_address(request)


def is_paused(request: HttpRequest) -> bool:
    """Whether this address has failed too often; False when the cache cannot say."""
    try:
        failures = cache.get(_key(request)) or 0
    except Exception:  # the cache is down: the limit is lost for now, never the link
        logger.warning("Rating-link failure counts are unavailable (cache down).")
        return False
    return failures >= settings.ALLIANCE_LINK_FAILURES_ALLOWED


def record_failure(request: HttpRequest) -> None:
    key = _key(request)
    window = settings.ALLIANCE_LINK_FAILURE_WINDOW_SECONDS
    try:
        # add() starts the window once; incr() counts within it without extending it.
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=window)
    except Exception:  # the cache is down; the failure goes uncounted
        logger.warning("A rating-link failure could not be counted (cache down).")
