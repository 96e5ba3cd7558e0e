"""Withdrawal beside the follow-up of repairs, the outcome's raise, the digest and the audit
trail: a concern after a withdrawal is as grouping, the follow-up and the digest would have
left it had the withdrawn signals never been."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from clients.models import Client
from measures.detection import evaluate_clients
from measures.models import Concern, ConcernEvent, Flag, Rating
from measures.scoring import DIMENSIONS
from measures.tests import test_outcome_tracking as tracking
from measures.tests.test_concerns import concern_of, therapist_rates

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signals_stored_both_ways")]


def test_an_outcome_concern_raised_for_alliance_context_stays_as_grouping_set_it(
    client_record: Client,
) -> None:
    for weeks_ago, score in [(3, 6), (2, 6)]:
        tracking.week(client_record, weeks_ago, score, 8)
    last = tracking.week(client_record, 1, 4.75, 8)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    before = (concern.severity, concern.raised_from, concern.opening_rule)
    assert before == ("high", "medium", "not_on_track")  # raised: the cut-off's context joined
    rating = therapist_rates(last, 10)
    evaluate_clients([client_record.pk])
    concern.refresh_from_db()
    Rating.objects.filter(pk=rating.pk).update(**dict.fromkeys(DIMENSIONS, 8))
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    concern.refresh_from_db()
    # Had the discrepancy never existed, the concern is as it was before it came.
    assert (concern.severity, concern.raised_from, concern.opening_rule) == before


def test_a_repair_reopened_keeps_its_reviewed_signals_when_a_later_one_is_withdrawn(
    client_record: Client, therapist: Any
) -> None:
    from measures.review import concern_dismiss, concern_resolve
    from measures.tests.test_concerns import history
    from measures.tests.test_detection import week

    history(client_record, [8, 8, 8, 8, 8])
    week(client_record, 15, 5)  # session 6: a reliable drop opens B
    evaluate_clients([client_record.pk])
    b = concern_resolve(concern=concern_of(client_record), actor=therapist, note="Talked.")
    reviewed = set(Flag.objects.filter(concern=b).values_list("pk", flat=True))
    week(client_record, 14, 5, rupture="a_lot", rupture_resolved="not_at_all")  # 7: C opens
    evaluate_clients([client_record.pk])
    concern_dismiss(concern=concern_of(client_record), actor=therapist, reason="Known.")
    week(client_record, 13, 5)  # 8: B's follow-up ends, not recovered; no open concern
    evaluate_clients([client_record.pk])
    b.refresh_from_db()
    assert (b.status, b.recovery) == (Concern.Status.OPEN, Concern.Recovery.NOT_RECOVERED)
    ninth = week(client_record, 12, 5, rupture="a_lot", rupture_resolved="not_at_all")
    rating = therapist_rates(ninth, 10)
    evaluate_clients([client_record.pk])
    assert Flag.objects.filter(concern=b, session=ninth, rule="rater_discrepancy").exists()
    Rating.objects.filter(pk=rating.pk).update(**dict.fromkeys(DIMENSIONS, 5))  # corrected
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    b.refresh_from_db()
    # The signals the therapist reviewed and resolved stay in B's record, and B is still
    # about the drop at session 6 (as it was before the discrepancy joined it).
    assert reviewed <= set(Flag.objects.filter(concern=b).values_list("pk", flat=True))
    assert (b.first_session.number, b.opening_rule) == (6, "reliable_drop")


def resolved_then_ruptured(client_record: Client, therapist: Any) -> tuple[Concern, Any]:
    """Steady at 8, then a drop at session 6 opens B, resolved with a repair; a rupture at
    session 7 (not talked through) opens A. Returns B and session 7."""
    from measures.review import concern_resolve
    from measures.tests.test_concerns import history
    from measures.tests.test_detection import week

    history(client_record, [8, 8, 8, 8, 8])
    week(client_record, 15, 5)
    evaluate_clients([client_record.pk])
    b = concern_resolve(concern=concern_of(client_record), actor=therapist, note="Talked.")
    seventh = week(client_record, 14, 5, rupture="a_lot", rupture_resolved="not_at_all")
    evaluate_clients([client_record.pk])
    return b, seventh


def _handed_back(client_record: Client, therapist: Any) -> tuple[Concern, Concern]:
    """test_withdrawal's scenario: A carries B's failed repair, then A is withdrawn and B
    re-opens (review_handed_back)."""
    from measures.tests.test_detection import week

    b, seventh = resolved_then_ruptured(client_record, therapist)
    a = concern_of(client_record)
    week(client_record, 13, 5)
    evaluate_clients([client_record.pk])
    b.refresh_from_db()
    assert b.recovery == Concern.Recovery.NOT_RECOVERED and b.status == "resolved"
    Rating.objects.filter(session=seventh, rater=Rating.Rater.CLIENT).update(
        rupture_resolved="fully"
    )
    return a, b


def test_a_repair_handed_back_is_in_the_audit_trail(client_record: Client, therapist: Any) -> None:
    from clients.models import AuditEntry

    a, b = _handed_back(client_record, therapist)
    evaluate_clients([client_record.pk])
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == "withdrawn" and b.status == "open"
    system = AuditEntry.objects.filter(actor_name="system", model="measures.concern")
    assert system.filter(object_id=str(a.pk), action="changed").exists()  # the withdrawal
    # B's status changed too, by Alliance: README "Every write is recorded".
    assert system.filter(object_id=str(b.pk), action="changed").exists()


def test_a_concern_raised_in_the_evaluation_that_withdraws_a_signal_is_told_again(
    client_record: Client, therapist: Any
) -> None:
    """Dimension drop (medium) at 6 opens a medium concern while on track; the client's
    minor rupture at 6 (context) is in it. In one evaluation the client says that rupture
    was fully talked through and, at session 7, goes off track: the concern rises to high,
    and the therapist hears of it in the next digest, as any rise."""
    from django.utils import timezone

    from measures import notifications

    therapist.email = "tara@example.org"
    therapist.save()
    for weeks_ago in (8, 7, 6, 5, 4):
        tracking.week(client_record, weeks_ago, 6, 10)
    sixth = tracking.week(
        client_record, 3, 6, 10, trust=6, rupture="a_little", rupture_resolved="not_at_all"
    )
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    assert (concern.severity, concern.raised_from) == ("medium", "")
    assert Flag.objects.filter(concern=concern, rule="rupture_unresolved").exists()
    assert notifications.digests_send(timezone.now()) == 1
    Rating.objects.filter(session=sixth, rater=Rating.Rater.CLIENT).update(rupture_resolved="fully")
    tracking.week(client_record, 1, 4, 10)
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    concern.refresh_from_db()
    assert (concern.severity, concern.raised_from) == ("high", "medium")
    assert concern.notified_at is None  # it got worse: in the next digest


def test_a_repair_handed_back_is_not_escalated_the_next_morning(
    client_record: Client, therapist: Any, supervisor: Any
) -> None:
    from measures import notifications

    supervisor.email = "sue@example.org"
    supervisor.save()
    _a, b = _handed_back(client_record, therapist)
    # B first opened three weeks ago and was acknowledged (and resolved) within a day.
    long_ago = timezone.now() - dt.timedelta(days=21)
    Concern.objects.filter(pk=b.pk).update(opened_at=long_ago, acknowledged_at=long_ago)
    evaluate_clients([client_record.pk])  # A withdrawn: B re-opens, unacknowledged now
    b.refresh_from_db()
    assert b.status == "open" and b.acknowledged_at is None
    notifications.digests_send(timezone.now())
    # The next morning: unacknowledged for less than a day, not 7.
    assert notifications.escalations_send(timezone.now() + dt.timedelta(hours=20)) == 0
    # Left unacknowledged for the days again: escalated then, once.
    later = timezone.now() + dt.timedelta(days=8)
    assert notifications.escalations_send(later) == 1
    assert notifications.escalations_send(later) == 0


def test_a_failed_repair_carried_by_a_withdrawn_concern_is_reviewed_again(
    client_record: Client, therapist: Any
) -> None:
    """README: with another concern open, "that one carries the review" of a repair that
    did not hold. Withdrawn, it carries nothing: the repair's concern re-opens."""
    a, b = _handed_back(client_record, therapist)
    assert b.events.filter(action=ConcernEvent.Action.NOT_RECOVERED).exists()
    evaluate_clients([client_record.pk])
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == (Concern.Status.WITHDRAWN, Concern.Status.OPEN)
    assert b.events.order_by("at", "pk").last().action == ConcernEvent.Action.HANDED_BACK


