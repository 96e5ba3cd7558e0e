"""Each client's copies of their latest score and outcome track (Client.evaluated_score,
evaluated_track), which the supervisor's dashboard reads: written by detection after every
evaluation, from what is stored then."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alliance.tests.migrating import latest, migrate, migrated_back
from clients.models import Client, User
from clients.tests.factories import ClientFactory
from measures import detection
from measures.detection import evaluate_clients
from measures.models import OutcomeAnswer, Rating, copy_evaluated_to_clients, current_track
from measures.models import outcomes as outcome_models
from measures.models.ratings import latest_client_score
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_run
from measures.tests.factories import OutcomeAnswerFactory, RatingFactory
from reports import dashboard
from sessions import invitations
from sessions.models import Session
from sessions.services import session_void
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def week(client: Client, weeks_ago: int, score: int, outcome: float | None = 6) -> Session:
    """A session `weeks_ago`, rated `score` on every dimension by the client, with an outcome
    answer of four items at `outcome` unless None."""
    session = SessionFactory(
        client=client, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
    )
    RatingFactory(session=session, **dict.fromkeys(DIMENSIONS, score))
    if outcome is not None:
        OutcomeAnswerFactory(session=session, answers=[outcome] * 4)
    return session


def copies(client: Client) -> tuple[Decimal | None, str | None]:
    client.refresh_from_db()
    return client.evaluated_score, client.evaluated_track


def worked_out(client: Client) -> tuple[Decimal | None, str | None]:
    """The client's latest score and track as the pages work them out from the sessions."""
    row = (
        Client.objects.filter(pk=client.pk)
        .annotate(score=latest_client_score("pk"), track=current_track("pk"))
        .values_list("score", "track")
        .get()
    )
    return row[0], row[1]


def test_evaluating_a_client_writes_their_latest_score_and_judged_track(
    client_record: Client,
) -> None:
    week(client_record, 3, 9)
    week(client_record, 2, 8)
    week(client_record, 1, 6, outcome=2)
    assert copies(client_record) == (None, None)  # nothing has evaluated them yet
    evaluate_clients([client_record.pk])
    assert copies(client_record) == worked_out(client_record)
    score, track = copies(client_record)
    assert score == Decimal("6.0")
    # Judged by the evaluation that wrote it: not "" (waiting to be judged).
    latest = OutcomeAnswer.objects.filter(session__client=client_record).latest_first().first()
    assert track == latest.track != ""


def test_a_client_without_ratings_or_answers_has_none(client_record: Client) -> None:
    SessionFactory(client=client_record)
    evaluate_clients([client_record.pk])
    assert copies(client_record) == (None, None)


def test_the_catch_up_after_a_voided_session_goes_back_to_the_one_before(
    therapist: User, client_record: Client
) -> None:
    week(client_record, 2, 9, outcome=None)
    latest = week(client_record, 1, 4, outcome=None)
    sweep_run()
    assert copies(client_record) == (Decimal("4.0"), None)
    session_void(actor=therapist, session=latest, reason="Logged for the wrong client.")
    sweep_run(refresh_courses=False)  # the next catch-up finds the voided session
    assert copies(client_record) == (Decimal("9.0"), None)


def test_a_client_whose_only_rated_session_was_voided_has_no_score_again(
    therapist: User, client_record: Client
) -> None:
    """Left with no history at all, the client is still written (as having none)."""
    only = week(client_record, 1, 7)
    sweep_run()
    assert copies(client_record)[0] == Decimal("7.0")
    session_void(actor=therapist, session=only, reason="Logged for the wrong client.")
    sweep_run(refresh_courses=False)
    assert copies(client_record) == (None, None)


@pytest.mark.parametrize("chunked", [False, True], ids=["one pass", "in chunks"])
def test_the_nightly_sweep_mends_a_copy_something_wrote_past_detection(
    client_record: Client, chunked: bool
) -> None:
    week(client_record, 1, 8, outcome=None)
    other = ClientFactory(therapist=client_record.therapist)
    week(other, 1, 5, outcome=None)
    # Stamped a day ago: the sweeps below find nothing changed since the first.
    a_day_ago = timezone.now() - dt.timedelta(days=1)
    Session.objects.update(updated_at=a_day_ago)
    Rating.objects.update(updated_at=a_day_ago)
    sweep_run()  # the first sweep: everyone evaluated
    right = copies(client_record), copies(other)
    # A hand-made SQL fix, or a restore of the clients table alone: nothing of the clients'
    # stamped as changed, so no catch-up evaluates them.
    Client.objects.update(evaluated_score=Decimal("1.0"), evaluated_track=None)
    later = timezone.now() + dt.timedelta(minutes=10)
    assert sweep_run(later, refresh_courses=False).clients_evaluated == 0
    assert copies(client_record) == (Decimal("1.0"), None)
    nightly = sweep_run(later + dt.timedelta(days=1), chunked=chunked)
    assert (copies(client_record), copies(other)) == right
    assert nightly.clients_evaluated == 0  # mended, not evaluated again


