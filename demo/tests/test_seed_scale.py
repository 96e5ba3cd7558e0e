"""`seed_demo --scale`: a clinic the size of a health system, in bulk (demo.scale), at a
small scale here: the counts asked for, the same clinic every time, and the refusals."""

from __future__ import annotations

import datetime as dt
import random
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from clients.models import Client, Clinic, Supervision, User
from clients.services import clinic_create
from demo.scale import SCALES, Scale, seed_scale_clinic
from measures.models import Concern, Flag, OutcomeAnswer, Rating, sessions_with_stale_copies
from measures.scoring import DIMENSIONS
from measures.sweeps import sweep_run
from sessions.models import Session

pytestmark = pytest.mark.django_db

SMALL = Scale(therapists=3, clients=20, sessions=400)
NOW = dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.UTC)
PASSWORD = "alliance-demo"


def seed(scale: Scale = SMALL, seed: int = 7) -> tuple[Clinic, list[int]]:
    written: list[int] = []
    clinic = seed_scale_clinic(
        random.Random(seed), scale, now=NOW, password=PASSWORD, on_sessions=written.append
    )
    return clinic, written


def content() -> list[tuple[Any, ...]]:
    """Everything seeded that is not an id."""
    return [
        *Client.objects.order_by("external_id").values_list(
            "external_id", "label", "therapist__username", "language", "status", "created_at"
        ),
        *Session.objects.order_by("client__external_id", "number").values_list(
            "client__external_id", "number", "starts_at", "attendance", "modality"
        ),
        *Rating.objects.order_by("session__client__external_id", "session__number", "rater")
        .values_list("rater", *DIMENSIONS, "rupture", "guessed_client_score", "submitted_at"),
        *OutcomeAnswer.objects.order_by("session__client__external_id", "session__number")
        .values_list("answers", "score"),
    ]  # fmt: skip


