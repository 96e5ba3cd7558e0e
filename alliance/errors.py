"""The answer when the database cannot be reached or takes no writes: 503, "try again shortly".

A restart or a failover of PostgreSQL makes every page fail for a few seconds. Those
pages answer 503 with a `Retry-After` and a page that says so and nothing else (no error,
no address, nothing the visitor typed), instead of the generic 500; service comes back
by itself, because Django drops a connection that failed (and, with
`CONN_HEALTH_CHECKS`, one that died while idle) and opens a new one on the next request.

This is the project's `handler500`: Django calls it for an exception from a view or
from any middleware (the session and user are read in middleware), with the exception
being handled, so it can tell a database outage from a bug. A view may name its own
answer for an outage (`outage_answer`): the health checks answer in their JSON even when
the request failed before reaching them (a poller with a session cookie, whose user is
read in a middleware).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, InternalError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from alliance.routing import resolver_match

# A connection refused, dropped or timed out; a server starting up or shutting down.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# "cannot execute INSERT in a read-only transaction": after a failover the old primary
# comes back as a standby, or a pooler still points at it. Reads work, every write fails
# with this SQLSTATE (an InternalError to Django, like many a bug, hence the code).
READ_ONLY_SQL_TRANSACTION = "25006"
# Long enough for a restart; a browser or client that honours it comes back then.
RETRY_AFTER_SECONDS = 10
OUTAGE_ANSWER = "answer_when_database_unavailable"

View = TypeVar("View", bound=Callable[..., HttpResponse])


def outage_answer(answer: Callable[[], HttpResponse]) -> Callable[[View], View]:
    """Mark a view with its own answer for when the database cannot be reached, given
    even when its request failed in a middleware before reaching it."""

    def mark(view: View) -> View:
        setattr(view, OUTAGE_ANSWER, answer)
        return view

    return mark


def is_read_only_database(error: BaseException | None) -> bool:
    """Whether `error` is PostgreSQL refusing a write because it is (now) a standby."""
    cause = getattr(error, "__cause__", None)
    return isinstance(error, InternalError) and (
        getattr(cause, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION
    )


def _drop_read_only_connections() -> None:
    """Close the open connections, so the next request connects afresh (to the new
    primary). Django keeps a connection that still answers `SELECT 1`, and a standby's
    does: left open, it would refuse every write until `CONN_MAX_AGE` ran out."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


# Where REST framework answers in JSON. What fails before it (no route, a guard in
# middleware, an outage, a bug) answers in JSON there too: an integrator's script reads
# the status and `detail`, and an HTML page is nothing it can parse.
API_PATH = "/api/"
NOT_FOUND = "Not found."
SERVER_ERROR = "The server met an error; it has been logged."
UNAVAILABLE = "Alliance is briefly unavailable; try again in a few seconds."


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PATH)


def api_error(status: int, detail: str) -> JsonResponse:
    """REST framework's shape for an error: {"detail": "…"}."""
    return JsonResponse({"detail": str(detail)}, status=status)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 page; in the API, its JSON."""
    if is_api(request):
        return api_error(404, NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """503 while the database is unreachable or read-only, Django's 500 for anything else
    (in the API, both in JSON)."""
    error = sys.exc_info()[1]
    if is_read_only_database(error):
        _drop_read_only_connections()
    elif not isinstance(error, DATABASE_UNAVAILABLE):
        return api_error(500, SERVER_ERROR) if is_api(request) else defaults.server_error(request)
    match = resolver_match(request)
    own_answer = getattr(match.func, OUTAGE_ANSWER, None) if match else None
    if own_answer is not None:
        return own_answer()
    if is_api(request):
        response: HttpResponse = api_error(503, UNAVAILABLE)
    else:
        # Rendered without the request: its context processors and user need the database.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
