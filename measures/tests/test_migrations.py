"""The migration that turns existing flags into concerns, run on a database of flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from alliance.tests.migrating import latest, migrate, migrated_back

BEFORE = [("measures", "0002_flag_history_and_sweeps")]
AFTER = [("measures", "0005_flag_review_moves_to_concerns")]


@pytest.fixture
def old_apps(transactional_db: None) -> Any:
    with migrated_back(BEFORE) as apps:
        yield apps


def test_flags_become_concerns_and_their_reviews_are_kept(old_apps: Any) -> None:
    Clinic = old_apps.get_model("clients", "Clinic")
    User = old_apps.get_model("clients", "User")
    Client = old_apps.get_model("clients", "Client")
    Session = old_apps.get_model("therapy_sessions", "Session")
    Flag = old_apps.get_model("measures", "Flag")
    FlagEvent = old_apps.get_model("measures", "FlagEvent")
    now = timezone.now()
    clinic = Clinic.objects.create(name="Riverside", slug="riverside")
    tara = User.objects.create(username="tara", clinic=clinic, is_therapist=True)
    client = Client.objects.create(clinic=clinic, therapist=tara, label="R.K.")
    calm = Client.objects.create(clinic=clinic, therapist=tara, label="M.P.")

    def session(person: Any, number: int) -> Any:
        return Session.objects.create(
            client=person,
            therapist=tara,
            number=number,
            starts_at=now - dt.timedelta(weeks=10 - number),
        )

    def flag(person: Any, number: int, rule: str, severity: str, **fields: Any) -> Any:
        return Flag.objects.create(
            client=person,
            session=session(person, number),
            rule=rule,
            severity=severity,
            evidence={"score": 6.0},
            created_at=now - dt.timedelta(days=70 - 7 * number),
            **fields,
        )

    # R.K.: one flag dismissed long ago, then three waiting (one of them acknowledged).
    dismissed = flag(
        client,
        2,
        "declining_trend",
        "medium",
        status="dismissed",
        acknowledged_at=now - dt.timedelta(days=50),
        acknowledged_by=tara,
        dismissed_at=now - dt.timedelta(days=49),
        dismissed_by=tara,
        note="A hard week at work.",
        notified_at=now - dt.timedelta(days=55),
    )
    FlagEvent.objects.create(flag=dismissed, action="dismissed", actor=tara, note="A hard week.")
    cutoff = flag(client, 5, "below_cutoff", "low")
    drop = flag(
        client,
        6,
        "reliable_drop",
        "high",
        status="acknowledged",
        acknowledged_at=now - dt.timedelta(days=5),
        acknowledged_by=tara,
        notified_at=now - dt.timedelta(days=6),
    )
    FlagEvent.objects.create(flag=drop, action="acknowledged", actor=tara)
    FlagEvent.objects.create(flag=drop, action="commented", actor=tara, note="Raise it next time.")
    discrepancy = flag(client, 7, "rater_discrepancy", "medium")
    # M.P.: only context waiting — no concern of its own.
    flag(calm, 3, "below_cutoff", "low")

    apps = migrate(AFTER)
    Concern = apps.get_model("measures", "Concern")
    NewFlag = apps.get_model("measures", "Flag")
    ConcernEvent = apps.get_model("measures", "ConcernEvent")

    closed = Concern.objects.get(client_id=client.pk, status="dismissed")
    assert (closed.note, closed.closed_by_id, closed.opening_rule) == (
        "A hard week at work.",
        tara.pk,
        "declining_trend",
    )
    assert closed.closed_at == dismissed.dismissed_at
    assert closed.reviewed_through == 2
    assert [e.action for e in ConcernEvent.objects.filter(concern=closed)] == ["dismissed"]

    waiting = Concern.objects.get(client_id=client.pk, status="acknowledged")
    assert (waiting.severity, waiting.opening_rule) == ("high", "reliable_drop")
    assert waiting.acknowledged_by_id == tara.pk
    assert (waiting.first_session.number, waiting.last_session.number) == (5, 7)
    assert waiting.notified_at is None  # the discrepancy was never in a digest
    assert set(NewFlag.objects.filter(concern=waiting).values_list("pk", flat=True)) == {
        cutoff.pk,
        drop.pk,
        discrepancy.pk,
    }
    assert [(e.action, e.note) for e in ConcernEvent.objects.filter(concern=waiting)] == [
        ("acknowledged", ""),
        ("commented", "Raise it next time."),
    ]

    assert not Concern.objects.filter(client_id=calm.pk).exists()
    assert NewFlag.objects.get(client_id=calm.pk).concern_id is None
    assert not NewFlag.objects.filter(grouped_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_hand_back_recorded_before_it_had_its_name_is_named_and_counted_once(
    client_record: Any, therapist: Any, supervisor: Any
) -> None:
    """Before migration 0021 a repair handed back was recorded "reopened", after the
    "not_recovered" already counted: the dashboard counted one repair twice. The migration
    names it "handed_back"; a repair that failed with no open concern, re-opened at once,
    stays "reopened"."""
    from measures.detection import evaluate_clients
    from measures.models import ConcernEvent
    from measures.tests.test_withdrawal_follow_up import _handed_back
    from reports import dashboard

    _a, b = _handed_back(client_record, therapist)
    evaluate_clients([client_record.pk])
    ConcernEvent.objects.filter(concern=b, action="handed_back").update(action="reopened")
    migrate([("measures", "0020_sweep_signals_withdrawn")])
    migrate(latest())  # 0021, and what came after it
    actions = list(b.events.order_by("at", "pk").values_list("action", flat=True))
    assert actions[-2:] == ["not_recovered", "handed_back"]
    period = dashboard.period_of_days(30)
    totals = dashboard.team_totals(supervisor, period)
    assert (totals["repairs_recovered"], totals["repairs_not_recovered"]) == (0, 1)


@pytest.mark.django_db(transaction=True)
def test_a_repair_reopened_at_once_stays_reopened_through_the_migration(
    client_record: Any, therapist: Any
) -> None:
    from measures.detection import evaluate_clients
    from measures.models import Concern, ConcernEvent
    from measures.review import concern_resolve
    from measures.tests.test_concerns import concern_of, history
    from measures.tests.test_detection import week

    history(client_record, [8, 8, 8, 8, 8])
    week(client_record, 15, 5)
    evaluate_clients([client_record.pk])
    b = concern_resolve(concern=concern_of(client_record), actor=therapist, note="Talked.")
    week(client_record, 14, 5)
    week(client_record, 13, 5)
    evaluate_clients([client_record.pk])
    b.refresh_from_db()
    assert b.status == Concern.Status.OPEN
    migrate([("measures", "0020_sweep_signals_withdrawn")])
    migrate(latest())  # 0021, and what came after it
    assert ConcernEvent.objects.filter(concern=b, action="reopened").count() == 1
    assert not ConcernEvent.objects.filter(action="handed_back").exists()


def as_recorded_before_0021(*concerns: Any) -> None:
    """The events as the code before migration 0021 wrote them: a hand-back "reopened", and
    no "did not recover" event naming the concern that carried its review."""
    from measures.models import ConcernEvent

    ConcernEvent.objects.filter(action="handed_back").update(action="reopened")
    for event in ConcernEvent.objects.filter(action="not_recovered"):
        event.evidence = {k: v for k, v in event.evidence.items() if k != "carried_by"}
        event.save(update_fields=["evidence"])


@pytest.mark.django_db(transaction=True)
def test_a_hand_back_stamped_before_its_failure_is_named_too(
    client_record: Any, therapist: Any, supervisor: Any
) -> None:
    """A sweep's chunk stamped a hand-back with the sweep's start, before the failure it
    handed back: it is told by its follow-up, not by the step before it."""
    from measures.models import ConcernEvent, Sweep
    from measures.tests.test_withdrawal_follow_up import chunk_hands_back_after_a_failure
    from reports import dashboard

    b = chunk_hands_back_after_a_failure(client_record, therapist)
    failed = b.events.get(action="not_recovered")
    started = Sweep.objects.get().started_at  # the chunk's "now"
    assert b.events.get(action="resolved").at < started < failed.at
    ConcernEvent.objects.filter(concern=b, action="handed_back").update(at=started)
    as_recorded_before_0021(b)
    migrate([("measures", "0020_sweep_signals_withdrawn")])
    migrate(latest())  # 0021, and what came after it
    assert b.events.filter(action="handed_back").count() == 1
    assert not b.events.filter(action="reopened").exists()
    totals = dashboard.team_totals(supervisor, dashboard.period_of_days(30))
    assert (totals["repairs_recovered"], totals["repairs_not_recovered"]) == (0, 1)


@pytest.mark.django_db(transaction=True)
def test_the_other_repairs_a_withdrawn_concern_carried_go_with_the_one_handed_back(
    client_record: Any, therapist: Any
) -> None:
    """Before 0021, a withdrawn concern that carried two failed repairs' reviews re-opened
    the later one only; the earlier was left carried by nothing. The migration has the
    one re-opened carry it, as Alliance does since."""
    from measures.detection import evaluate_clients
    from measures.tests.test_withdrawal_follow_up import two_carried

    _a, b1, b2 = two_carried(client_record, therapist)
    evaluate_clients([client_record.pk])
    as_recorded_before_0021(b1, b2)
    migrate([("measures", "0020_sweep_signals_withdrawn")])
    migrate(latest())  # 0021, and what came after it
    assert b2.events.filter(action="handed_back").count() == 1
    assert b1.events.get(action="not_recovered").evidence["carried_by"] == b2.pk
