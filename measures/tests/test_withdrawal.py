"""Signals that stop holding while open to review are withdrawn, and their concern follows:
its severity and span from what still holds, or withdrawn by Alliance when nothing alerts.
A closed concern's signals stay as the therapist saw them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from clients.tests.factories import ClientFactory, ClinicAdminFactory
from measures.concern_selectors import concern_page, review_queue, with_stories
from measures.concerns import UPDATE_CHUNK
from measures.detection import evaluate_clients
from measures.instruments import instrument_use
from measures.models import Calibration, ClinicThresholds, Concern, ConcernEvent, Flag, Rating
from measures.review import concern_acknowledge, concern_dismiss, concern_resolve
from measures.rights import client_export, client_summary_html
from measures.scoring import DIMENSIONS
from measures.services import client_rating_submit
from measures.sweeps import sweep_run
from measures.tests import test_outcome_tracking as tracking
from measures.tests.factories import rupture_only_the_therapist_noticed
from measures.tests.test_client_outcome import own_instrument
from measures.tests.test_concerns import concern_of, history, therapist_rates
from measures.tests.test_detection import week
from measures.tests.test_therapist_guess import ANSWERS as CLIENT_ANSWERS
from measures.thresholds import thresholds_apply
from measures.withdrawal import open_to_review
from reports.dashboard import period_of_days, review_outcomes
from sessions.invitations import invitation_create
from sessions.models import Session
from sessions.services import session_void
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signals_stored_both_ways")]


def _rates_client_as(rating: Rating, score: int) -> None:
    """The therapist corrects their rating within its window (the service's write, without
    the service's queueing: the test evaluates when it means to)."""
    Rating.objects.filter(pk=rating.pk).update(**dict.fromkeys(DIMENSIONS, score))


@pytest.fixture
def discrepancy(client_record: Client) -> tuple[Client, Rating]:
    """Steady at 8 (no drop), the therapist rating the last session 10: a concern opened by
    the therapist rating higher than the client, alone (with the cut-off as context)."""
    sessions = history(client_record, [8, 8, 8, 8, 8])
    rating = therapist_rates(sessions[-1], 10)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    assert concern.opening_rule == Flag.Rule.RATER_DISCREPANCY
    return client_record, rating


def test_a_corrected_rating_withdraws_the_concern_it_alone_opened(
    discrepancy: tuple[Client, Rating], therapist: Any
) -> None:
    client, rating = discrepancy
    concern = concern_of(client)
    _rates_client_as(rating, 8)
    outcome = evaluate_clients([client.pk])
    assert outcome.signals_withdrawn == 1
    concern.refresh_from_db()
    assert concern.status == Concern.Status.WITHDRAWN and concern.closed_at is not None
    assert concern.closed_by is None and concern.note == ""
    signal = Flag.objects.get(client=client, rule=Flag.Rule.RATER_DISCREPANCY)
    assert signal.withdrawn_at is not None and signal.concern == concern  # kept, not deleted
    assert signal.evidence["difference"] == 2.0  # the numbers as they were when it fired
    # The cut-off's context, which was in the concern, still holds: outside any concern now.
    context = Flag.objects.get(client=client, rule=Flag.Rule.BELOW_CUTOFF, session=signal.session)
    assert context.withdrawn_at is None and context.concern is None
    event = concern.events.get()
    assert event.action == ConcernEvent.Action.WITHDRAWN and event.actor is None
    assert event.evidence == {"signals": [[5, "rater_discrepancy"]]}
    assert event.numbers == [
        ("No longer firing", "Therapist rated higher than client at session 5")
    ]
    assert not review_queue(therapist).exists()
    # Evaluated again, nothing more happens: the withdrawal is recorded once.
    assert evaluate_clients([client.pk]).signals_withdrawn == 0
    assert concern.events.count() == 1


def test_a_withdrawn_signal_that_fires_again_comes_back_as_a_new_one(
    discrepancy: tuple[Client, Rating],
) -> None:
    client, rating = discrepancy
    withdrawn = concern_of(client)
    _rates_client_as(rating, 8)
    evaluate_clients([client.pk])
    _rates_client_as(rating, 10)
    outcome = evaluate_clients([client.pk])
    assert outcome.concerns_opened == 1
    signal = Flag.objects.holding().get(client=client, rule=Flag.Rule.RATER_DISCREPANCY)
    concern = concern_of(client)
    assert concern != withdrawn and signal.concern == concern
    # The withdrawn concern's record is as it was: the signal it held, withdrawn.
    withdrawn.refresh_from_db()
    assert withdrawn.status == Concern.Status.WITHDRAWN
    [kept] = withdrawn.signals.all()
    assert kept != signal and kept.withdrawn_at is not None and kept.evidence["difference"] == 2.0
    assert withdrawn.events.get().evidence == {"signals": [[5, "rater_discrepancy"]]}


def test_context_that_fires_again_after_its_concern_was_withdrawn_stands_outside(
    discrepancy: tuple[Client, Rating],
) -> None:
    """The client's session-5 rating corrected to 10 withdraws both the discrepancy and the
    cut-off's context with their concern; back at 8 (and the therapist too), the context
    fires again, with no concern to join: outside any, not in the withdrawn one."""
    client, rating = discrepancy
    withdrawn = concern_of(client)
    client_rating = Rating.objects.get(session=rating.session, rater=Rating.Rater.CLIENT)
    _rates_client_as(client_rating, 10)
    assert evaluate_clients([client.pk]).signals_withdrawn == 2
    _rates_client_as(client_rating, 8)
    _rates_client_as(rating, 8)
    evaluate_clients([client.pk])
    context = Flag.objects.holding().get(session=rating.session, rule=Flag.Rule.BELOW_CUTOFF)
    assert context.concern is None
    assert context.grouped_at is not None
    withdrawn.refresh_from_db()
    assert withdrawn.status == Concern.Status.WITHDRAWN
    assert list(withdrawn.signals.holding()) == []


def test_an_evaluation_begun_before_the_signal_was_written_leaves_it_to_the_later_one(
    client_record: Client,
) -> None:
    """Two ratings evaluated at once, the later evaluation finishing first: the earlier one,
    which read the older history, neither withdraws what the later one wrote nor brings
    back what the later one withdrew."""
    now = timezone.now()
    sessions = history(client_record, [8, 8, 8, 8, 8])
    rating = therapist_rates(sessions[-1], 10)
    evaluate_clients([client_record.pk], now)
    _rates_client_as(rating, 8)
    earlier = now - dt.timedelta(seconds=1)
    assert evaluate_clients([client_record.pk], earlier).signals_withdrawn == 0
    assert concern_of(client_record).status == Concern.Status.OPEN
    later = now + dt.timedelta(seconds=1)
    assert evaluate_clients([client_record.pk], later).signals_withdrawn == 1
    _rates_client_as(rating, 10)
    evaluate_clients([client_record.pk], now)  # begun before the withdrawal
    signal = Flag.objects.get(client=client_record, rule=Flag.Rule.RATER_DISCREPANCY)
    assert signal.withdrawn_at == later  # and nothing new in its place
    evaluate_clients([client_record.pk], later + dt.timedelta(seconds=1))
    new = Flag.objects.holding().get(client=client_record, rule=Flag.Rule.RATER_DISCREPANCY)
    assert new != signal and new.concern == concern_of(client_record)


def test_a_rupture_later_reported_talked_through_lowers_the_concern(
    client_record: Client,
) -> None:
    """A rupture (high) and the therapist rating higher (medium) at the same session: the
    client's later answer that it was fully talked through leaves the medium signal."""
    sessions = history(client_record, [8, 8, 8, 8])
    last = week(client_record, 1, 8, rupture="a_lot", rupture_resolved="not_at_all")
    therapist_rates(last, 10)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    assert (concern.severity, concern.opening_rule) == ("high", Flag.Rule.RUPTURE_UNRESOLVED)
    Rating.objects.filter(session=last, rater=Rating.Rater.CLIENT).update(rupture_resolved="fully")
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    concern.refresh_from_db()
    assert concern.status == Concern.Status.OPEN and concern.severity == "medium"
    # The review is counted against what it stands on now (the precision page).
    assert concern.opening_rule == Flag.Rule.RATER_DISCREPANCY
    event = concern.events.get()
    assert event.action == ConcernEvent.Action.SIGNALS_WITHDRAWN and event.severity == "medium"
    assert event.evidence == {"signals": [[len(sessions) + 1, "rupture_unresolved"]]}
    # The story and the count tell only what still holds.
    (told,) = with_stories([concern], client_record.therapist)
    assert told.signal_count == 2  # the discrepancy and the cut-off's context
    assert "rupture" not in told.story.lower() and "rated session 5 higher" in told.story


def test_the_span_follows_the_signals_still_holding(client_record: Client) -> None:
    """A rupture at session 2 opens the concern; a discrepancy at 5 joins it. The rupture
    withdrawn, the concern covers session 5 alone."""
    first = week(client_record, 5, 9, rupture="a_lot", rupture_resolved="not_at_all")
    history(client_record, [9, 9, 9], start_weeks_ago=4)
    last = week(client_record, 1, 8)
    therapist_rates(last, 10)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    assert concern.first_session == first and concern.last_session == last
    Rating.objects.filter(session=first, rater=Rating.Rater.CLIENT).update(rupture_resolved="fully")
    evaluate_clients([client_record.pk])
    concern.refresh_from_db()
    assert concern.first_session == last and concern.last_session == last
    assert concern.severity == "medium"


def test_a_raised_concern_stays_raised_while_an_alliance_signal_holds(
    client_record: Client,
) -> None:
    """Once raised for the outcome, a concern is reviewed as raised (grouping's rule); a
    withdrawal works out the level from what holds and raises it again."""
    history(client_record, [8, 8, 8, 8])
    last = week(client_record, 1, 8, rupture="a_lot", rupture_resolved="not_at_all")
    therapist_rates(last, 10)
    evaluate_clients([client_record.pk])
    Concern.objects.filter(client=client_record).update(severity="high", raised_from="medium")
    Rating.objects.filter(session=last, rater=Rating.Rater.CLIENT).update(rupture_resolved="fully")
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    assert (concern.severity, concern.raised_from) == ("high", "medium")
    assert concern.events.get().severity == ""  # it did not fall


def test_a_closed_concerns_signals_stay_as_the_therapist_saw_them(
    discrepancy: tuple[Client, Rating], therapist: Any
) -> None:
    client, rating = discrepancy
    concern = concern_dismiss(
        concern=concern_of(client), actor=therapist, reason="Talked it through."
    )
    _rates_client_as(rating, 8)
    assert evaluate_clients([client.pk]).signals_withdrawn == 0
    signal = Flag.objects.get(client=client, rule=Flag.Rule.RATER_DISCREPANCY)
    assert signal.withdrawn_at is None and signal.concern == concern
    concern.refresh_from_db()
    assert (
        concern.status == Concern.Status.DISMISSED
        and not concern.events.exclude(action=ConcernEvent.Action.DISMISSED).exists()
    )


def test_context_outside_any_concern_is_withdrawn_too(client_record: Client) -> None:
    sessions = history(client_record, [8, 10, 10])
    evaluate_clients([client_record.pk])
    context = Flag.objects.get(client=client_record, rule=Flag.Rule.BELOW_CUTOFF)
    Rating.objects.filter(session=sessions[0]).update(**dict.fromkeys(DIMENSIONS, 10))
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    context.refresh_from_db()
    assert context.withdrawn_at is not None and context.concern is None
    assert not Concern.objects.exists()


def test_voiding_every_session_withdraws_the_clients_open_signals(
    client_record: Client, therapist: Any
) -> None:
    """A session logged for the wrong client, the only one: voided, nothing holds. The
    sweep, which takes up clients whose sessions changed, withdraws it."""
    only = week(client_record, 1, 8, rupture="a_lot", rupture_resolved="not_at_all")
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    sweep_run(timezone.now())
    session_void(actor=therapist, session=only, reason="Logged for the wrong client.")
    sweep_run(timezone.now() + dt.timedelta(minutes=1))
    concern.refresh_from_db()
    assert concern.status == Concern.Status.WITHDRAWN
    assert not Flag.objects.holding().filter(client=client_record).exists()
    assert Flag.objects.filter(client=client_record).count() == 2  # kept for the record


@pytest.mark.parametrize("chunked", [False, True], ids=["one pass", "in chunks"])
def test_the_sweep_records_how_many_signals_it_withdrew(
    discrepancy: tuple[Client, Rating], chunked: bool
) -> None:
    _client, rating = discrepancy
    sweep_run()
    Rating.objects.filter(pk=rating.pk).update(
        **dict.fromkeys(DIMENSIONS, 8), updated_at=timezone.now()
    )
    sweep = sweep_run(chunked=chunked)
    sweep.refresh_from_db()
    assert (sweep.clients_evaluated, sweep.signals_withdrawn) == (1, 1)
    assert sweep.finished_at is not None


def test_a_client_evaluated_alone_with_every_session_voided(
    client_record: Client, therapist: Any
) -> None:
    only = week(client_record, 1, 8, rupture="a_lot", rupture_resolved="not_at_all")
    evaluate_clients([client_record.pk])
    session_void(actor=therapist, session=only, reason="Logged for the wrong client.")
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 2
    assert Concern.objects.get(client=client_record).status == Concern.Status.WITHDRAWN


def test_nothing_withdrawn_costs_one_query(client_record: Client) -> None:
    """Detection reads the client's signals open to review once; with nothing to withdraw
    and nothing found it locks nothing."""
    history(client_record, [10, 10, 10])
    with CaptureQueriesContext(connection) as queries:
        evaluate_clients([client_record.pk])
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any("FOR UPDATE" in sql for sql in statements)
    assert sum('"withdrawn_at" IS NULL' in sql for sql in statements) == 1


def test_many_clients_are_read_in_chunks(client_record: Client) -> None:
    """The read of signals open to review splits a batch's clients as the other statements
    do (UPDATE_CHUNK), however many a sweep evaluates."""
    history(client_record, [8])
    evaluate_clients([client_record.pk])

    ids = [client_record.pk, *range(10**9, 10**9 + UPDATE_CHUNK)]
    with CaptureQueriesContext(connection) as queries:
        stored, _later = open_to_review(ids, timezone.now(), kept=())
        assert [s.client_id for s in stored] == [client_record.pk]
    # PostgreSQL takes the clients as one array; elsewhere UPDATE_CHUNK at a time.
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)