def call(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_seeds_the_counts_asked_with_staff_and_supervision_groups() -> None:
    clinic, written = seed()

    assert (clinic.clients.count(), Session.objects.count()) == (20, 400)
    assert written == [400]  # one batch of clients
    therapists = User.objects.filter(is_therapist=True)
    assert therapists.count() == 3
    everyone = User.objects.get(username="scale-supervisor")
    assert everyone.check_password(PASSWORD)
    assert Supervision.objects.filter(supervisor=everyone).count() == 3
    assert Supervision.objects.filter(supervisor__username="scale-supervisor01").count() == 3
    assert User.objects.get(is_clinic_admin=True).username == "scale-admin"
    assert {client.therapist.username for client in Client.objects.all()} == set(
        therapists.values_list("username", flat=True)
    )


def test_its_sessions_carry_their_ratings_copies_as_the_models_would_write_them() -> None:
    seed()
    assert Session.objects.filter(client_score__isnull=False).count() == (
        Rating.objects.filter(rater=Rating.Rater.CLIENT).count()
    )
    assert Session.objects.filter(guessed_client_score__isnull=False).exists()
    assert not sessions_with_stale_copies(Session.objects.all()).exists()


def test_its_histories_look_like_practice() -> None:
    seed()
    attended = Session.objects.attended()
    client_ratings = Rating.objects.by_client()
    # Nearly every attended session rated by both; some missed, some unanswered.
    assert 0.8 < attended.count() / Session.objects.count() < 0.98
    assert 0.75 < client_ratings.count() / attended.count() < 0.98
    assert 0.85 < Rating.objects.by_therapist().count() / attended.count() <= 1
    assert client_ratings.exclude(rupture="none").exists()
    assert Rating.objects.by_therapist().filter(guessed_client_score__isnull=False).exists()
    # An outcome answer with most client ratings, never without one.
    answers = OutcomeAnswer.objects.count()
    assert 0.6 < answers / client_ratings.count() <= 1
    assert not OutcomeAnswer.objects.exclude(session__ratings__rater="client").exists()
    for client in Client.objects.all():
        starts = list(client.sessions.in_history_order().values_list("starts_at", flat=True))
        # Weekly on the clinic's clock, so the same hour across a change to summer time.
        local = [timezone.localtime(start).replace(tzinfo=None) for start in starts]
        assert {later - earlier for earlier, later in pairwise(local)} == {dt.timedelta(weeks=1)}
        assert starts[-1] < NOW
    for rating in Rating.objects.select_related("session"):
        assert rating.session.starts_at < rating.submitted_at <= NOW


def test_the_same_seed_gives_the_same_clinic() -> None:
    with transaction.atomic():
        seed()
        first = content()
        transaction.set_rollback(True)
    assert not Clinic.objects.exists()
    seed()
    assert first and content() == first


def ratings() -> list[tuple[Any, ...]]:
    return list(
        Rating.objects.order_by("session__client__external_id", "session__number", "rater")
        .values_list("session__client__external_id", "rater", *DIMENSIONS, "submitted_at")
    )  # fmt: skip


def test_two_seeds_the_same_day_give_the_same_clinic_with_nothing_after_its_start() -> None:
    """At 01:00, clients seen yesterday afternoon are rated up to 30 hours after their
    session: those ratings are not in yet, rather than stamped with the moment of seeding,
    which differs from one seed to the next."""
    zone = timezone.get_current_timezone()
    first_run = dt.datetime(2026, 3, 9, 1, 0, tzinfo=zone)
    day_began = dt.datetime(2026, 3, 9, tzinfo=zone)
    scale = Scale(therapists=3, clients=100, sessions=1000)
    with transaction.atomic():
        seed_scale_clinic(random.Random(7), scale, now=first_run, password=PASSWORD)
        first = content()
        transaction.set_rollback(True)
    seed_scale_clinic(
        random.Random(7), scale, now=first_run + dt.timedelta(seconds=20), password=PASSWORD
    )

    assert first and content() == first
    assert max(when for *_, when in ratings()) <= day_began
    assert not sessions_with_stale_copies(Session.objects.all()).exists()


def detected() -> tuple[int, int, list[str]]:
    """What the seed's sweep found: signals, concerns, and the clients with a concern."""
    return (
        Flag.objects.count(),
        Concern.objects.count(),
        sorted(Concern.objects.values_list("client__external_id", flat=True)),
    )


def test_an_earlier_sweeps_record_is_data_the_seed_refuses_unless_flushed(
    monkeypatch: Any,
) -> None:
    """A sweep run on the freshly migrated database (`detect_alliance_drops`, beat) would
    have the seed's own sweep cover only what changed since it: fewer signals and concerns
    than the same clinic seeded into an empty database. --flush deletes its record too."""
    monkeypatch.setitem(SCALES, "large", Scale(therapists=3, clients=100, sessions=1000))
    with transaction.atomic():
        call("--scale", "large")
        clean = detected()
        transaction.set_rollback(True)
    assert clean[1] > 0

    sweep_run()  # nothing to evaluate, but a sweep on record
    with pytest.raises(CommandError, match=r"has data already \(.*sweep's record\).*--flush"):
        call("--scale", "large")
    assert not Session.objects.exists()

    call("--scale", "large", "--flush")
    assert detected() == clean


def test_the_command_seeds_a_scale_and_sweeps_it_and_prints_the_log_ins(monkeypatch: Any) -> None:
    monkeypatch.setitem(SCALES, "large", SMALL)
    output = call("--scale", "large")

    assert "20 clients, 400 sessions" in output
    assert "scale-supervisor " in output and "scale-admin " in output and PASSWORD in output
    assert "Swept 20 clients" in output
    assert Flag.objects.exists() and Concern.objects.exists()


def test_the_command_can_leave_the_sweep_out(monkeypatch: Any) -> None:
    monkeypatch.setitem(SCALES, "large", SMALL)
    output = call("--scale", "large", "--no-sweep")
    assert "Swept" not in output and not Flag.objects.exists()
    assert Session.objects.count() == 400


def test_it_refuses_a_database_with_data_unless_told_to_flush_it(monkeypatch: Any) -> None:
    monkeypatch.setitem(SCALES, "large", SMALL)
    clinic_create(name="A real clinic", slug="real")
    with pytest.raises(CommandError, match=r"has data already.*--flush"):
        call("--scale", "large")
    assert list(Clinic.objects.values_list("slug", flat=True)) == ["real"]
    assert not Session.objects.exists()

    call("--scale", "large", "--flush", "--no-sweep")
    assert list(Clinic.objects.values_list("slug", flat=True)) == ["scale"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "enormous"], "invalid choice: 'enormous'"),
        (["--flush"], "--flush and --no-sweep go with --scale only"),
        (["--no-sweep"], "--flush and --no-sweep go with --scale only"),
        (["--scale", "large", "--if-empty"], "--if-empty and --scale do not go together"),
    ],
)
def test_it_refuses_options_that_do_not_go_together(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call(*args)
    assert not Clinic.objects.exists()


def test_a_scale_too_small_for_a_history_is_refused() -> None:
    with pytest.raises(ValueError, match="6 sessions a client"):
        Scale(therapists=1, clients=10, sessions=50)