@pytest.mark.django_db(transaction=True)
def test_a_failed_repair_judged_while_its_carrier_is_being_withdrawn_is_reviewed(
    postgresql: None, client_record: Client, therapist: Any
) -> None:
    """Two evaluations at once: one withdraws A (its rupture talked through) and has not
    committed; the other finds B's repair did not hold. A is the open concern that would
    carry B's review, but it is on its way out: the follow-up waits for the client's lock,
    then sees A withdrawn and re-opens B. (Read without the lock, A looked open, B's
    failure was left to A, and A's withdrawal, which had looked for it first, never
    handed it back: nobody was asked to review it.)"""
    from measures import follow_up
    from measures.concerns import lock_clients
    from measures.detection import histories
    from measures.review import concern_resolve
    from measures.rules import evaluate
    from measures.tests.test_concerns import history
    from measures.tests.test_detection import week
    from measures.thresholds import thresholds_for_clinics
    from measures.withdrawal import Evaluated, signals_withdraw

    client_id = client_record.pk
    history(client_record, [8, 8, 8, 8, 8])
    week(client_record, 15, 5)
    evaluate_clients([client_id])
    b = concern_resolve(concern=concern_of(client_record), actor=therapist, note="Talked.")
    seventh = week(client_record, 14, 5, rupture="a_lot", rupture_resolved="not_at_all")
    evaluate_clients([client_id])
    a = concern_of(client_record)
    week(client_record, 13, 5)  # B's follow-up: the repair did not hold
    Rating.objects.filter(session=seventh, rater=Rating.Rater.CLIENT).update(
        rupture_resolved="fully"
    )  # A's one alert stops holding
    now = timezone.now()
    [(_, clinic_id, points, _as_it_stands)] = histories([client_id], now)
    t = thresholds_for_clinics([clinic_id])[clinic_id]
    [(repair, result)] = follow_up.judge(follow_up.watched([client_id])[client_id], points, t)
    assert result.state == "not_recovered"
    kept = {(finding.session_id, finding.rule) for finding in evaluate(points, t, now)}
    withdrawing, errors = threading.Event(), []

    def withdraw_a() -> None:
        try:
            with transaction.atomic():
                clinic_ids = lock_clients([client_id])
                signals_withdraw(
                    Evaluated({client_id: t}, {client_id: False}, kept), now, clinic_ids
                )
                withdrawing.set()
                time.sleep(1)  # the other evaluation's follow-up runs now
        except BaseException as error:
            errors.append(error)
            withdrawing.set()
        finally:
            connection.close()

    evaluation = threading.Thread(target=withdraw_a)
    evaluation.start()
    assert withdrawing.wait(10)
    follow_up.repairs_record([(client_id, repair, result)], now)
    evaluation.join()
    assert errors == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == (Concern.Status.WITHDRAWN, Concern.Status.OPEN)
    assert b.events.order_by("at", "pk").last().action == ConcernEvent.Action.REOPENED


