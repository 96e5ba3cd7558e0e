"""Calibrating a clinic's thresholds on its own ratings: the estimates, the proposal, what it
would have raised, the command, and applying it (recorded, by a clinic admin only)."""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from clients.models import Client, Clinic, User
from clients.tests.factories import ClientFactory
from measures import calibration, calibration_runs
from measures.calibration import ClientHistory, estimate, proposal
from measures.history import Point, Thresholds
from measures.models import Calibration, ClinicThresholds, Rating, ThresholdChange
from measures.scoring import DIMENSIONS
from measures.tests.test_rules import point, with_therapist
from measures.thresholds import clinic_thresholds, thresholds_apply, thresholds_reset
from sessions.models import Session

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def steady(client_id: int, score: float, sessions: int = 6, stable: bool = True) -> ClientHistory:
    """A client who rates `score` at every session."""
    history = [point(n, score) for n in range(1, sessions + 1)]
    return ClientHistory(client_id=client_id, therapist_id=1, stable=stable, history=history)


# --- The estimates, on plain values ---------------------------------------------------


def test_too_few_stable_clients_say_so_and_propose_nothing() -> None:
    clients = [steady(n, 9.5) for n in range(19)] + [steady(99, 6.0, stable=False)]
    found = estimate(clients)
    assert not found.enough_data and found.sd is None
    assert "19 stable clients" in found.notes[0] and "at least 20" in found.notes[0]
    assert proposal(Thresholds(), found) == Thresholds()


def test_the_spread_is_the_sd_of_every_rating_and_reliability_the_successive_correlation() -> None:
    rng = random.Random(3)
    clients = []
    for n in range(30):
        level = rng.choice([8.0, 8.5, 9.0, 9.5, 10.0])
        scores = [min(10.0, max(0.0, level + rng.choice([-0.5, 0.0, 0.0, 0.5]))) for _ in range(6)]
        history = [point(i, score) for i, score in enumerate(scores, start=1)]
        clients.append(ClientHistory(n, 1, True, history))
    found = estimate(clients)
    every = [p.client_score for c in clients for p in c.history]
    pairs = [
        (a.client_score, b.client_score)
        for c in clients
        for a, b in zip(c.history, c.history[1:], strict=False)
    ]
    assert found.enough_data
    assert found.sd == round(statistics.stdev(every), 2)
    expected_r = statistics.correlation([a for a, _ in pairs], [b for _, b in pairs])
    assert found.reliability == round(expected_r, 2)
    assert found.reliable_change == round(
        1.96 * found.sd * math.sqrt(2 * (1 - found.reliability)), 2
    )
    assert (found.clients, found.stable_clients, found.pairs) == (30, 30, 150)


def test_perfectly_steady_clients_cap_the_reliability() -> None:
    clients = [steady(n, [8.0, 9.0, 10.0][n % 3]) for n in range(30)]
    found = estimate(clients)
    assert found.reliability == 0.95  # a correlation of 1 would make every fall reliable
    assert found.reliable_change == round(1.96 * found.sd * math.sqrt(0.1), 2)


def test_only_stable_clients_judge_the_reliability() -> None:
    stable = [steady(n, [8.0, 9.0, 10.0][n % 3]) for n in range(25)]
    ruptured = ClientHistory(
        99, 1, False, [point(n, s) for n, s in enumerate([10.0, 2.0, 10.0, 2.0], 1)]
    )
    assert estimate([*stable, ruptured]).reliability == 0.95


def test_a_fall_in_one_dimension_stable_clients_reach_by_chance_is_not_proposed() -> None:
    def pair(fall: int, level: int) -> list[Point]:
        return [point(1, (level,) * 6), point(2, (level - fall, *(level,) * 5))]

    # 200 pairs (clients at levels 7 to 10): 4 fall 3 points (2 %), 1 falls 5 (0.5 %), the
    # rest hold: 4 is the first fall reached in under 1 % of pairs.
    falls = [3] * 4 + [5] + [0] * 195
    histories = [pair(fall, 7 + n % 4) for n, fall in enumerate(falls)]
    clients = [ClientHistory(n, 1, True, h) for n, h in enumerate(histories)]
    assert estimate(clients).dimension_drop == 4