def test_clients_are_written_a_slice_at_a_time_each_locked_in_id_order(
    clinic: Any, therapist: User, monkeypatch: Any
) -> None:
    clients = [ClientFactory(therapist=therapist) for _ in range(5)]
    for person in clients:
        week(person, 1, 7, outcome=None)
    ids = sorted(person.pk for person in clients)
    monkeypatch.setattr(outcome_models, "EVALUATED_A_STATEMENT", 2)
    with CaptureQueriesContext(connection) as captured:
        assert copy_evaluated_to_clients(reversed(ids)) == 5
    sent = [query["sql"] for query in captured.captured_queries]
    updates = [sql for sql in sent if sql.startswith("UPDATE")]
    locks = [sql for sql in sent if sql.startswith("SELECT")]
    # Slices of neighbouring ids, however they were given, each locked first (one client
    # alone too), in id order, then written.
    assert [_ids_in(sql) for sql in updates] == [ids[0:2], ids[2:4], ids[4:5]]
    assert [_ids_in(sql) for sql in locks] == [ids[0:2], ids[2:4], ids[4:5]]
    assert all(
        sql.startswith('SELECT "clients_client"."id"') and "ORDER BY 1 ASC" in sql for sql in locks
    )
    if connection.vendor == "postgresql":
        assert all(sql.endswith("FOR NO KEY UPDATE") for sql in locks)
    assert {copies(person) for person in clients} == {(Decimal("7.0"), None)}


def _ids_in(sql: str) -> list[int]:
    """The ids a statement names in its `"clients_client"."id" IN (…)`, in that order."""
    named = re.search(r'"clients_client"\."id" IN \(([^)]*)\)', sql)
    assert named, sql
    return [int(number) for number in named.group(1).split(",")]


def test_a_rating_through_the_link_reaches_the_dashboard_once_evaluated(
    client: Any,
    supervisor: User,
    client_record: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """End to end, in process (no broker): the client answers, detection evaluates them as
    the answer commits, and the supervisor's dashboard counts the new score."""
    Client.objects.filter(pk=client_record.pk).update(asks_outcome=False)
    session = SessionFactory(client=client_record, starts_at=timezone.now() - dt.timedelta(days=1))
    _, token = invitations.invitation_create(session=session)
    answers = {name: "8" for name in DIMENSIONS} | {"rupture": "none", "notice_version": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("measures:client-rating", args=[token]), answers)
    assert response.status_code == 302
    assert copies(client_record) == (Decimal("8.0"), None)
    [row] = dashboard.therapist_rows(supervisor, dashboard.period_of_days(30))
    assert row.mean_latest == 8


def test_detection_writes_them_last_from_what_is_stored_then(
    client_record: Client, monkeypatch: Any
) -> None:
    """A rating committed while an evaluation runs is in the copies it writes (and its own
    evaluation writes them again)."""
    week(client_record, 2, 9, outcome=None)
    evaluate = detection.evaluate

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        findings = evaluate(*args, **kwargs)
        if Session.objects.filter(client=client_record).count() == 1:  # once
            week(client_record, 1, 3, outcome=None)
        return findings

    monkeypatch.setattr(detection, "evaluate", meanwhile)
    evaluate_clients([client_record.pk])
    assert copies(client_record)[0] == Decimal("3.0")


# --- The migration that adds them -------------------------------------------------------

BEFORE = [
    ("clients", "0007_redundant_indexes"),
    ("therapy_sessions", "0005_redundant_indexes"),
    ("measures", "0016_sweep_last_finished"),
]


@pytest.fixture
def old_apps(transactional_db: None) -> Any:
    with migrated_back(BEFORE) as apps:
        yield apps


def test_the_migration_fills_them_from_what_is_stored(old_apps: Any) -> None:
    Clinic = old_apps.get_model("clients", "Clinic")
    OldUser = old_apps.get_model("clients", "User")
    OldClient = old_apps.get_model("clients", "Client")
    OldSession = old_apps.get_model("therapy_sessions", "Session")
    Instrument = old_apps.get_model("measures", "Instrument")
    Answer = old_apps.get_model("measures", "OutcomeAnswer")
    now = timezone.now()
    clinic = Clinic.objects.create(name="Riverside", slug="riverside")
    tara = OldUser.objects.create(username="tara", clinic=clinic, is_therapist=True)
    rated = OldClient.objects.create(clinic=clinic, therapist=tara, label="R.K.")
    never = OldClient.objects.create(clinic=clinic, therapist=tara, label="M.P.")
    check = Instrument.objects.create(
        clinic=None, name="Check", text={}, cutoff=5, reliable_change=1
    )

    def session(number: int, score: str | None, track: str | None, **fields: Any) -> None:
        made = OldSession.objects.create(
            client=rated,
            therapist=tara,
            number=number,
            starts_at=now - dt.timedelta(weeks=5 - number),
            client_score=Decimal(score) if score else None,
            **fields,
        )
        if track is not None:
            Answer.objects.create(
                session=made, instrument=check, answers=[6, 6, 6, 6], score=6, track=track
            )

    session(1, "9.0", "starting")
    session(2, "7.5", "not_on_track")
    session(3, None, None)  # the latest session: not rated, no answer
    # The latest of all, voided: counts nowhere.
    session(4, "2.0", "on_track", voided_at=now, voided_by=tara, void_reason="Wrong client.")

    migrate(latest())
    assert copies(Client.objects.get(pk=rated.pk)) == (Decimal("7.5"), "not_on_track")
    assert copies(Client.objects.get(pk=never.pk)) == (None, None)


def test_saving_a_client_read_before_an_evaluation_keeps_what_it_wrote(
    client_record: Client,
) -> None:
    week(client_record, 1, 7)
    open_form = Client.objects.get(pk=client_record.pk)  # the client's edit form is open
    evaluate_clients([client_record.pk])
    open_form.label = "R.K.-2"
    open_form.save()
    assert copies(client_record) == worked_out(client_record) != (None, None)
    assert client_record.label == "R.K.-2"