def test_a_failed_repair_recorded_by_a_sweep_chunk_is_handed_back_when_its_carrier_goes(
    client_record: Client, therapist: Any
) -> None:
    """B is resolved with a repair; the nightly sweep is planned (its chunks judge as of
    its start). Session 7's rupture then opens A; session 8's rating ends B's follow-up (not
    recovered) and its own evaluation is lost (broker down). The chunk runs late: B did not
    hold, and A carries its review. A is then withdrawn: B re-opens, though the chunk
    recorded B's outcome as of the sweep's start, before A opened."""
    from measures.review import concern_resolve
    from measures.sweeps import sweep_chunk_run, sweep_plan
    from measures.tests.test_concerns import history
    from measures.tests.test_detection import week

    history(client_record, [8, 8, 8, 8, 8])
    week(client_record, 15, 5)
    evaluate_clients([client_record.pk])
    b = concern_resolve(concern=concern_of(client_record), actor=therapist, note="Talked.")
    sweep = sweep_plan(now=timezone.now())
    seventh = week(client_record, 14, 5, rupture="a_lot", rupture_resolved="not_at_all")
    evaluate_clients([client_record.pk])  # after the sweep began: A opens
    a = concern_of(client_record)
    week(client_record, 13, 5)
    [chunk] = sweep.chunks.all()
    sweep_chunk_run(chunk.pk)
    b.refresh_from_db()
    assert (b.status, b.recovery) == (Concern.Status.RESOLVED, Concern.Recovery.NOT_RECOVERED)
    Rating.objects.filter(session=seventh, rater=Rating.Rater.CLIENT).update(
        rupture_resolved="fully", updated_at=timezone.now()
    )
    evaluate_clients([client_record.pk])
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == (Concern.Status.WITHDRAWN, Concern.Status.OPEN)


