"""Detection over the database: the right signals, never twice, and nothing lost."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Client
from clients.tests.factories import ClientFactory
from measures.detection import evaluate_clients
from measures.models import Concern, Flag, Rating, Sweep
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_run
from measures.tests.factories import RatingFactory, rupture_only_the_therapist_noticed
from sessions.models import Session
from sessions.tests.factories import SessionFactory

# Each test both ways signals are stored (measures/tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signals_stored_both_ways")]


def week(client: Client, weeks_ago: float, score: int | None, **rating: Any) -> Session:
    """A session `weeks_ago` with a client rating whose six dimensions are `score`."""
    session = SessionFactory(
        client=client, starts_at=timezone.now() - dt.timedelta(weeks=weeks_ago)
    )
    if score is not None:
        RatingFactory(session=session, **{**dict.fromkeys(DIMENSIONS, score), **rating})
    return session


def flags(client: Client) -> set[tuple[int, str]]:
    return set(Flag.objects.filter(client=client).values_list("session__number", "rule"))


@pytest.fixture
def drifting(client_record: Client) -> Client:
    """10, 10, 10, then 9, 8, 7: a trend, a reliable drop and scores below the cut-off."""
    for weeks_ago, score in [(6, 10), (5, 10), (4, 10), (3, 9), (2, 8), (1, 7)]:
        week(client_record, weeks_ago, score)
    return client_record


def test_evaluating_a_client_raises_the_signals_its_history_calls_for(drifting: Client) -> None:
    outcome = evaluate_clients([drifting.pk])
    assert outcome.flags_created == len(flags(drifting))
    assert flags(drifting) == {
        (5, "below_cutoff"),
        (6, "below_cutoff"),
        (5, "declining_trend"),
        (6, "declining_trend"),
        (5, "reliable_drop"),
        (6, "reliable_drop"),
    }
    assert (4, "below_cutoff") not in flags(drifting)  # 9.0 is not below 9.0
    drop = Flag.objects.get(client=drifting, rule="reliable_drop", session__number=6)
    assert drop.severity == "high" and drop.evidence["score"] == 7.0


def test_the_slide_is_one_concern_holding_every_signal(drifting: Client) -> None:
    assert evaluate_clients([drifting.pk]).concerns_opened == 1
    concern = Concern.objects.get(client=drifting)
    assert (concern.status, concern.severity, concern.opening_rule) == (
        "open",
        "high",
        "reliable_drop",
    )
    assert (concern.first_session.number, concern.last_session.number) == (5, 6)
    assert set(concern.signals.values_list("session__number", "rule")) == flags(drifting)
    assert not Flag.objects.filter(grouped_at__isnull=True).exists()


def test_evaluating_twice_changes_nothing(drifting: Client) -> None:
    first = evaluate_clients([drifting.pk])
    before = list(
        Flag.objects.order_by("pk").values("pk", "session_id", "rule", "evidence", "concern")
    )
    concerns = list(Concern.objects.values())
    assert first.flags_created > 0
    again = evaluate_clients([drifting.pk])
    assert (again.flags_created, again.concerns_opened) == (0, 0)
    assert (
        list(Flag.objects.order_by("pk").values("pk", "session_id", "rule", "evidence", "concern"))
        == before
    )
    assert list(Concern.objects.values()) == concerns


def test_a_dismissed_concern_is_not_opened_again_by_the_same_signals(
    drifting: Client, therapist: Any
) -> None:
    from measures.review import concern_dismiss

    evaluate_clients([drifting.pk])
    concern = Concern.objects.get(client=drifting)
    concern_dismiss(concern=concern, actor=therapist, reason="Scored low to test the form.")
    outcome = evaluate_clients([drifting.pk])
    assert (outcome.flags_created, outcome.concerns_opened) == (0, 0)
    assert Concern.objects.get().status == "dismissed"
    assert Flag.objects.filter(client=drifting).count() == len(flags(drifting))


def test_the_sweep_evaluates_what_changed_since_the_last_sweep(
    drifting: Client, colleague_client: Client, settings: Any
) -> None:
    settings.ALLIANCE_SWEEP_OVERLAP_SECONDS = 0  # the look-back is tested below
    week(colleague_client, 2, 10)
    first = sweep_run()
    assert (first.clients_evaluated, first.finished_at is not None) == (2, True)
    assert first.flags_created == Flag.objects.count() > 0
    assert first.concerns_opened == Concern.objects.count() == 1
    second = sweep_run()
    assert (second.clients_evaluated, second.flags_created) == (0, 0)
    week(colleague_client, 0.5, 4)  # a new low rating
    third = sweep_run()
    assert third.clients_evaluated == 1
    assert (2, "below_cutoff") in flags(colleague_client)


def test_a_rating_committed_after_a_sweep_began_is_judged_by_the_next(
    client_record: Client, settings: Any
) -> None:
    """A rating stamped a moment before a sweep began whose transaction committed after the
    sweep read (so it saw nothing), and whose own evaluation could not be queued: the next
    sweep looks back before the last one began, and judges it."""
    for weeks_ago in (5, 4, 3, 2):
        week(client_record, weeks_ago, 10)
    first = sweep_run()
    assert first.clients_evaluated == 1 and not Flag.objects.exists()
    late = week(client_record, 1, 3)
    stamped = first.started_at - dt.timedelta(seconds=5)
    Session.objects.filter(pk=late.pk).update(updated_at=stamped)
    Rating.objects.filter(session=late).update(updated_at=stamped)
    settings.ALLIANCE_SWEEP_OVERLAP_SECONDS = 0
    assert sweep_run().clients_evaluated == 0  # without the look-back it is never judged
    Sweep.objects.exclude(pk=first.pk).delete()
    settings.ALLIANCE_SWEEP_OVERLAP_SECONDS = 600
    second = sweep_run()
    assert second.clients_evaluated == 1
    assert (5, "below_cutoff") in flags(client_record)
    assert Concern.objects.filter(client=client_record).exists()


def test_the_sweep_catches_a_rating_changed_since_it_last_ran(client_record: Client) -> None:
    session = week(client_record, 2, 10)
    sweep_run()
    Rating.objects.filter(session=session).update(trust=2, updated_at=timezone.now())
    assert sweep_run().clients_evaluated == 1


def test_the_sweep_raises_disengagement_once_rating_windows_close(client_record: Client) -> None:
    now = timezone.now()
    for days_ago in (37, 30, 23, 16):
        SessionFactory(client=client_record, starts_at=now - dt.timedelta(days=days_ago))
    recent = [
        SessionFactory(client=client_record, starts_at=now - dt.timedelta(days=d)) for d in (9, 2)
    ]
    sweep_run(now=now)
    assert ("disengagement" in {rule for _, rule in flags(client_record)}) is True
    assert Concern.objects.get(client=client_record).opening_rule == "disengagement"
    assert not Flag.objects.filter(session__in=recent).exists()  # 2 days: still pending
    later = now + dt.timedelta(days=3)  # nothing changed, but a rating window closed
    assert sweep_run(now=later).clients_evaluated == 1


def test_a_session_with_a_link_made_late_waits_for_it_to_close(client_record: Client) -> None:
    """Logged five days after it was held, the session got its link today: it lives four
    more days, and the client may yet answer it, so neither the rupture only the therapist
    noticed nor four unrated sessions raise anything until it closes unanswered."""
    from sessions.invitations import invitation_create

    now = timezone.now()
    for days_ago in (26, 19, 12):
        SessionFactory(client=client_record, starts_at=now - dt.timedelta(days=days_ago))
    late = rupture_only_the_therapist_noticed(client_record, days_ago=5)
    link, _token = invitation_create(session=late)
    evaluate_clients([client_record.pk], now=now)
    assert flags(client_record) == set() and not Concern.objects.exists()
    sweep_run(now=now + dt.timedelta(hours=1))  # after every row above was written
    assert flags(client_record) == set()
    # Four days on, the link has expired unanswered (nothing else changed, no session's own
    # window closed): the next sweep takes the client up for it.
    later = link.expires_at + dt.timedelta(minutes=1)
    assert sweep_run(now=later).clients_evaluated == 1
    assert {rule for _, rule in flags(client_record)} >= {"rupture_unresolved", "disengagement"}


def sweep_statements() -> tuple[int, int]:
    """Run a full sweep from scratch; (SQL statements, clients evaluated)."""
    Flag.objects.all().delete()
    Concern.objects.all().delete()
    Sweep.objects.all().delete()
    with CaptureQueriesContext(connection) as captured:
        sweep = sweep_run()
    return len(captured.captured_queries), sweep.clients_evaluated


def add_clients(therapist: Any, count: int) -> None:
    for _ in range(count):
        someone = ClientFactory(therapist=therapist)
        for weeks_ago, score in [(5, 10), (4, 10), (3, 10), (2, 10), (1, 6)]:
            week(someone, weeks_ago, score)


def test_the_sweep_costs_the_same_statements_at_any_size(therapist: Any) -> None:
    add_clients(therapist, 5)
    small, evaluated = sweep_statements()
    assert evaluated == 5
    # 40 in all: SQLite takes at most 999 parameters a statement, so Django splits a bulk
    # insert of more concerns than 999 / their 20 columns; PostgreSQL never does.
    add_clients(therapist, 35)
    large, evaluated = sweep_statements()
    assert evaluated == 40
    # One streamed read, one upsert of every signal found (up to 10,000 a batch) and the
    # grouping's fixed handful, whatever the number of clients: no query per client.
    assert small == large
    assert Concern.objects.count() == 40


def test_the_sweep_reports_clients_evaluated_of_the_total_it_counted_once(therapist: Any) -> None:
    add_clients(therapist, 3)
    totals: list[int | None] = []
    counts: list[int] = []

    def progress(total: int | None) -> Any:
        totals.append(total)
        return counts.append

    sweep = sweep_run(progress=progress)
    assert totals == [3] and counts == [1, 2, 3] and sweep.clients_evaluated == 3


def test_the_command_runs_a_sweep_or_one_client(drifting: Client, colleague_client: Client) -> None:
    out = StringIO()
    call_command("detect_alliance_drops", "--client", str(drifting.pk), stdout=out)
    assert f"Client {drifting.pk} evaluated" in out.getvalue()
    assert out.getvalue().rstrip().endswith("0 signal(s) withdrawn.")
    assert Flag.objects.filter(client=drifting).exists() and not Sweep.objects.exists()
    call_command("detect_alliance_drops", stdout=out)
    assert Sweep.objects.get().finished_at is not None
    with pytest.raises(CommandError, match="No client with id 999999"):
        call_command("detect_alliance_drops", "--client", "999999")


def test_the_command_reads_a_client_id_in_the_digits_0_to_9_only(drifting: Client) -> None:
    """ "١٢" is not client 12 (alliance/fields.py), though argparse's `int` reads it so."""
    for written in ("٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９"):
        other = str(drifting.pk).translate(str.maketrans("0123456789", written))
        with pytest.raises(CommandError, match="is not a record id: Use the digits 0–9"):
            call_command("detect_alliance_drops", "--client", other)
    assert not Flag.objects.exists()


