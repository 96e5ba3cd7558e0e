"""The client form's database work alone, under load: the form's ceiling on this server.

Served only when ALLIANCE_BENCH_FLOOR_VIEW=true (bench/submissions.py sets it for its own
gunicorn), beside bench/floor.py's bare insert. A link's GET and POST here send the
statements the client form sends (the link and its session, client and clinic; the outcome
instrument; then, in one transaction, the session and the link locked, the rating, the
session's copy of its score, the outcome answer, the link marked used, the audit entries;
not the savepoint the service keeps around the rating's insert, which a form written by hand
would not need) and queue the evaluation on the broker, as the form does, through Django's
request handling and middleware. What they leave out is Django's ORM, forms and templates:
the SQL is written out, the answers are taken as sent, and the page is the form's own HTML,
drawn once for each clinic, instrument and language and then sent as bytes.

So its rate is what any implementation of the form doing this work could reach here: the
form's rate over it is what the ORM, the forms and the templates cost; its rate over the
floor's is what the form's database work and its publish cost. It is no form: it checks
nothing a client could get wrong (the load generator sends valid answers), and it is never
served to anyone but the benchmark.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from measures.scoring import DIMENSIONS, alliance_score
from measures.services import enqueue_evaluation
from measures.tracking import instrument_score
from sessions.invitations import hash_token

# The form's own statement reads every column of the link and of its session, client and
# clinic (the ORM's select_related); the few this view needs come first.
LINK = (
    "SELECT i.id, i.used_at, s.id, s.client_id, c.clinic_id, c.language, c.asks_outcome, "
    "i.*, s.*, c.*, k.* FROM therapy_sessions_ratinginvitation i "
    "JOIN therapy_sessions_session s ON s.id = i.session_id "
    "JOIN clients_client c ON c.id = s.client_id "
    "JOIN clients_clinic k ON k.id = c.clinic_id "
    "WHERE i.token_hash = %s ORDER BY i.created_at DESC LIMIT 1"
)
LINK_FIELDS = ("id", "used_at", "session_id", "client_id", "clinic_id", "language", "asks_outcome")
INSTRUMENT_IN_USE = (
    "SELECT * FROM measures_instrument WHERE (clinic_id IS NULL OR clinic_id = %s) "
    "AND retired_at IS NULL AND ((clinic_id = %s AND in_use) OR clinic_id IS NULL) "
    "ORDER BY clinic_id ASC NULLS LAST, id ASC LIMIT 1"
)
INSTRUMENT_SHOWN = (
    "SELECT id, scoring, * FROM measures_instrument "
    "WHERE (clinic_id IS NULL OR clinic_id = %s) AND retired_at IS NULL AND id = %s LIMIT 1"
)
SESSION_LOCKED = (
    "SELECT s.*, c.*, k.* FROM therapy_sessions_session s "
    "JOIN clients_client c ON c.id = s.client_id JOIN clients_clinic k ON k.id = c.clinic_id "
    "WHERE s.id = %s FOR NO KEY UPDATE OF s"
)
RATING = (
    "INSERT INTO measures_rating (session_id, rater, trust, empathy, collaboration, "
    "boundaries, growth, respect, rupture, rupture_resolved, comment, guessed_client_score, "
    "submitted_at, submitted_by_id, updated_at, notice_version, notice_language, "
    "notice_shown_at) VALUES (%s, 'client', %s, %s, %s, %s, %s, %s, %s, '', '', NULL, %s, "
    "NULL, %s, %s, %s, %s) RETURNING id"
)
OUTCOME = (
    "INSERT INTO measures_outcomeanswer (session_id, instrument_id, answers, score, "
    "submitted_at, track) VALUES (%s, %s, %s::jsonb, %s, %s, '') RETURNING id"
)
LINK_LOCKED = "SELECT used_at, * FROM therapy_sessions_ratinginvitation WHERE id = %s FOR UPDATE"
AUDIT = (
    "INSERT INTO clients_auditentry (at, clinic_id, actor_id, actor_name, address, action, "
    "model, object_id, client_id, fields, place) VALUES (%s, %s, NULL, 'client link', %s, "
    "'created', %s, %s, %s, '[]'::jsonb, 'measures:client-rating') RETURNING id"
)

# The form's HTML for each (clinic, instrument or None, language), drawn by the form itself
# the first time and sent as bytes after.
PAGES: dict[tuple[int, int | None, str], bytes] = {}


def _one(cursor: Any, sql: str, params: list[Any]) -> Any:
    cursor.execute(sql, params)
    return cursor.fetchone()


def _link(cursor: Any, token: str) -> dict[str, Any] | None:
    row = _one(cursor, LINK, [hash_token(token)])
    return None if row is None else dict(zip(LINK_FIELDS, row[: len(LINK_FIELDS)], strict=True))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def bench_form_statements(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the link read, the instrument read, the form's HTML sent. POST: the form's
    transaction, then its evaluation queued, then the redirect to the thanks page."""
    with connection.cursor() as cursor:
        link = _link(cursor, token)
        if link is None or link["used_at"] is not None:
            return HttpResponse(status=404)
        if request.method == "GET":
            return _page(request, cursor, link, token)
        return _answer(request, cursor, link, token)