# --- Where a withdrawn concern shows, and where it does not count ----------------------


def test_a_withdrawn_concern_is_no_review_on_the_precision_page(
    discrepancy: tuple[Client, Rating], supervisor: Any
) -> None:
    client, rating = discrepancy
    _rates_client_as(rating, 8)
    evaluate_clients([client.pk])
    outcomes = review_outcomes(supervisor, period_of_days(30))
    assert outcomes["total"][0].closed == 0 and outcomes["rules"] == []


def test_the_therapist_cannot_review_a_withdrawn_concern(
    discrepancy: tuple[Client, Rating], therapist: Any
) -> None:
    client, rating = discrepancy
    concern = concern_of(client)
    _rates_client_as(rating, 8)
    evaluate_clients([client.pk])
    for review in (
        lambda: concern_acknowledge(concern=concern, actor=therapist),
        lambda: concern_resolve(concern=concern, actor=therapist, note="We talked."),
    ):
        with pytest.raises(ValidationError, match="Alliance has withdrawn this concern"):
            review()


def test_the_concern_page_says_what_was_withdrawn(
    discrepancy: tuple[Client, Rating], therapist: Any, client: Any
) -> None:
    record, rating = discrepancy
    concern = concern_of(record)
    _rates_client_as(rating, 8)
    evaluate_clients([record.pk])
    concern.refresh_from_db()
    page = concern_page(concern, therapist)
    assert [signal.rule for signal in page.signals] == ["rater_discrepancy"]
    assert "rated session 5 higher" in page.story  # what it was about
    client.force_login(therapist)
    html = client.get(reverse("measures:concern-detail", args=[concern.pk])).content.decode()
    assert "Alliance withdrew this concern on" in html
    assert "Nothing to review: Alliance withdrew this concern" in html
    assert "its rule no longer fires at this session" in html
    assert "Therapist rated higher than client at session 5" in html
    assert 'action="' + reverse("measures:concern-resolve", args=[concern.pk]) not in html
    page = client.get(record.get_absolute_url()).content.decode()
    assert "Withdrawn by Alliance" in page


