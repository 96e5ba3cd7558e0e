"""The answer when the database cannot be reached: 503, "try again shortly".

A restart or a failover of PostgreSQL makes every page fail for a few seconds. Those
pages answer 503 with a `Retry-After` and a page that says so and nothing else (no error,
no address, nothing the visitor typed), instead of the generic 500; service comes back
by itself, because Django drops a connection that failed (and, with
`CONN_HEALTH_CHECKS`, one that died while idle) and opens a new one on the next request.

This is the project's `handler500`: Django calls it for an exception from a view or
from any middleware (the session and user are read in middleware), with the exception
being handled, so it can tell a database outage from a bug.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

# A connection refused, dropped or timed out; a server starting up or shutting down.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# Long enough for a restart; a browser or client that honours it comes back then.
RETRY_AFTER_SECONDS = 10


def server_error(request: HttpRequest) -> HttpResponse:
    """503 while the database is unreachable, Django's 500 for anything else."""
    if not isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return defaults.server_error(request)
    # Rendered without the request: its context processors and user would need the database.
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