def _page(request: HttpRequest, cursor: Any, link: dict[str, Any], token: str) -> HttpResponse:
    instrument = None
    if link["asks_outcome"]:
        instrument = _one(cursor, INSTRUMENT_IN_USE, [link["clinic_id"]] * 2)[0]
    key = (link["clinic_id"], instrument, link["language"])
    if key not in PAGES:
        from measures.views.client_rating import client_rating

        PAGES[key] = client_rating(request, token).content
    return HttpResponse(PAGES[key])


def _answer(request: HttpRequest, cursor: Any, link: dict[str, Any], token: str) -> HttpResponse:
    sent = request.POST
    instrument = None
    if sent.get("instrument"):
        row = _one(cursor, INSTRUMENT_SHOWN, [link["clinic_id"], int(sent["instrument"])])
        instrument = {"id": row[0], "scoring": row[1]}
    scores = [int(sent[name]) for name in DIMENSIONS]
    now = timezone.now()
    address = request.META.get("REMOTE_ADDR")
    clinic_id, client_id, session_id = link["clinic_id"], link["client_id"], link["session_id"]
    with transaction.atomic():
        _one(cursor, SESSION_LOCKED, [session_id])
        locked = _one(cursor, LINK_LOCKED, [link["id"]])
        if locked[0] is not None:
            return HttpResponse(status=404)
        notice = [int(sent["notice_version"]), sent.get("lang", "en"), now]
        rating_id = _one(cursor, RATING, [session_id, *scores, sent["rupture"], now, now, *notice])
        cursor.execute(
            "UPDATE therapy_sessions_session SET client_score = %s WHERE id = %s",
            [alliance_score(scores), session_id],
        )
        if instrument is not None:
            answers = _outcome_answers(sent)
            score = instrument_score(answers, instrument["scoring"])
            answer_id = _one(
                cursor, OUTCOME, [session_id, instrument["id"], json.dumps(answers), score, now]
            )
            audit = [now, clinic_id, address, "measures.outcomeanswer", str(answer_id[0])]
            _one(cursor, AUDIT, [*audit, client_id])
        cursor.execute(
            "UPDATE therapy_sessions_ratinginvitation SET used_at = %s WHERE id = %s",
            [now, link["id"]],
        )
        audit = [now, clinic_id, address, "measures.rating", str(rating_id[0])]
        _one(cursor, AUDIT, [*audit, client_id])
        transaction.on_commit(lambda: enqueue_evaluation(client_id))
    return HttpResponseRedirect(f"/r/{token}/thanks/?lang={sent.get('lang', 'en')}")


def _outcome_answers(sent: Any) -> list[int]:
    """The outcome check's answers, in its order (outcome_1, outcome_2, …)."""
    answers = []
    while f"outcome_{len(answers) + 1}" in sent:
        answers.append(int(sent[f"outcome_{len(answers) + 1}"]))
    return answers
