"""The benchmarks' floors and references, served only when ALLIANCE_BENCH_FLOOR_VIEW=true
(bench/submissions.py sets it for its own gunicorn, bench/run.py in its own process).

`bench_floor` is the client form's floor under load: what the client's link does at its
barest — a GET that draws a tiny form, a POST that inserts one row and redirects — with
none of the app's work, so its rate and latency are what this server, database and machine
give any write. `bench_layout` and `bench_by_hand` are references for the pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

# Made by bench/submissions.py before the server starts; no model, no migration.
TABLE = "bench_floor"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, token text NOT NULL UNIQUE, "
    "answer integer NOT NULL, answered_at timestamptz NOT NULL DEFAULT now())"
)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def bench_floor(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a one-field form. POST: one row inserted, then a redirect, as the form does."""
    if request.method == "GET":
        return HttpResponse(
            '<form method="post"><input type="hidden" name="answer" value="7"></form>'
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (token, answer) VALUES (%s, %s)",
            [token, int(request.POST.get("answer", "0"))],
        )
    return HttpResponseRedirect(f"/bench/floor/{token}/thanks/")


@login_required
def bench_layout(request: HttpRequest) -> HttpResponse:
    """A signed-in page of the layout alone, nothing of its own: what every page here costs
    before its own work (the session, the user, the middleware, the navigation). bench/run.py
    times it beside the pages, as a reference with no target."""
    return render(request, "base.html")


# A page's own statements (after the session's and the user's, which the middleware sends
# here too) and its body, put here by bench/run.py before it times `bench_by_hand`: the
# pages are timed through Django's test client, in the process that serves them.
BY_HAND: dict[str, tuple[list[tuple[str, Any, bool]], bytes]] = {}
# A snapshot's opening (the dashboard's counts, `alliance.replica.one_snapshot`) must be its
# transaction's first statement, which sent again here it is not: left out, a round trip.
SNAPSHOT = "SET TRANSACTION"


def send_statements(statements: list[tuple[str, Any, bool]]) -> None:
    """Send these statements as they were captured, every row fetched (inside the
    caller's transaction)."""
    with connection.cursor() as cursor:
        for sql, params, many in statements:
            if sql.startswith(SNAPSHOT):
                continue
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
                if cursor.description is not None:
                    cursor.fetchall()


@login_required
def bench_by_hand(request: HttpRequest, page: str) -> HttpResponse:
    """A page as a view written out by hand would serve it: signed in through the same
    middleware, the page's own statements sent as SQL, its HTML sent as bytes. No ORM and
    no template: what any way of building that page could reach on this server."""
    if page not in BY_HAND:
        raise Http404("No page of that name was replayed here.")
    statements, body = BY_HAND[page]
    with transaction.atomic():
        send_statements(statements)
        transaction.set_rollback(True)  # as the floor's: their writes leave nothing
    return HttpResponse(body)
