"""The read-only API: a token reads exactly what its owner reads in the app."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.throttling import UserRateThrottle

from accounts import tokens
from clients.models import AuditAction, AuditEntry, Client, User
from clients.tests.factories import ClientFactory, ClinicAdminFactory
from measures.models import OutcomeAnswer
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory, concern_with_signal
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

RESOURCES = ("clients", "sessions", "ratings", "outcome-answers", "concerns")


def token_for(user: User) -> str:
    return tokens.token_create(user=user, name="Clinic tool")[1]


def get(browser: Any, path: str, token: str | None, **params: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return browser.get(f"/api/v1/{path}", params, **headers)


@pytest.fixture
def records(client_record: Client, colleague_client: Client, outsider_client: Client) -> dict:
    """For each of three clients (A's, B's, another clinic's): a session with both ratings
    (the client's with a comment, the session with private notes), an outcome answer and
    an open concern."""
    made = {}
    for person in (client_record, colleague_client, outsider_client):
        session = SessionFactory(client=person, notes="PRIVATE NOTE")
        RatingFactory(session=session, comment="CLIENT COMMENT")
        RatingFactory(session=session, rater="therapist", comment="THERAPIST NOTE")
        OutcomeAnswerFactory(session=session)
        concern = concern_with_signal(person)
        made[person.label] = {"session": session, "concern": concern}
    return made


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def client_ids(response: Any, resource: str) -> set[int]:
    key = "id" if resource == "clients" else "client"
    assert response.status_code == 200, response.content
    return {row[key] for row in response.json()["results"]}


# --- Who may read -----------------------------------------------------------------------


@pytest.mark.parametrize("resource", RESOURCES)
def test_no_token_or_a_wrong_one_is_refused(client: Any, records: dict, resource: str) -> None:
    for token in (None, "alliance_wrong", "not-even-ours", "x" * 200):
        response = get(client, f"{resource}/", token)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
    malformed = client.get(f"/api/v1/{resource}/", HTTP_AUTHORIZATION="Bearer two words")
    assert malformed.status_code == 401 and "Authorization: Bearer" in malformed.json()["detail"]


@pytest.mark.parametrize(
    ("who", "labels"),
    [
        ("therapist", {"R.K."}),
        ("colleague", {"M.P."}),
        ("supervisor", {"R.K."}),
        ("clinic_admin", {"R.K.", "M.P."}),
        ("outsider", {"Z.Z."}),
    ],
)
@pytest.mark.parametrize("resource", RESOURCES)
def test_a_token_reads_what_its_owner_sees_in_the_app(
    client: Any, records: dict, who: str, labels: set[str], resource: str, request: Any
) -> None:
    """The access matrix's rows for the caseload: A's client for A and A's supervisor, B's
    for B, both for the clinic admin, another clinic's for its own therapist alone."""
    token = token_for(request.getfixturevalue(who))
    expected = set(Client.objects.filter(label__in=labels).values_list("pk", flat=True))
    assert client_ids(get(client, f"{resource}/", token), resource) == expected


@pytest.mark.parametrize("resource", ["sessions", "concerns"])
def test_another_clinics_record_does_not_exist_for_a_token(
    client: Any, records: dict, therapist: User, resource: str
) -> None:
    token = token_for(therapist)
    other = records["Z.Z."]["session" if resource == "sessions" else "concern"]
    assert get(client, f"{resource}/{other.pk}/", token).status_code == 404
    own = records["R.K."]["session" if resource == "sessions" else "concern"]
    assert get(client, f"{resource}/{own.pk}/", token).status_code == 200


def test_a_revoked_token_and_a_deactivated_owner_are_refused(
    client: Any, therapist: User, client_record: Client
) -> None:
    token, raw = tokens.token_create(user=therapist, name="Old")
    assert get(client, "clients/", raw).status_code == 200
    tokens.token_revoke(user=therapist, token=token)
    assert get(client, "clients/", raw).status_code == 401
    raw = token_for(therapist)
    therapist.is_active = False
    therapist.save()
    assert get(client, "clients/", raw).status_code == 401


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_writes_nothing(
    client: Any, therapist: User, client_record: Client, method: str
) -> None:
    token = token_for(therapist)
    response = getattr(client, method)(
        f"/api/v1/clients/{client_record.pk}/" if method != "post" else "/api/v1/clients/",
        {"label": "Changed"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 405
    client_record.refresh_from_db()
    assert client_record.label == "R.K."


# --- What it shows ----------------------------------------------------------------------


def test_no_free_text_and_no_address_is_ever_sent(
    client: Any, clinic_admin: User, records: dict, client_record: Client
) -> None:
    client_record.email = "rk@example.org"
    client_record.save()
    token = token_for(clinic_admin)
    sent = "".join(get(client, f"{resource}/", token).content.decode() for resource in RESOURCES)
    for secret in ("PRIVATE NOTE", "CLIENT COMMENT", "THERAPIST NOTE", "rk@example.org"):
        assert secret not in sent
    rating = get(client, "ratings/", token, client=client_record.pk).json()["results"][0]
    assert set(rating) >= {"trust", "alliance_score", "rupture", "submitted_at", "client"}


def test_a_client_filter_is_checked(client: Any, therapist: User, records: dict) -> None:
    token = token_for(therapist)
    own = records["R.K."]["session"].client_id
    assert client_ids(get(client, "ratings/", token, client=own), "ratings") == {own}
    # Another clinic's client, or none at all: a 404 that says so, as for its own record.
    other = records["Z.Z."]["session"].client_id
    for unseen in (other, 999999):
        refused = get(client, "ratings/", token, client=unseen)
        assert refused.status_code == 404 and "No such client" in refused.json()["detail"]
    for bad in ("abc", "٣", "-1", "1.5"):
        refused = get(client, "sessions/", token, client=bad)
        assert refused.status_code == 400 and "client" in refused.json(), bad


def other_digits(number: int, zero: str) -> str:
    """`number` written in another script's digits, from its zero ("٠", "０")."""
    return str(number).translate({ord("0") + n: ord(zero) + n for n in range(10)})


def test_an_empty_parameter_is_refused_not_read_as_left_out(
    client: Any, supervisor: User, records: dict
) -> None:
    """A tool that built `?client={id}` with its id missing must not get every client's
    records; nor an empty `after` the first page, or an empty `page_size` the default."""
    token = token_for(supervisor)
    for name in ("client", "after", "page_size"):
        refused = client.get(f"/api/v1/ratings/?{name}=", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert refused.status_code == 400, (name, refused.content)
        assert refused.json() == {name: ["Give a whole number, or leave the parameter out."]}


def test_a_record_address_in_other_digits_is_not_that_record(
    client: Any, therapist: User, records: dict
) -> None:
    """ "١٢" is not record 12 (alliance/fields.py), in an address as in a form."""
    token = token_for(therapist)
    own = records["R.K."]["session"]
    for resource, pk in (("clients", own.client_id), ("sessions", own.pk)):
        assert get(client, f"{resource}/{pk}/", token).status_code == 200
        for zero in ("٠", "０"):
            written = other_digits(pk, zero)
            assert get(client, f"{resource}/{written}/", token).status_code == 404, written
    assert (
        get(client, f"clients/{other_digits(own.client_id, '٠')}/fhir/", token).status_code == 404
    )


def test_lists_cost_the_same_queries_at_any_size(
    client: Any, clinic_admin: User, therapist: User, django_assert_num_queries: Any
) -> None:
    token = token_for(clinic_admin)
    ClientFactory.create_batch(3, therapist=therapist)
    get(client, "clients/", token)
    with CaptureQueriesContext(connection) as small:
        get(client, "clients/", token)
    # Token and owner, the page, the trail; on PostgreSQL the page's serial plan first (in
    # a transaction of its own: a savepoint inside the test's).
    sent = [query["sql"] for query in small.captured_queries if "SAVEPOINT" not in query["sql"]]
    assert len(sent) == 3 + (connection.vendor == "postgresql"), sent
    serial = [sql for sql in sent if "max_parallel_workers_per_gather = 0" in sql]
    assert len(serial) == (connection.vendor == "postgresql")
    # (80: SQLite writes the trail of more than 90 clients in two inserts; PostgreSQL in one.)
    ClientFactory.create_batch(77, therapist=therapist)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(get(client, "clients/", token).json()["results"]) == 80


def caseload_with_records(therapist: User, clients: int) -> None:
    """`clients` more clients of `therapist`, each with a session, both ratings, an outcome
    answer and an open concern."""
    for person in ClientFactory.create_batch(clients, therapist=therapist):
        session = SessionFactory(client=person)
        RatingFactory(session=session)
        RatingFactory(session=session, rater="therapist", guessed_client_score=6)
        OutcomeAnswerFactory(session=session)
        concern_with_signal(person)


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("who", ["therapist", "supervisor", "clinic_admin"])
def test_every_list_costs_the_same_queries_at_two_sizes(
    client: Any,
    therapist: User,
    who: str,
    resource: str,
    request: Any,
    django_assert_num_queries: Any,
) -> None:
    token = token_for(request.getfixturevalue(who))
    caseload_with_records(therapist, 2)
    get(client, f"{resource}/", token)
    with CaptureQueriesContext(connection) as small:
        assert len(get(client, f"{resource}/", token).json()["results"]) >= 2
    caseload_with_records(therapist, 8)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(get(client, f"{resource}/", token).json()["results"]) >= 10


def test_lists_are_paged_by_id(client: Any, clinic_admin: User, therapist: User) -> None:
    token = token_for(clinic_admin)
    ClientFactory.create_batch(101, therapist=therapist)
    ids = sorted(Client.objects.values_list("pk", flat=True))
    first = get(client, "clients/", token).json()
    assert [row["id"] for row in first["results"]] == ids[:100] and "count" not in first
    assert first["next"].endswith(f"/api/v1/clients/?after={ids[99]}")
    second = client.get(first["next"], HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert [row["id"] for row in second["results"]] == ids[100:] and second["next"] is None
    # A size of one's own, and a page that starts after any id (a pull picked up again).
    sized = get(client, "clients/", token, page_size=40, after=ids[9]).json()
    assert [row["id"] for row in sized["results"]] == ids[10:50]
    assert "page_size=40" in sized["next"] and f"after={ids[49]}" in sized["next"]
    assert get(client, "clients/", token, after=ids[-1]).json() == {"next": None, "results": []}


def test_paging_with_a_client_keeps_to_that_client(
    client: Any, clinic_admin: User, records: dict
) -> None:
    token = token_for(clinic_admin)
    own = records["R.K."]["session"].client_id
    page = get(client, "ratings/", token, client=own, page_size=1).json()
    assert len(page["results"]) == 1 and f"client={own}" in page["next"]
    rest = client.get(page["next"], HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert {row["client"] for row in page["results"] + rest["results"]} == {own}
    assert rest["results"][0]["id"] > page["results"][0]["id"]


def test_a_bad_page_is_refused_with_the_reason(client: Any, clinic_admin: User) -> None:
    token = token_for(clinic_admin)
    for name, value in (
        ("after", "abc"),
        ("after", "-1"),
        ("after", "٣"),
        ("after", str(2**63)),
        ("page_size", "0"),
        ("page_size", "1001"),
        ("page_size", "1.5"),
    ):
        refused = get(client, "clients/", token, **{name: value})
        assert refused.status_code == 400 and name in refused.json(), (name, value)
    # Page numbers are gone: refused with the way on, rather than the first page for ever.
    for other in ("page", "offset", "limit", "cursor"):
        refused = get(client, "clients/", token, **{other: 2})
        assert refused.status_code == 400 and "after=" in refused.json()[other][0], other


def test_a_list_takes_only_its_own_parameters_each_once(
    client: Any, clinic_admin: User, records: dict
) -> None:
    token = token_for(clinic_admin)
    own = records["R.K."]["session"].client_id
    # A misspelt filter would otherwise answer with everyone's records.
    refused = get(client, "ratings/", token, clinet=own)
    assert refused.status_code == 400
    assert refused.json()["clinet"] == [
        "Not a parameter of this list; it takes client, after, page_size, format."
    ]
    # clients/ has no client filter of its own: refused, not ignored.
    assert get(client, "clients/", token, client=own).status_code == 400
    twice = client.get("/api/v1/ratings/?after=abc&after=1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert twice.status_code == 400 and twice.json() == {"after": ["Give it once."]}
    assert get(client, "ratings/", token, client=own, format="json").status_code == 200


@pytest.mark.parametrize("path", ["ratings/", "clients/{own}/", "clients/{own}/fhir/"])
def test_a_format_the_address_does_not_give_is_named_not_a_missing_record(
    client: Any, therapist: User, records: dict, path: str
) -> None:
    token = token_for(therapist)
    own = Client.objects.get(label="R.K.").pk
    refused = get(client, path.format(own=own), token, format="xml")
    assert refused.status_code == 406
    assert "No format 'xml' here; this address gives: " in refused.json()["detail"]
    assert "json" in refused.json()["detail"]


def test_every_answer_is_in_the_audit_trail(client: Any, clinic_admin: User, records: dict) -> None:
    token = token_for(clinic_admin)
    get(client, "ratings/", token)
    entries = AuditEntry.objects.filter(action=AuditAction.EXPORTED, actor=clinic_admin)
    shown = set(Client.objects.filter(label__in=["R.K.", "M.P."]).values_list("pk", flat=True))
    assert set(entries.values_list("client_id", flat=True)) == shown
    assert set(entries.values_list("place", flat=True)) == {"api"}


def test_a_head_request_sends_no_records_and_records_no_export(
    client: Any, clinic_admin: User, records: dict, client_record: Client
) -> None:
    """The headers alone were sent: nothing left the clinic, though the trail said it had."""
    token = token_for(clinic_admin)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    session = records["R.K."]["session"]
    for path in (
        *(f"{resource}/" for resource in RESOURCES),
        f"clients/{client_record.pk}/",
        f"sessions/{session.pk}/",
        f"clients/{client_record.pk}/fhir/",
    ):
        response = client.head(f"/api/v1/{path}", **headers)
        assert response.status_code == 200 and response.content == b"", path
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORTED).exists()
    get(client, "sessions/", token)  # a GET still is one
    assert AuditEntry.objects.filter(action=AuditAction.EXPORTED, place="api").count() == 2


def test_requests_past_the_rate_are_refused(client: Any, therapist: User, monkeypatch: Any) -> None:
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    token = token_for(therapist)
    statuses = [get(client, "clients/", token).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Per owner: a colleague's token is not slowed by it.
    assert (
        get(client, "clients/", token_for(ClinicAdminFactory(clinic=therapist.clinic))).status_code
        == 200
    )


def test_the_schema_is_served_and_valid(client: Any, tmp_path: Any) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {f"/api/v1/{resource}/" for resource in RESOURCES} <= set(paths)
    assert "accessToken" in response.json()["components"]["securitySchemes"]
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_outcome_answers_carry_the_items_and_the_track(
    client: Any, therapist: User, records: dict
) -> None:
    token = token_for(therapist)
    [answer] = get(client, "outcome-answers/", token).json()["results"]
    stored = OutcomeAnswer.objects.get(pk=answer["id"])
    assert answer["answers"] == stored.answers and answer["instrument"] == stored.instrument_id


def test_a_voided_sessions_ratings_and_answers_are_not_counted(
    client: Any, therapist: User, records: dict
) -> None:
    from sessions.services import session_void

    session = records["R.K."]["session"]
    token = token_for(therapist)

    def sessions_of(resource: str) -> set[int]:
        return {row["session"] for row in get(client, f"{resource}/", token).json()["results"]}

    assert session.pk in sessions_of("ratings") and session.pk in sessions_of("outcome-answers")
    session_void(actor=therapist, session=session, reason="Logged twice.")
    assert session.pk not in sessions_of("ratings") | sessions_of("outcome-answers")
    [listed] = [
        s for s in get(client, "sessions/", token).json()["results"] if s["id"] == session.pk
    ]
    assert listed["voided_at"] is not None


def test_a_therapists_guesses_are_shown_only_to_them_and_those_who_oversee_them(
    client: Any,
    therapist: User,
    colleague: User,
    supervisor: User,
    clinic_admin: User,
    client_record: Client,
) -> None:
    """How well a therapist reads their clients is theirs, their supervisors' and the clinic
    admins' (the reading page's readers; the ratings CSV leaves it out): a colleague who took
    the client over reads the former therapist's ratings, but not their guesses."""
    from clients.moves import client_move

    session = SessionFactory(client=client_record, therapist=therapist)
    RatingFactory(session=session)
    RatingFactory(session=session, rater="therapist", guessed_client_score=7)

    def guesses(user: User) -> list[int | None]:
        rows = get(client, "ratings/", token_for(user)).json()["results"]
        [guess] = [row["guessed_client_score"] for row in rows if row["rater"] == "therapist"]
        one = get(client, f"ratings/{rows[-1]['id']}/", token_for(user)).json()
        return [guess, one["guessed_client_score"]]

    for reader in (therapist, supervisor, clinic_admin):
        assert guesses(reader) == [7, 7], reader
    client_move(
        actor=clinic_admin,
        client=client_record,
        therapist=colleague,
        from_therapist_id=therapist.pk,
    )
    assert guesses(colleague) == [None, None]
    assert guesses(clinic_admin) == [7, 7]


def test_the_schemas_rate_counts_the_address_the_proxies_vouch_for(
    client: Any, monkeypatch: Any, settings: Any
) -> None:
    """Anonymous, the schema is counted per address (building it costs 0.1–0.2 s), the
    address read as every limit here reads it (`ALLIANCE_TRUSTED_PROXY_HOPS`): an
    X-Forwarded-For the client wrote itself is no new address."""
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1/minute"})
    assert client.get("/api/schema/").status_code == 200
    forged = client.get("/api/schema/", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert forged.status_code == 429 and forged["Retry-After"]
    # Behind one proxy, the address it appended is the client's, whatever came before it.
    settings.ALLIANCE_TRUSTED_PROXY_HOPS = 1
    assert client.get("/api/schema/", HTTP_X_FORWARDED_FOR="10.0.0.1").status_code == 200
    again = client.get("/api/schema/", HTTP_X_FORWARDED_FOR="10.9.9.9, 10.0.0.1")
    assert again.status_code == 429
    assert client.get("/api/schema/", HTTP_X_FORWARDED_FOR="10.0.0.2").status_code == 200


def test_a_refusal_says_when_to_come_back_after_the_rate_was_lowered(
    client: Any, therapist: User, monkeypatch: Any
) -> None:
    """A rate raised for a bulk reader and lowered again leaves more requests counted than
    the new rate allows: each refusal still says when the next request will be taken."""
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "5/minute"})
    token = token_for(therapist)
    assert [get(client, "clients/", token).status_code for _ in range(5)] == [200] * 5
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/minute"})
    refused = get(client, "clients/", token)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "Expected available in" in refused.json()["detail"]