def test_the_failed_repair_names_its_carrier_and_one_recorded_before_is_found_by_time(
    client_record: Client, therapist: Any
) -> None:
    """The "did not recover" event names the open concern that carries the review; one
    recorded before Alliance named it (no carrier in its evidence) is handed back by time,
    as the carrier was open when it was recorded."""
    from measures.follow_up import CARRIED_BY

    a, b = _handed_back(client_record, therapist)
    event = b.events.get(action=ConcernEvent.Action.NOT_RECOVERED)
    assert event.evidence[CARRIED_BY] == a.pk
    del event.evidence[CARRIED_BY]
    event.save(update_fields=["evidence"])
    evaluate_clients([client_record.pk])
    b.refresh_from_db()
    assert b.status == Concern.Status.OPEN


def test_a_repair_handed_back_counts_once_on_the_dashboard(
    client_record: Client, therapist: Any, supervisor: Any
) -> None:
    """README "Repairs followed up": the dashboard counts repairs whose follow-up finished.
    B's did not hold while A was open ("did not recover"); A withdrawn, B re-opens ("handed
    back"): one repair whose follow-up finished, not two."""
    from reports import dashboard

    _a, b = _handed_back(client_record, therapist)
    evaluate_clients([client_record.pk])
    b.refresh_from_db()
    assert b.status == Concern.Status.OPEN
    period = dashboard.period_of_days(30)
    [row] = [r for r in dashboard.therapist_rows(supervisor, period) if r.pk == therapist.pk]
    assert (row.repairs_recovered, row.repairs_not_recovered) == (0, 1)
    assert dashboard.team_totals(supervisor, period)["repairs_not_recovered"] == 1


def test_a_repair_carried_by_another_concern_says_so_after_that_one_is_closed(
    client_record: Client, therapist: Any
) -> None:
    from measures.review import concern_resolve

    a, b = _handed_back(client_record, therapist)
    said = "Did not recover (reviewed with another of the client's concerns)"
    assert b.recovery_words() == said
    concern_resolve(concern=a, actor=therapist, note="Talked it through again.")
    b.refresh_from_db()
    assert b.recovery_words() == said


def test_the_export_names_the_carrier_and_the_hand_back(
    client_record: Client, therapist: Any, clinic_admin: Any
) -> None:
    """From schema version 4: the "did not recover" event names the concern that carried its
    review, one of the client's own in the same document, and the re-opening is its own
    step."""
    from measures.rights import SCHEMA_VERSION, client_export

    a, b = _handed_back(client_record, therapist)
    evaluate_clients([client_record.pk])
    document = client_export(actor=clinic_admin, client=client_record)
    assert document["schema_version"] == SCHEMA_VERSION >= 4
    [exported] = [concern for concern in document["concerns"] if concern["id"] == b.pk]
    actions = [event["action"] for event in exported["events"]]
    assert actions[-2:] == ["not_recovered", "handed_back"]
    carried_by = exported["events"][-2]["evidence"]["carried_by"]
    assert carried_by == a.pk
    assert carried_by in {concern["id"] for concern in document["concerns"]}


def test_a_repair_handed_back_is_stale_on_the_dashboard_only_as_escalation_counts(
    client_record: Client, therapist: Any, supervisor: Any
) -> None:
    """README "Notifications": a concern Alliance re-opens counts its days from the
    re-opening; the dashboard's "Unacknowledged > 7 days" counts as escalation does. B,
    first opened three weeks ago, is handed back now: not stale; a week and more on, it is."""
    from reports import dashboard

    _a, b = _handed_back(client_record, therapist)
    long_ago = timezone.now() - dt.timedelta(days=21)
    Concern.objects.filter(pk=b.pk).update(opened_at=long_ago, acknowledged_at=long_ago)
    evaluate_clients([client_record.pk])
    b.refresh_from_db()
    assert b.status == Concern.Status.OPEN and b.reopened_at is not None

    def stale() -> int:
        period = dashboard.period_of_days(30)
        return dashboard.team_totals(supervisor, period)["stale_concerns"]

    assert stale() == 0
    Concern.objects.filter(pk=b.pk).update(reopened_at=timezone.now() - dt.timedelta(days=8))
    assert stale() == 1