# --- What the evaluation does not judge, or judged later --------------------------------


def test_switching_the_instrument_does_not_withdraw_a_not_on_track_concern(
    client_record: Client, therapist: Any
) -> None:

    for weeks_ago, score in [(3, 6), (2, 6), (1, 4.75)]:
        tracking.week(client_record, weeks_ago, score)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    assert concern.opening_rule == "not_on_track"
    own = own_instrument(therapist.clinic, in_use=False)
    instrument_use(
        clinic=therapist.clinic, instrument=own, actor=ClinicAdminFactory(clinic=therapist.clinic)
    )
    # The client's next rating (or the sweep) evaluates them again.
    outcome = evaluate_clients([client_record.pk])
    concern.refresh_from_db()
    # The client's answers did not change; nothing was corrected, voided or talked through.
    assert outcome.signals_withdrawn == 0
    assert concern.status == Concern.Status.OPEN


@pytest.fixture
def unrated(client_record: Client) -> tuple[Client, Session]:
    """Four attended sessions a week apart, the last 16 days ago, none rated by the client:
    disengagement raised at the fourth, opening a concern. Returns the fourth."""
    now = timezone.now()
    sessions = [
        SessionFactory(client=client_record, starts_at=now - dt.timedelta(days=days_ago))
        for days_ago in (37, 30, 23, 16)
    ]
    evaluate_clients([client_record.pk])
    assert concern_of(client_record).opening_rule == Flag.Rule.DISENGAGEMENT
    return client_record, sessions[-1]


