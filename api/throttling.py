"""The API's rate per token's owner, which a cache outage costs its count, never a request."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

from alliance.net import client_address

logger = logging.getLogger(__name__)


class OwnerRateThrottle(UserRateThrottle):
    """`ALLIANCE_API_RATE` requests per token's owner, counted in the cache (`CACHE_URL`).

    While the cache is down or stalled the request goes through, unmetered, and a warning
    is logged: a clinic's nightly pull should not fail on a counter, as a client's rating
    link does not (measures/public.py). Before, every API request answered 500."""

    def get_ident(self, request: Request) -> str:
        """Without a token (the schema) the count is per address, read as every limit here
        reads it (`ALLIANCE_TRUSTED_PROXY_HOPS`). DRF's own reads a client's whole
        X-Forwarded-For unless told how many proxies there are: one the client wrote itself
        was a new address each time, and the schema (0.1–0.2 s to build) unlimited."""
        return client_address(request)

    def wait(self) -> float | None:
        """Seconds until the next request is taken, for `Retry-After`: until enough of those
        counted fall out of the window. DRF's own gives none (and no `Retry-After`) while
        more are counted than the rate allows, as after a rate raised for a bulk reader was
        lowered again, until the window has passed."""
        if len(self.history) < self.num_requests:
            return None
        return self.duration - (self.now - self.history[self.num_requests - 1])

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # any cache backend's error: the count is lost for now
            logger.warning("API request counts are unavailable (cache down); not limited.")
            return True
