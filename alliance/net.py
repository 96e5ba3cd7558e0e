"""The address a request came from, behind as many proxies as the deployment says.

Rate limits on client links and lock-outs after failed log-ins count per address.
With `ALLIANCE_TRUSTED_PROXY_HOPS = n`, each of our n proxies appended the address it
saw to X-Forwarded-For, so the client's is the n-th entry from the right; everything
further left is whatever the client chose to send and is never believed.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """The real client's address; the connection's own when no proxy is trusted."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.ALLIANCE_TRUSTED_PROXY_HOPS
    if hops <= 0:
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < hops:
        # Fewer entries than proxies: the request did not come through all of them.
        return remote
    return _address(forwarded[-hops]) or remote