def test_a_link_sent_late_keeps_the_signal_while_the_client_may_answer_it(
    unrated: tuple[Client, Session],
) -> None:
    """The therapist sends the fourth session a link after its window closed: the client
    may yet answer, which does not make the four unanswered forms untrue. Left unanswered
    until it expires, the signal and its concern are the same ones as before: no concern
    withdrawn and a new one opened for one fact."""
    client, fourth = unrated
    concern = concern_of(client)
    signal = Flag.objects.get(client=client, rule=Flag.Rule.DISENGAGEMENT)
    link, _token = invitation_create(session=fourth)
    assert evaluate_clients([client.pk]).signals_withdrawn == 0
    expired = link.expires_at + dt.timedelta(minutes=1)
    outcome = sweep_run(now=expired)
    assert outcome.clients_evaluated == 1  # the link's expiry takes the client up
    assert (outcome.signals_withdrawn, outcome.concerns_opened) == (0, 0)
    assert list(Flag.objects.filter(client=client, rule=Flag.Rule.DISENGAGEMENT)) == [signal]
    signal.refresh_from_db()
    assert signal.withdrawn_at is None
    assert concern_of(client) == concern and not concern.events.exists()


def test_the_clients_answer_to_a_link_sent_late_withdraws_what_it_makes_untrue(
    unrated: tuple[Client, Session],
) -> None:
    client, fourth = unrated
    concern = concern_of(client)
    invitation, _token = invitation_create(session=fourth)
    client_rating_submit(
        invitation=invitation, answers=CLIENT_ANSWERS, notice_version=1, notice_language="en"
    )
    assert evaluate_clients([client.pk]).signals_withdrawn == 1
    concern.refresh_from_db()
    assert concern.status == Concern.Status.WITHDRAWN
    assert Flag.objects.get(client=client, rule=Flag.Rule.DISENGAGEMENT).withdrawn_at