def test_the_therapists_margin_is_what_stable_clients_pass_in_under_one_session_in_100() -> None:
    clients = []
    for n in range(120):
        level = [7.0, 8.0, 9.0][n % 3]
        above = 1.0 if n == 0 else 0.2  # one session the therapist rates 1.0 above
        history = [
            with_therapist(point(1, level), level),
            with_therapist(point(2, level), level + above),
        ]
        clients.append(ClientHistory(n, 1, True, history))
    # 240 sessions rated by both: the 99th percentile is 0.2, rounded up to half a point, and
    # never under the floor of 1.0.
    assert estimate(clients).discrepancy == 1.0


def test_too_few_sessions_rated_by_both_keep_the_current_margin() -> None:
    clients = [steady(n, [8.0, 9.0, 10.0][n % 3]) for n in range(30)]
    found = estimate(clients)
    assert found.discrepancy is None
    assert proposal(Thresholds(), found).discrepancy == Thresholds().discrepancy


def test_concern_rates_count_what_opened_in_the_window_per_therapist_week() -> None:
    start = NOW - dt.timedelta(weeks=20)

    def dated(number: int, score: float) -> Point:
        p = point(number, score)
        return Point(
            session_id=p.session_id + 100 * number,
            number=number,
            starts_at=start + dt.timedelta(weeks=number),
            client=p.client,
        )

    falls = [dated(n, 9.8) for n in range(1, 16)] + [dated(16, 6.0)]  # falls at week 16
    steady_ones = [dated(n, 9.8) for n in range(1, 17)]
    clients = [
        ClientHistory(1, therapist_id=1, stable=False, history=falls),
        ClientHistory(2, therapist_id=2, stable=True, history=steady_ones),
    ]
    rates = calibration.concern_rates(clients, Thresholds(), NOW - dt.timedelta(weeks=12), NOW)
    # One concern, two therapists over twelve weeks.
    assert rates["all"] == round(1 / 24, 3)
    assert rates["reliable_drop"] == round(1 / 24, 3)


# --- Over the database: the run, the command, applying ---------------------------------


def clinic_of_ratings(therapist: User, clients: int = 25, sessions: int = 6) -> list[Client]:
    """Stable clients near the ceiling, each rating every weekly session, in bulk."""
    rng = random.Random(11)
    people = [ClientFactory(therapist=therapist) for _ in range(clients)]
    start = timezone.now() - dt.timedelta(weeks=sessions + 1)
    rows = [
        Session(
            client=person,
            therapist=therapist,
            number=number,
            starts_at=start + dt.timedelta(weeks=number),
        )
        for person in people
        for number in range(1, sessions + 1)
    ]
    Session.objects.bulk_create(rows)
    Rating.objects.bulk_create(
        Rating(
            session=session,
            rater=Rating.Rater.CLIENT,
            **{d: rng.choice([8, 9, 9, 10, 10, 10]) for d in DIMENSIONS},
        )
        for session in rows
    )
    return people


@pytest.fixture
def rated_clinic(therapist: User) -> Clinic:
    clinic_of_ratings(therapist)
    return therapist.clinic


@pytest.mark.django_db
def test_a_calibration_keeps_estimates_proposal_rates_and_curves(
    rated_clinic: Clinic, clinic_admin: User
) -> None:
    run = calibration_runs.calibration_run(clinic=rated_clinic, actor=clinic_admin)
    result = Calibration.objects.get(pk=run.pk).result
    assert run.created_by == clinic_admin and run.applied_at is None
    assert result["enough_data"] and result["estimates"]["stable_clients"] == 25
    assert result["proposed"]["sd"] == result["estimates"]["sd"]
    assert result["proposed"]["reliability"] == result["estimates"]["reliability"]
    assert set(result["rates"]) == {"current", "proposed"}
    assert "all" in result["rates"]["current"]
    curves = {curve["name"]: curve for curve in result["curves"]}
    assert set(curves) == {"reliable_change", "dimension_drop", "trend_min_fall", "discrepancy"}
    for curve in curves.values():
        values = [point["value"] for point in curve["points"]]
        assert curve["current"] in values and curve["proposed"] in values
        assert all(point["rate"] >= 0 for point in curve["points"])
    # Aggregates only: no client's label or id.
    labels = rated_clinic.clients.values_list("label", flat=True)
    assert not any(label in str(result) for label in labels)


