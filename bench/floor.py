"""The floor of the client form under load: a bare view that inserts one row.

Served only when ALLIANCE_BENCH_FLOOR_VIEW=true (bench/submissions.py sets it for its own
gunicorn). It does what the client's link does at its barest — a GET that draws a tiny
form, a POST that inserts one row and redirects — with none of the app's work, so its rate
and latency are what this server, database and machine give any write.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
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