def test_a_rupture_only_the_therapist_noticed_stays_raised_while_a_late_link_is_open(
    client_record: Client,
) -> None:
    """Raised once the client's window closed unanswered; a link sent then gives the
    client their word, and only their answer (talked through fully) withdraws it."""
    session = rupture_only_the_therapist_noticed(client_record, days_ago=5)
    evaluate_clients([client_record.pk])
    signal = Flag.objects.get(client=client_record, rule=Flag.Rule.RUPTURE_UNRESOLVED)
    invitation, _token = invitation_create(session=session)
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 0
    signal.refresh_from_db()
    assert signal.withdrawn_at is None
    talked_through = {**CLIENT_ANSWERS, "rupture": "a_lot", "rupture_resolved": "fully"}
    client_rating_submit(
        invitation=invitation, answers=talked_through, notice_version=1, notice_language="en"
    )
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    signal.refresh_from_db()
    assert signal.withdrawn_at is not None


def _sessions(client: Client, *days_ago: float) -> list[Session]:
    now = timezone.now()
    return [SessionFactory(client=client, starts_at=now - dt.timedelta(days=d)) for d in days_ago]


def _disengagement_holding(client: Client) -> list[int]:
    return sorted(
        Flag.objects.holding()
        .filter(client=client, rule=Flag.Rule.DISENGAGEMENT)
        .values_list("session__number", flat=True)
    )


def test_a_late_link_in_a_run_of_five_raises_nothing_new_and_its_expiry_withdraws_nothing(
    client_record: Client,
) -> None:
    """Five attended sessions, none rated by the client: the signal is raised at the
    fourth. A link sent late for the fourth holds that session back, and the run of four
    would end a session later: no second signal for the same run while it is open, and
    nothing withdrawn when it expires."""
    sessions = _sessions(client_record, 37, 30, 23, 16, 9)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    assert _disengagement_holding(client_record) == [4]
    link, _token = invitation_create(session=sessions[3])
    evaluate_clients([client_record.pk])
    assert _disengagement_holding(client_record) == [4]
    outcome = sweep_run(now=link.expires_at + dt.timedelta(minutes=1))
    assert outcome.signals_withdrawn == 0 and _disengagement_holding(client_record) == [4]
    assert not concern.events.exists()


def test_resending_the_last_unanswered_form_as_the_next_sessions_window_closes(
    client_record: Client,
) -> None:
    """The everyday case of the above: four unanswered forms raised a concern at session
    4; session 5 was two days ago. Session 4's form is sent again today; session 5's window
    closes while that link is open, and then the link expires unanswered."""
    sessions = _sessions(client_record, 30, 23, 16, 9)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    _sessions(client_record, 2)
    link, _token = invitation_create(session=sessions[3])
    sweep_run(now=timezone.now() + dt.timedelta(days=3))  # session 5's window has closed
    assert _disengagement_holding(client_record) == [4]
    sweep_run(now=link.expires_at + dt.timedelta(minutes=1))
    assert _disengagement_holding(client_record) == [4]
    assert not concern.events.exists()


def test_a_late_link_after_the_concern_was_dismissed_opens_no_concern(
    client_record: Client, therapist: Any
) -> None:
    """Four unanswered forms raised a concern, which the therapist dismissed; the fifth
    session's form went unanswered too. A link sent late for the fourth is no new fact: no
    concern opens for it, to be withdrawn by Alliance when the link expires unanswered."""
    sessions = _sessions(client_record, 37, 30, 23, 16)
    evaluate_clients([client_record.pk])
    concern_dismiss(concern=concern_of(client_record), actor=therapist, reason="On holiday.")
    _sessions(client_record, 9)
    evaluate_clients([client_record.pk])
    link, _token = invitation_create(session=sessions[3])
    assert evaluate_clients([client_record.pk]).concerns_opened == 0
    outcome = sweep_run(now=link.expires_at + dt.timedelta(minutes=1))
    assert outcome.signals_withdrawn == 0
    statuses = list(Concern.objects.filter(client=client_record).values_list("status", flat=True))
    assert statuses == [Concern.Status.DISMISSED]


def test_a_signal_held_by_a_late_link_follows_the_therapists_corrected_rating(
    client_record: Client, therapist: Any
) -> None:
    """Rated by the therapist five days on: a rupture of "a lot", not talked through,
    raised at once (the client's window has closed). They send the client a link, then
    correct their own rating: "a little", partly talked through. The signal's numbers
    follow the ratings while it is open to review, link or not: now context (low)."""
    from measures.rules import LOW
    from measures.services import rating_submit, rating_update

    session = _sessions(client_record, 5)[0]
    noticed = {**CLIENT_ANSWERS, "rupture": "a_lot", "rupture_resolved": "not_at_all"}
    rating = rating_submit(
        session=session, rater="therapist", answers=noticed, submitted_by=therapist
    )
    evaluate_clients([client_record.pk])
    assert concern_of(client_record).severity == "high"
    invitation_create(session=session)
    evaluate_clients([client_record.pk])
    corrected = {**CLIENT_ANSWERS, "rupture": "a_little", "rupture_resolved": "partly"}
    rating_update(rating=rating, actor=therapist, answers=corrected)
    evaluate_clients([client_record.pk])
    signal = Flag.objects.holding().get(client=client_record, rule=Flag.Rule.RUPTURE_UNRESOLVED)
    assert (signal.severity, signal.evidence["therapist"]["rupture"]) == (LOW, "a_little")