def two_carried(client_record: Client, therapist: Any) -> tuple[Concern, Concern, Concern]:
    """B1 and B2 are resolved with repairs; A (a rupture at session 8) opens and carries
    the review of both when neither holds. Then the client says session 8's rupture was
    fully talked through (not yet evaluated): (A, B1, B2)."""
    from measures.follow_up import CARRIED_BY
    from measures.review import concern_resolve
    from measures.tests.test_concerns import history
    from measures.tests.test_detection import week

    history(client_record, [8, 8, 8, 8, 8])
    week(client_record, 15, 5)  # 6: a reliable drop opens B1
    evaluate_clients([client_record.pk])
    b1 = concern_resolve(concern=concern_of(client_record), actor=therapist, note="Talked.")
    week(client_record, 14, 5, rupture="a_lot", rupture_resolved="not_at_all")  # 7: B2
    evaluate_clients([client_record.pk])
    b2 = concern_resolve(concern=concern_of(client_record), actor=therapist, note="Again.")
    eighth = week(client_record, 13, 5, rupture="a_lot", rupture_resolved="not_at_all")
    evaluate_clients([client_record.pk])  # 8: A opens; B1 did not hold, A carries it
    a = concern_of(client_record)
    week(client_record, 12, 5)  # 9: B2 did not hold either
    evaluate_clients([client_record.pk])
    for b in (b1, b2):
        failed = b.events.get(action=ConcernEvent.Action.NOT_RECOVERED)
        assert failed.evidence[CARRIED_BY] == a.pk
    Rating.objects.filter(session=eighth, rater=Rating.Rater.CLIENT).update(
        rupture_resolved="fully"
    )
    return a, b1, b2


def test_every_failed_repair_a_withdrawn_concern_carried_is_handed_back(
    client_record: Client, therapist: Any
) -> None:
    """A withdrawn, the later repair's concern, B2, re-opens (one open concern a client)
    and carries B1's review: B1's event names it."""
    from measures.follow_up import CARRIED_BY

    a, b1, b2 = two_carried(client_record, therapist)
    evaluate_clients([client_record.pk])
    a.refresh_from_db()
    b1.refresh_from_db()
    b2.refresh_from_db()
    assert (a.status, b1.status, b2.status) == ("withdrawn", "resolved", "open")
    failed = b1.events.get(action=ConcernEvent.Action.NOT_RECOVERED)
    assert failed.evidence[CARRIED_BY] == b2.pk
    assert failed.evidence["scores"]  # what the follow-up found stays


def test_the_summary_names_the_concern_that_carried_a_failed_repair(
    client_record: Client, therapist: Any, clinic_admin: Any
) -> None:
    """The summary gives what the export gives, as a page: a repair that did not hold
    while another concern was open names that concern by its opening date."""
    import re

    from measures.rights import client_export, client_summary_html

    a, _b = _handed_back(client_record, therapist)
    opened = dt.datetime(2026, 1, 2, 9, 30, tzinfo=dt.UTC)
    Concern.objects.filter(pk=a.pk).update(opened_at=opened)
    html = client_summary_html(client_export(actor=clinic_admin, client=client_record))
    items = [" ".join(item.split()) for item in re.findall(r"<li>(.*?)</li>", html, re.S)]
    said = "Did not recover (reviewed with the concern opened 2026-01-02)"
    assert len([item for item in items if item.endswith(said)]) == 1


def test_the_summary_names_no_withdrawn_concern_as_having_reviewed_a_repair(
    client_record: Client, therapist: Any, clinic_admin: Any
) -> None:
    """A withdrawal is no review: once A is withdrawn and B handed back, neither B's
    failure nor its re-opening says A reviewed it."""
    import re

    from measures.rights import client_export, client_summary_html

    _a, b = _handed_back(client_record, therapist)
    evaluate_clients([client_record.pk])
    b.refresh_from_db()
    assert b.status == Concern.Status.OPEN
    html = client_summary_html(client_export(actor=clinic_admin, client=client_record))
    items = [" ".join(item.split()) for item in re.findall(r"<li>(.*?)</li>", html, re.S)]
    assert [item for item in items if "Did not recover" in item]
    assert not [item for item in items if "reviewed with the concern opened" in item]
    handed = b.events.get(action=ConcernEvent.Action.HANDED_BACK)
    assert "carried_by" not in handed.evidence


