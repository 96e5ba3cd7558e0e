"""Submitting a rating: the clinical input, and everything refused."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from clients.models import AuditAction, AuditEntry, Client, User
from measures import services
from measures.models import Rating
from measures.services import rating_submit, rating_update
from measures.tests.factories import erased
from measures.tests.racing import PAUSE_SECONDS, errors_kept, on_a_connection_of_its_own
from sessions.models import Session
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

ANSWERS = {
    "trust": 9,
    "empathy": 8,
    "collaboration": 9,
    "boundaries": "10",
    "growth": 7,
    "respect": 10,
    "rupture": "none",
    "comment": "  Helpful today.  ",
}


@pytest.fixture
def session(client_record: Any) -> Session:
    return SessionFactory(client=client_record)


def test_a_client_rating_is_stored_with_its_score(session: Session) -> None:
    rating = rating_submit(session=session, rater="client", answers=ANSWERS)
    rating.refresh_from_db()
    assert rating.dimension_scores == {
        "trust": 9,
        "empathy": 8,
        "collaboration": 9,
        "boundaries": 10,
        "growth": 7,
        "respect": 10,
    }
    assert str(rating.alliance_score) == "8.8"
    assert (rating.comment, rating.submitted_by) == ("Helpful today.", None)


def test_the_therapist_rates_their_own_session(session: Session, therapist: User) -> None:
    rating = rating_submit(
        session=session, rater="therapist", answers=ANSWERS, submitted_by=therapist
    )
    assert rating.submitted_by == therapist


def test_only_the_sessions_therapist_rates_as_therapist(
    session: Session, colleague: User, supervisor: User
) -> None:
    for someone in (colleague, supervisor, None):
        with pytest.raises(PermissionDenied):
            rating_submit(session=session, rater="therapist", answers=ANSWERS, submitted_by=someone)
    assert not Rating.objects.exists()


def test_a_therapist_no_longer_treating_the_client_does_not_rate_their_session(
    session: Session, therapist: User, colleague: User, clinic_admin: User
) -> None:
    from clients.moves import client_move

    client_move(
        actor=clinic_admin,
        client=session.client,
        therapist=colleague,
        from_therapist_id=therapist.pk,
    )
    with pytest.raises(PermissionDenied):
        rating_submit(session=session, rater="therapist", answers=ANSWERS, submitted_by=therapist)
    assert not Rating.objects.exists()


@pytest.mark.parametrize("value", [-1, 11, "ten", "9.5", True, None, ""])
def test_a_score_outside_0_to_10_is_refused_with_a_clear_message(
    session: Session, value: Any
) -> None:
    with pytest.raises(ValidationError) as error:
        rating_submit(session=session, rater="client", answers={**ANSWERS, "trust": value})
    assert "trust" in error.value.message_dict
    assert not Rating.objects.exists()


def test_every_dimension_must_be_answered(session: Session) -> None:
    answers = {key: value for key, value in ANSWERS.items() if key not in ("growth", "respect")}
    with pytest.raises(ValidationError) as error:
        rating_submit(session=session, rater="client", answers=answers)
    assert set(error.value.message_dict) == {"growth", "respect"}


def test_a_second_rating_by_the_same_rater_is_refused(session: Session) -> None:
    rating_submit(session=session, rater="client", answers=ANSWERS)
    with pytest.raises(ValidationError, match="already been rated by this rater"):
        rating_submit(session=session, rater="client", answers={**ANSWERS, "trust": 2})
    assert Rating.objects.get().trust == 9


def test_a_missed_session_cannot_be_rated(client_record: Any) -> None:
    session = SessionFactory(client=client_record, attendance=Session.Attendance.NO_SHOW)
    with pytest.raises(ValidationError, match="Only an attended session"):
        rating_submit(session=session, rater="client", answers=ANSWERS)


def test_a_client_who_reports_a_rupture_says_whether_it_was_talked_through(
    session: Session,
) -> None:
    with pytest.raises(ValidationError) as error:
        rating_submit(session=session, rater="client", answers={**ANSWERS, "rupture": "a_lot"})
    assert "rupture_resolved" in error.value.message_dict
    rating = rating_submit(
        session=session,
        rater="client",
        answers={**ANSWERS, "rupture": "a_lot", "rupture_resolved": "partly"},
    )
    assert (rating.rupture, rating.rupture_resolved) == ("a_lot", "partly")


def test_a_stray_talked_through_answer_without_a_rupture_is_dropped(session: Session) -> None:
    rating = rating_submit(
        session=session, rater="client", answers={**ANSWERS, "rupture_resolved": "fully"}
    )
    assert rating.rupture_resolved == ""


def test_an_unknown_rupture_answer_is_refused(session: Session) -> None:
    with pytest.raises(ValidationError) as error:
        rating_submit(session=session, rater="client", answers={**ANSWERS, "rupture": "some"})
    assert "rupture" in error.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_simultaneous_submissions_store_exactly_one_rating(
    postgresql: None, client_record: Any
) -> None:
    """A double click or two tabs: the database keeps one, the others get a clear refusal."""
    session = SessionFactory(client=client_record)
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def submit() -> None:
        try:
            barrier.wait()
            rating_submit(session=session, rater="client", answers=ANSWERS)
            outcomes.append("stored")
        except ValidationError as error:
            outcomes.append(" ".join(error.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("stored") == 1
    assert all("already been rated" in outcome for outcome in outcomes if outcome != "stored")
    assert Rating.objects.filter(session=session).count() == 1


def test_a_therapist_revises_their_own_rating_within_the_window(
    session: Session, therapist: User
) -> None:
    rating = rating_submit(
        session=session, rater="therapist", answers=ANSWERS, submitted_by=therapist
    )
    rating_update(rating=rating, actor=therapist, answers={**ANSWERS, "trust": 3})
    rating.refresh_from_db()
    assert rating.trust == 3 and rating.updated_at > rating.submitted_at


def test_a_rating_is_locked_after_the_window(
    session: Session, therapist: User, settings: Any
) -> None:
    settings.ALLIANCE_THERAPIST_RATING_EDIT_HOURS = 2
    rating = rating_submit(
        session=session, rater="therapist", answers=ANSWERS, submitted_by=therapist
    )
    Rating.objects.filter(pk=rating.pk).update(
        submitted_at=timezone.now() - dt.timedelta(hours=2, seconds=1)
    )
    rating.refresh_from_db()
    with pytest.raises(PermissionDenied, match="locked"):
        rating_update(rating=rating, actor=therapist, answers={**ANSWERS, "trust": 3})
    rating.refresh_from_db()
    assert rating.trust == 9


def test_nobody_revises_a_client_rating_or_someone_elses(
    session: Session, therapist: User, colleague: User
) -> None:
    client_rating = rating_submit(session=session, rater="client", answers=ANSWERS)
    with pytest.raises(PermissionDenied):
        rating_update(rating=client_rating, actor=therapist, answers=ANSWERS)
    own = rating_submit(session=session, rater="therapist", answers=ANSWERS, submitted_by=therapist)
    with pytest.raises(PermissionDenied):
        rating_update(rating=own, actor=colleague, answers={**ANSWERS, "trust": 1})


def test_an_erased_clients_session_takes_no_therapist_rating_and_its_comment(
    client_record: Any, therapist: User, clinic_admin: User
) -> None:
    session = SessionFactory(client=client_record)
    erased(client_record, by=clinic_admin)
    with pytest.raises(ValidationError, match="erased"):
        rating_submit(
            session=Session.objects.get(pk=session.pk),
            rater=Rating.Rater.THERAPIST,
            submitted_by=therapist,
            answers=ANSWERS,
        )
    assert not Rating.objects.filter(session=session).exists()


# --- A rating given or revised while something else changes the session ---------------


def paused_before_the_answers_are_read(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The therapist's rating or revision, once its checks have passed, pauses once (the
    event is set then) so that another writer goes first."""
    real = services._rating_from_answers
    reached = threading.Event()

    def pause(*args: Any) -> Any:
        if not reached.is_set():
            reached.set()
            time.sleep(PAUSE_SECONDS)
        return real(*args)

    monkeypatch.setattr(services, "_rating_from_answers", pause)
    return reached