def test_a_therapists_correction_to_a_rupture_held_by_a_late_link_opens_no_concern(
    client_record: Client, therapist: Any
) -> None:
    """Five days on, the therapist notes a small rupture, partly talked through: context
    (low), outside any concern. They send the client a link, then correct their rating to
    "a lot", not talked through. Given so with the link open, it would wait for the
    client's answer; it waits here too: the stored context is not turned high to open a
    concern while the client may still say it was talked through. At the link's expiry
    it rises and opens one."""
    from measures.services import rating_submit, rating_update

    session = _sessions(client_record, 5)[0]
    small = {**CLIENT_ANSWERS, "rupture": "a_little", "rupture_resolved": "partly"}
    rating = rating_submit(
        session=session, rater="therapist", answers=small, submitted_by=therapist
    )
    evaluate_clients([client_record.pk])
    signal = Flag.objects.holding().get(client=client_record, rule=Flag.Rule.RUPTURE_UNRESOLVED)
    assert (signal.severity, signal.concern_id) == ("low", None)
    link, _token = invitation_create(session=session)
    big = {**CLIENT_ANSWERS, "rupture": "a_lot", "rupture_resolved": "not_at_all"}
    rating_update(rating=rating, actor=therapist, answers=big)
    assert evaluate_clients([client_record.pk]).concerns_opened == 0
    assert not Concern.objects.filter(client=client_record).exists()
    signal.refresh_from_db()
    assert signal.severity == "low" and signal.withdrawn_at is None
    outcome = sweep_run(now=link.expires_at + dt.timedelta(minutes=1))
    assert outcome.concerns_opened == 1
    assert concern_of(client_record).severity == "high"


def test_a_lowered_concern_of_a_client_still_off_track_stays_raised(
    client_record: Client,
) -> None:
    """Dimension drop (medium) at 6 opens a medium concern while on track; at 7 a rupture
    (high) joins as the client goes off track (high has nothing to raise to). The rupture
    later reported fully talked through: what holds is the dimension drop and the client
    off track, which grouping raises to high (from medium)."""
    for weeks_ago in (8, 7, 6, 5, 4):
        tracking.week(client_record, weeks_ago, 6, 10)
    tracking.week(client_record, 3, 6, 10, trust=6)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    assert (concern.severity, concern.raised_from) == ("medium", "")
    last = tracking.week(client_record, 1, 4, 10, rupture="a_lot", rupture_resolved="not_at_all")
    evaluate_clients([client_record.pk])
    concern.refresh_from_db()
    assert concern.severity == "high"
    assert Flag.objects.filter(concern=concern, rule="not_on_track").exists()
    Rating.objects.filter(session=last, rater=Rating.Rater.CLIENT).update(rupture_resolved="fully")
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    concern.refresh_from_db()
    # As grouping would set it from what holds: alliance medium, client not on track.
    assert (concern.severity, concern.raised_from) == ("high", "medium")


def test_a_revived_signal_stays_in_the_dismissed_concerns_record(
    client_record: Client, therapist: Any
) -> None:
    history(client_record, [8, 8, 8, 8])
    last = week(client_record, 1, 8, rupture="a_lot", rupture_resolved="not_at_all")
    therapist_rates(last, 10)
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    rupture = Flag.objects.get(client=client_record, rule="rupture_unresolved")
    assert rupture.concern_id == concern.pk
    client_rating = Rating.objects.filter(session=last, rater=Rating.Rater.CLIENT)
    client_rating.update(rupture_resolved="fully")
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    concern = concern_dismiss(concern=concern_of(client_record), actor=therapist, reason="Fine.")
    before = sorted(Flag.objects.filter(concern=concern).values_list("pk", flat=True))
    assert rupture.pk in before
    client_rating.update(rupture_resolved="not_at_all")
    evaluate_clients([client_record.pk])
    # The dismissed concern's signals are the record of what the therapist reviewed.
    after = sorted(Flag.objects.filter(concern=concern).values_list("pk", flat=True))
    assert after == before


def _fires_again(record: Client, rating: Rating) -> None:
    """The therapist's rating corrected to the client's (the discrepancy withdrawn with its
    concern), then back to 10 (a new signal)."""
    _rates_client_as(rating, 8)
    evaluate_clients([record.pk])
    _rates_client_as(rating, 10)
    evaluate_clients([record.pk])