@pytest.mark.django_db
def test_the_replay_waits_for_a_link_still_open_as_detection_does(client_record: Client) -> None:
    """A session logged days late whose link was made today: detection holds the rupture
    only the therapist noticed until the link closes, and so must the replay of the rates
    a calibration proposes from."""
    from measures.detection import evaluate_clients
    from measures.models import Flag
    from measures.rules import evaluate
    from measures.tests.factories import rupture_only_the_therapist_noticed
    from sessions.invitations import invitation_create

    now = timezone.now()
    late = rupture_only_the_therapist_noticed(client_record, days_ago=5)
    invitation_create(session=late)
    evaluate_clients([client_record.pk], now=now)
    assert not Flag.objects.filter(session=late).exists()
    t = Thresholds.from_settings()
    [read] = calibration.clinic_histories(client_record.clinic, now=now)
    assert not list(evaluate(read.history, t, now))
    assert calibration.Replay([read], now - dt.timedelta(weeks=12), now).rates(t)["all"] == 0
    # Once the link has expired unanswered, both raise it.
    later = now + dt.timedelta(days=5)
    [read] = calibration.clinic_histories(client_record.clinic, now=later)
    assert {f.rule for f in evaluate(read.history, t, later)} == {"rupture_unresolved"}


def test_the_replay_raises_only_what_detection_raises_with_a_link_sent_late(
    client_record: Client,
) -> None:
    """Five attended sessions, none rated by the client, the fourth's form sent again late
    before detection ran: detection raises only what the rules find both with the link and
    without it, so nothing (the run ends at 4 without it, at 5 with it); nor may the replay
    the calibration proposes from."""
    from measures.detection import evaluate_clients
    from measures.models import Flag
    from sessions.invitations import invitation_create
    from sessions.tests.factories import SessionFactory

    now = timezone.now()
    sessions = [
        SessionFactory(client=client_record, starts_at=now - dt.timedelta(days=days))
        for days in (37, 30, 23, 16, 9)
    ]
    invitation_create(session=sessions[3])
    assert evaluate_clients([client_record.pk], now=now).concerns_opened == 0
    assert not Flag.objects.filter(client=client_record).exists()
    t = Thresholds.from_settings()
    [read] = calibration.clinic_histories(client_record.clinic, now=now)
    assert calibration.Replay([read], now - dt.timedelta(weeks=12), now).rates(t)["all"] == 0


@pytest.mark.django_db
def test_only_the_clinics_own_admin_may_calibrate_it(
    rated_clinic: Clinic, therapist: User, supervisor: User, outsider: User
) -> None:
    for someone in (therapist, supervisor, outsider):
        with pytest.raises(PermissionDenied):
            calibration_runs.calibration_run(clinic=rated_clinic, actor=someone)
    assert not Calibration.objects.exists()


@pytest.mark.django_db
def test_applying_a_proposal_records_who_when_and_the_values(
    rated_clinic: Clinic, clinic_admin: User
) -> None:
    run = calibration_runs.calibration_run(clinic=rated_clinic, actor=clinic_admin)
    before = clinic_thresholds(rated_clinic)
    change = thresholds_apply(calibration=run, actor=clinic_admin)
    after = clinic_thresholds(rated_clinic)
    assert after.sd == run.result["proposed"]["sd"]
    assert after.reliability == run.result["proposed"]["reliability"]
    assert (change.changed_by, change.calibration) == (clinic_admin, run)
    assert change.before["sd"] == before.sd and change.after["sd"] == after.sd
    run.refresh_from_db()
    assert run.applied_by == clinic_admin and run.applied_at is not None
    with pytest.raises(ValidationError, match="already been applied"):
        thresholds_apply(calibration=run, actor=clinic_admin)
    assert ThresholdChange.objects.count() == 1


@pytest.mark.django_db
def test_nobody_else_applies_or_resets_and_nothing_changes(
    rated_clinic: Clinic, clinic_admin: User, supervisor: User, outsider: User
) -> None:
    run = calibration_runs.calibration_run(clinic=rated_clinic, actor=clinic_admin)
    for someone in (supervisor, outsider):
        with pytest.raises(PermissionDenied):
            thresholds_apply(calibration=run, actor=someone)
        with pytest.raises(PermissionDenied):
            thresholds_reset(clinic=rated_clinic, actor=someone)
    assert not ClinicThresholds.objects.exists() and not ThresholdChange.objects.exists()