def given_by(therapist: User, session: Session) -> Rating:
    return rating_submit(
        session=session, rater=Rating.Rater.THERAPIST, answers=ANSWERS, submitted_by=therapist
    )


def read(rating: Rating) -> Rating:
    """The rating as a request reads it before revising it."""
    return Rating.objects.select_related("session__client").get(pk=rating.pk)


def in_a_thread_while(
    work: Any, reached: threading.Event, other: Any, problems: list[Exception]
) -> None:
    """`work` on a connection of its own; `other` (here) once it has paused."""
    thread = on_a_connection_of_its_own(errors_kept(work, problems))
    try:
        assert reached.wait(10)
        other()
    finally:
        thread.join()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("revising", [False, True], ids=["giving", "revising"])
def test_a_rating_given_or_revised_as_the_session_is_voided_comes_before_the_void(
    postgresql: None,
    session: Session,
    therapist: User,
    monkeypatch: pytest.MonkeyPatch,
    revising: bool,
) -> None:
    """A voided session is kept as it was: the rating under way is stored first and the
    void waits for it (or the rating finds the session voided and is refused), never the
    rating after the void."""
    from sessions.services import session_void

    rating = given_by(therapist, session) if revising else None
    reached = paused_before_the_answers_are_read(monkeypatch)
    problems: list[Exception] = []

    def rate() -> None:
        if rating is not None:
            rating_update(rating=read(rating), actor=therapist, answers={**ANSWERS, "trust": 3})
        else:
            given_by(therapist, Session.objects.select_related("client").get(pk=session.pk))

    def void() -> None:
        session_void(actor=therapist, session=session, reason="Logged in error")

    in_a_thread_while(rate, reached, void, problems)
    assert problems == []
    session.refresh_from_db()
    stored = Rating.objects.get(session=session, rater=Rating.Rater.THERAPIST)
    assert max(stored.submitted_at, stored.updated_at) < session.voided_at


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("revising", [False, True], ids=["giving", "revising"])
def test_a_note_written_as_the_client_is_erased_is_erased_with_the_rest(
    postgresql: None,
    session: Session,
    therapist: User,
    clinic_admin: User,
    monkeypatch: pytest.MonkeyPatch,
    revising: bool,
) -> None:
    """The erasure waits for a rating under way and erases its note; stored after the
    erasure, the note stayed on the record for ever."""
    from measures.rights import client_erase

    rating = given_by(therapist, session) if revising else None
    Client.objects.filter(pk=session.client_id).update(status=Client.Status.DISCHARGED)
    reached = paused_before_the_answers_are_read(monkeypatch)
    problems: list[Exception] = []
    written = {**ANSWERS, "comment": "Tense about the fees."}

    def rate() -> None:
        if rating is not None:
            rating_update(rating=read(rating), actor=therapist, answers=written)
        else:
            rating_submit(
                session=Session.objects.select_related("client").get(pk=session.pk),
                rater=Rating.Rater.THERAPIST,
                answers=written,
                submitted_by=therapist,
            )

    def erase() -> None:
        client_erase(actor=clinic_admin, client=Client.objects.get(pk=session.client_id))

    in_a_thread_while(rate, reached, erase, problems)
    assert problems == []
    assert Client.objects.get(pk=session.client_id).is_erased
    assert not Rating.objects.filter(session=session).exclude(comment="").exists()


@pytest.mark.django_db(transaction=True)
def test_two_revisions_at_once_each_record_every_field_they_changed(
    postgresql: None, session: Session, therapist: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tabs revise the rating as it was (trust 9, empathy 8): one lowers trust, the
    other empathy. The one saved last puts back the other's field too; its audit entry
    must say so, or the trail shows a change the rating no longer holds and none undoing
    it."""
    rating = given_by(therapist, session)
    first_tab, second_tab = read(rating), read(rating)
    reached = paused_before_the_answers_are_read(monkeypatch)
    problems: list[Exception] = []

    def lower_trust() -> None:
        rating_update(rating=first_tab, actor=therapist, answers={**ANSWERS, "trust": 3})

    def lower_empathy() -> None:
        rating_update(rating=second_tab, actor=therapist, answers={**ANSWERS, "empathy": 2})

    in_a_thread_while(lower_trust, reached, lower_empathy, problems)
    assert problems == []
    revisions = AuditEntry.objects.filter(
        model="measures.rating", action=AuditAction.CHANGED
    ).order_by("pk")
    assert [sorted(entry.fields) for entry in revisions][-1] == ["empathy", "trust"]