def test_a_withdrawn_concern_still_shows_what_it_was_about_after_its_signal_fires_again(
    discrepancy: tuple[Client, Rating], therapist: Any, client: Any
) -> None:
    record, rating = discrepancy
    withdrawn = concern_of(record)
    _fires_again(record, rating)
    withdrawn.refresh_from_db()
    assert withdrawn.status == Concern.Status.WITHDRAWN
    page = concern_page(withdrawn, therapist)
    client.force_login(therapist)
    html = client.get(reverse("measures:concern-detail", args=[withdrawn.pk])).content.decode()
    # README: "Its page says so and shows what it was about".
    assert [signal.rule for signal in page.signals] == ["rater_discrepancy"]
    assert "Therapist rated higher than client at session 5" in html


def test_an_earlier_evaluation_does_not_bring_back_a_signal_a_later_one_withdrew(
    client_record: Client,
) -> None:
    """README: "The one begun earlier read the older history, so it neither withdraws a
    signal written by the one begun later nor brings back one that the later one
    withdrew." Session 1 at 8 (context: below the cut-off, outside any concern); the later
    evaluation (the rating corrected to 10) withdraws it; the earlier one, which read the
    rating at 7 in between, finishes last."""
    now = timezone.now()
    sessions = history(client_record, [8, 10, 10])
    evaluate_clients([client_record.pk], now)
    first = Rating.objects.filter(session=sessions[0], rater=Rating.Rater.CLIENT)
    first.update(**dict.fromkeys(DIMENSIONS, 10))
    later = now + dt.timedelta(seconds=2)
    assert evaluate_clients([client_record.pk], later).signals_withdrawn == 1
    first.update(**dict.fromkeys(DIMENSIONS, 7))  # what the earlier evaluation read
    evaluate_clients([client_record.pk], now + dt.timedelta(seconds=1))
    signal = Flag.objects.get(client=client_record, rule=Flag.Rule.BELOW_CUTOFF)
    assert signal.withdrawn_at == later