def test_a_rating_saved_while_the_broker_was_down_is_flagged_by_the_next_sweep(
    client: Any, client_record: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from conftest import celery_broker
    from measures.tests.factories import outcome_form_answers
    from sessions.invitations import invitation_create

    for weeks_ago in (5, 4, 3, 2):
        week(client_record, weeks_ago, 10)
    sweep_run()
    _, token = invitation_create(session=SessionFactory(client=client_record))
    # The form as shown: the answers and the version of the privacy notice it carried.
    answers = {
        **dict.fromkeys(DIMENSIONS, "5"),
        "rupture": "none",
        "notice_version": "1",
        **outcome_form_answers(),
    }
    with (
        celery_broker("redis://127.0.0.1:1/0"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert client.post(f"/r/{token}/", answers).status_code == 302
    assert not Flag.objects.filter(rule="reliable_drop").exists()  # the task never ran
    sweep_run()
    assert Flag.objects.filter(client=client_record, rule="reliable_drop").count() == 1
    assert Concern.objects.filter(client=client_record).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_evaluations_at_once_raise_each_flag_once(
    postgresql: None, client_record: Client
) -> None:
    for weeks_ago, score in [(6, 10), (5, 10), (4, 10), (3, 9), (2, 8), (1, 7)]:
        week(client_record, weeks_ago, score)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def evaluate() -> None:
        try:
            barrier.wait()
            evaluate_clients([client_record.pk])
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = list(Flag.objects.values_list("session_id", "rule"))
    assert len(rows) == len(set(rows)) > 0
    # And one concern, holding them all: the client's row serialises grouping.
    assert Concern.objects.count() == 1
    assert not Flag.objects.filter(concern__isnull=True, rule="reliable_drop").exists()


@pytest.mark.parametrize("copy_from", [0, 10_000], ids=["copy", "multi-row"])
def test_both_ways_of_storing_signals_write_and_update_alike(
    monkeypatch: Any, drifting: Client, copy_from: int
) -> None:
    """PostgreSQL stores a large batch through COPY, grouped first and inserted already
    placed, and a small one in one statement, then placed; SQLite has the second way.
    Whichever runs, a finding is stored once and changed evidence is updated."""
    import measures.findings_store

    monkeypatch.setattr(measures.findings_store, "COPY_FROM", copy_from)
    first = evaluate_clients([drifting.pk])
    assert first.flags_created == 6 and first.concerns_opened == 1
    assert evaluate_clients([drifting.pk]).flags_created == 0
    Rating.objects.filter(session__client=drifting, session__number=6).update(trust=2)
    assert evaluate_clients([drifting.pk]).flags_created > 0  # the score at 6 fell further
    drop = Flag.objects.get(client=drifting, rule="reliable_drop", session__number=6)
    assert drop.evidence["score"] == 6.2  # (2 + 5 × 7) / 6
    assert Flag.objects.filter(client=drifting).count() >= 6