def test_the_escalation_counts_a_reopened_concerns_days_from_the_reopening(
    client_record: Client, therapist: Any, supervisor: Any
) -> None:
    """README "Notifications": a concern Alliance re-opens counts its days from the
    re-opening, in the supervisor's e-mail too."""
    from django.core import mail

    from measures import notifications

    supervisor.email = "sue@example.org"
    supervisor.save()
    _a, b = _handed_back(client_record, therapist)
    long_ago = timezone.now() - dt.timedelta(days=60)
    Concern.objects.filter(pk=b.pk).update(opened_at=long_ago, acknowledged_at=long_ago)
    evaluate_clients([client_record.pk])
    b.refresh_from_db()
    mail.outbox.clear()
    assert notifications.escalations_send(b.reopened_at + dt.timedelta(days=8, hours=1)) == 1
    [sent] = mail.outbox
    assert "open 8 days" in sent.body


def chunk_hands_back_after_a_failure(client_record: Client, therapist: Any) -> Concern:
    """B is resolved and A (a rupture at session 7) open; the nightly sweep is planned.
    Session 8's rating ends B's follow-up in its own evaluation (not recovered, A carries
    it); the client then says the rupture was fully talked through, and the sweep's chunk,
    which evaluates as of the sweep's start, withdraws A and hands B back. Returns B."""
    from measures.sweeps import sweep_chunk_run, sweep_plan
    from measures.tests.test_detection import week

    b, seventh = resolved_then_ruptured(client_record, therapist)
    sweep = sweep_plan(now=timezone.now())
    week(client_record, 13, 5)
    evaluate_clients([client_record.pk])
    Rating.objects.filter(session=seventh, rater=Rating.Rater.CLIENT).update(
        rupture_resolved="fully", updated_at=timezone.now()
    )
    [chunk] = sweep.chunks.all()
    sweep_chunk_run(chunk.pk)
    b.refresh_from_db()
    assert b.status == Concern.Status.OPEN
    return b


def test_a_hand_back_by_a_sweep_chunk_comes_after_the_failure_in_the_history(
    client_record: Client, therapist: Any
) -> None:
    b = chunk_hands_back_after_a_failure(client_record, therapist)
    actions = list(b.events.order_by("at", "pk").values_list("action", flat=True))
    assert actions[-2:] == ["not_recovered", "handed_back"]


def test_the_concern_that_carries_a_failed_repairs_review_says_so(
    client_record: Client, therapist: Any, client: Any
) -> None:
    """README: with another concern open, "that one carries the review" of a repair that
    did not hold. Its page says so, and links to the repair's concern; once Alliance
    withdrew it and handed the review back, the concern re-opened carries the others'."""
    from django.urls import reverse

    def page(concern: Concern) -> str:
        client.force_login(therapist)
        html = client.get(reverse("measures:concern-detail", args=[concern.pk])).content
        return " ".join(html.decode().split())

    a, b1, b2 = two_carried(client_record, therapist)
    said = "This review also covers the repair of"
    on_a = page(a)
    assert on_a.count(said) == 2
    for b in (b1, b2):
        assert reverse("measures:concern-detail", args=[b.pk]) in on_a
    assert said not in page(b1)
    evaluate_clients([client_record.pk])  # A withdrawn: B2 re-opens, carrying B1's review
    assert said not in page(a)
    on_b2 = page(b2)
    assert on_b2.count(said) == 1
    assert "its repair's review is carried here" in on_b2


def test_the_digest_says_why_a_concern_is_back(client_record: Client, therapist: Any) -> None:
    """A concern re-opened because its repair did not hold is listed in the next digest as
    re-opened: the therapist may have read it before, and reads why in Alliance."""
    from django.core import mail

    from measures import notifications

    _a, b = _handed_back(client_record, therapist)
    evaluate_clients([client_record.pk])  # handed back: B open, for the next digest
    b.refresh_from_db()
    assert b.status == Concern.Status.OPEN and b.notified_at is None
    therapist.email = "tara@example.org"
    therapist.save()
    mail.outbox.clear()
    notifications.digests_send()
    [sent] = mail.outbox
    listed = f"- {client_record.label}"
    [line] = [line for line in sent.body.splitlines() if line.startswith(listed)]
    assert line == f"{listed} (re-opened)"