def test_a_signal_committed_while_waiting_for_the_lock_is_judged_under_it(
    client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ratings a moment apart: E1 (begun earlier, the therapist's 10 at session 3)
    holds the client's lock while it stores the discrepancy; E2 (begun later, the rating
    corrected to 8) has read the client's signals before the lock and waits. E1 commits;
    E2 takes the lock. E2 read the newer history, in which nothing fires at session 3 but
    the cut-off's context: the discrepancy E1 wrote should not hold."""
    from measures import findings_store

    sessions = history(client_record, [8, 8, 8])
    rating = therapist_rates(sessions[-1], 8)  # as corrected: no discrepancy
    now = timezone.now()
    real_lock = findings_store.lock_clients

    def e1_commits_then_lock(client_ids: list[int]) -> dict[int, int]:
        if not Flag.objects.filter(rule=Flag.Rule.RATER_DISCREPANCY).exists():
            earlier = now - dt.timedelta(seconds=1)
            Flag.objects.create(
                client=client_record,
                session=rating.session,
                rule=Flag.Rule.RATER_DISCREPANCY,
                severity="medium",
                evidence={"difference": 2.0},
                created_at=earlier,
                grouped_at=earlier,
            )
        return real_lock(client_ids)

    monkeypatch.setattr(findings_store, "lock_clients", e1_commits_then_lock)
    evaluate_clients([client_record.pk], now)
    signal = Flag.objects.get(rule=Flag.Rule.RATER_DISCREPANCY)
    assert signal.withdrawn_at is not None


def test_a_concern_left_with_only_the_reviewed_stretch_again_is_withdrawn(
    client_record: Client, therapist: Any
) -> None:
    """Session 5: the therapist rates higher than the client (8): a concern, dismissed.
    Session 6: a rupture opens a new concern; the same discrepancy at 6 joins it. The
    rupture later reported talked through: what holds is the discrepancy at the same level
    as the stretch already reviewed, which alone grouping places outside any concern."""
    sessions = history(client_record, [8, 8, 8, 8, 8], start_weeks_ago=6)
    therapist_rates(sessions[-1], 10)
    evaluate_clients([client_record.pk])
    concern_dismiss(concern=concern_of(client_record), actor=therapist, reason="Known.")
    last = week(client_record, 1, 8, rupture="a_lot", rupture_resolved="not_at_all")
    therapist_rates(last, 10)
    evaluate_clients([client_record.pk])
    second = concern_of(client_record)
    assert second.opening_rule == "rupture_unresolved"
    assert Flag.objects.filter(concern=second, rule="rater_discrepancy").exists()
    Rating.objects.filter(session=last, rater=Rating.Rater.CLIENT).update(rupture_resolved="fully")
    evaluate_clients([client_record.pk])
    second.refresh_from_db()
    assert second.status == Concern.Status.WITHDRAWN, (second.status, second.severity)


def test_a_concern_reopened_because_its_repair_did_not_hold_stays_open(
    discrepancy: tuple[Client, Rating],
) -> None:
    """Re-opened by the follow-up of its repair, not by its signals: withdrawing them leaves
    it open for that review, with the withdrawal in its history."""
    client, rating = discrepancy
    concern = concern_of(client)
    Concern.objects.filter(pk=concern.pk).update(recovery=Concern.Recovery.NOT_RECOVERED)
    _rates_client_as(rating, 8)
    assert evaluate_clients([client.pk]).signals_withdrawn == 1
    concern.refresh_from_db()
    assert concern.status == Concern.Status.OPEN
    assert concern.events.get().action == ConcernEvent.Action.SIGNALS_WITHDRAWN


def test_regrouping_places_outside_what_grouping_would_have(client_record: Client) -> None:
    """Discrepancy at 5 opens the concern; the cut-off's context at 5 joins it. A rupture at
    6 joins. The discrepancy withdrawn: had it never existed, the context at 5 would stand
    outside (no concern open then) and the rupture would open the concern at 6."""
    sessions = history(client_record, [8, 8, 8, 8, 8])
    rating = therapist_rates(sessions[-1], 10)
    evaluate_clients([client_record.pk])
    sixth = week(client_record, 1, 8, rupture="a_lot", rupture_resolved="not_at_all")
    evaluate_clients([client_record.pk])
    concern = concern_of(client_record)
    context5 = Flag.objects.get(session=sessions[-1], rule=Flag.Rule.BELOW_CUTOFF)
    assert context5.concern_id == concern.pk
    _rates_client_as(rating, 8)
    assert evaluate_clients([client_record.pk]).signals_withdrawn == 1
    concern.refresh_from_db()
    assert concern.status == Concern.Status.OPEN
    assert concern.opening_rule == Flag.Rule.RUPTURE_UNRESOLVED
    context5.refresh_from_db()
    # As grouping would have placed them:
    assert (concern.first_session_id, context5.concern_id) == (sixth.pk, None)


def test_the_export_summary_tells_a_withdrawn_signal_from_the_one_holding(
    discrepancy: tuple[Client, Rating], clinic_admin: Any
) -> None:
    record, rating = discrepancy
    _fires_again(record, rating)
    assert Flag.objects.filter(rule=Flag.Rule.RATER_DISCREPANCY).count() == 2
    document = client_export(actor=clinic_admin, client=record)
    html = client_summary_html(document)
    lines = [line for line in html.splitlines() if "Session 5: Therapist rated higher" in line]
    assert len(lines) == 2
    assert any("withdrawn" in line.lower() for line in lines), lines


def test_a_note_typed_for_a_concern_withdrawn_meanwhile_is_kept(
    discrepancy: tuple[Client, Rating], therapist: Any, client: Any
) -> None:
    record, rating = discrepancy
    concern = concern_of(record)
    client.force_login(therapist)
    client.get(reverse("measures:concern-detail", args=[concern.pk]))
    _rates_client_as(rating, 8)
    evaluate_clients([record.pk])  # withdrawn while the form is open
    note = "We spent twenty minutes on what felt off last time; agreed a new goal."
    response = client.post(reverse("measures:concern-resolve", args=[concern.pk]), {"note": note})
    html = response.content.decode()
    assert "Alliance has withdrawn this concern" in html
    assert note in html  # what the therapist wrote is not thrown away


def test_new_thresholds_withdraw_an_open_concern_they_would_not_raise(
    discrepancy: tuple[Client, Rating],
) -> None:
    """As README says (and the Thresholds page beside its button): a concern still open
    follows the client's next evaluation under the clinic's new thresholds."""
    record, _rating = discrepancy
    concern = concern_of(record)
    ClinicThresholds.objects.create(clinic=record.clinic, discrepancy=3.0)
    assert evaluate_clients([record.pk]).signals_withdrawn == 1
    concern.refresh_from_db()
    assert concern.status == Concern.Status.WITHDRAWN


def test_the_catch_up_judges_a_clinic_again_once_its_thresholds_change(
    discrepancy: tuple[Client, Rating], settings: Any
) -> None:
    """A client who rates no more (one who has stopped coming) has no next rating to be
    evaluated after: the catch-up takes up the clinic's new thresholds, so a concern they
    would not raise leaves the queue, as the Thresholds page says beside its button."""
    settings.ALLIANCE_SWEEP_OVERLAP_SECONDS = 0  # the look-back is tested in test_detection
    record, _rating = discrepancy
    concern = concern_of(record)
    discharged = ClientFactory(therapist=record.therapist)
    history(discharged, [9, 9, 9])
    Client.objects.filter(pk=discharged.pk).update(
        status=Client.Status.DISCHARGED, discharged_at=timezone.now()
    )
    sweep_run(refresh_courses=False)
    assert sweep_run(refresh_courses=False).clients_evaluated == 0  # nothing changed
    proposal = Calibration.objects.create(
        clinic=record.clinic, result={"enough_data": True, "proposed": {"discrepancy": 3.0}}
    )
    thresholds_apply(calibration=proposal, actor=ClinicAdminFactory(clinic=record.clinic))
    catch_up = sweep_run(refresh_courses=False)
    # The client in therapy; not the one discharged, whom nobody will see again.
    assert (catch_up.clients_evaluated, catch_up.signals_withdrawn) == (1, 1)
    concern.refresh_from_db()
    assert concern.status == Concern.Status.WITHDRAWN
    assert sweep_run(refresh_courses=False).clients_evaluated == 0  # judged once