@pytest.mark.django_db
def test_a_calibration_without_enough_data_cannot_be_applied(
    therapist: User, clinic_admin: User
) -> None:
    clinic_of_ratings(therapist, clients=5)
    run = calibration_runs.calibration_run(clinic=therapist.clinic, actor=clinic_admin)
    assert not run.result["enough_data"]
    with pytest.raises(ValidationError, match="too few ratings"):
        thresholds_apply(calibration=run, actor=clinic_admin)


@pytest.mark.django_db
def test_resetting_goes_back_to_the_settings(rated_clinic: Clinic, clinic_admin: User) -> None:
    run = calibration_runs.calibration_run(clinic=rated_clinic, actor=clinic_admin)
    thresholds_apply(calibration=run, actor=clinic_admin)
    thresholds_reset(clinic=rated_clinic, actor=clinic_admin)
    assert clinic_thresholds(rated_clinic) == Thresholds.from_settings()
    assert ClinicThresholds.objects.get().overrides() == {}
    assert ThresholdChange.objects.count() == 2


@pytest.mark.django_db
def test_the_command_prints_the_estimates_and_changes_nothing(rated_clinic: Clinic) -> None:
    out = StringIO()
    call_command("calibrate_thresholds", "--clinic", str(rated_clinic.pk), stdout=out)
    text = out.getvalue()
    assert "25 clients (25 stable)" in text and "reliable change" in text
    assert "All concerns" in text and "Thresholds page" in text
    assert Calibration.objects.get().created_by is None
    assert not ClinicThresholds.objects.exists()


@pytest.mark.django_db
def test_the_command_says_when_there_is_too_little_data(therapist: User) -> None:
    clinic_of_ratings(therapist, clients=3)
    out = StringIO()
    call_command("calibrate_thresholds", "--clinic", str(therapist.clinic.pk), stdout=out)
    assert "Too few ratings to calibrate" in out.getvalue()


@pytest.mark.django_db
def test_the_command_refuses_an_unknown_clinic() -> None:
    with pytest.raises(CommandError, match="No clinic with id 999999"):
        call_command("calibrate_thresholds", "--clinic", "999999")


def test_a_proposal_at_the_top_of_its_range_says_so() -> None:
    clients = []
    for n in range(120):
        level = [5.0, 6.0, 7.0][n % 3]
        above = 3.0 if n < 5 else 0.2  # the therapist often rates far above: over 1 in 100
        history = [
            with_therapist(point(1, level), level),
            with_therapist(point(2, level), level + above),
        ]
        clients.append(ClientHistory(n, 1, True, history))
    result = calibration.calibration_result(clients, Thresholds(), NOW)
    assert result["proposed"]["discrepancy"] == 3.0
    assert any("top of its range (3.0)" in note for note in result["estimates"]["notes"])


@pytest.mark.django_db
def test_a_concern_dismissed_because_the_client_was_erased_does_not_make_them_stable(
    therapist: User, clinic_admin: User
) -> None:
    """A concern dismissed as needing no repair marks a stable client; one still waiting
    for review when the client was erased, then closed without a reason because the record
    takes none, was never judged so: it marks scores that moved, as it did while open. One
    dismissed with a reason before the erasure still counts as reviewed."""
    from measures.review import concern_dismiss
    from measures.tests.factories import concern_with_signal, erased

    dismissed, dismissed_then_erased, erased_then_dismissed = clinic_of_ratings(
        therapist, clients=3
    )
    concern_dismiss(
        concern=concern_with_signal(dismissed), actor=therapist, reason="A hard week at work."
    )
    concern_dismiss(
        concern=concern_with_signal(dismissed_then_erased), actor=therapist, reason="Noise."
    )
    erased(dismissed_then_erased, by=clinic_admin)
    waiting = concern_with_signal(erased_then_dismissed)
    erased(erased_then_dismissed, by=clinic_admin)
    waiting.refresh_from_db()
    concern_dismiss(concern=waiting, actor=therapist, reason="")
    read = {
        client.client_id: client.stable for client in calibration.clinic_histories(therapist.clinic)
    }
    assert read == {
        dismissed.pk: True,
        dismissed_then_erased.pk: True,
        erased_then_dismissed.pk: False,
    }
