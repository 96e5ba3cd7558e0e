"""Each session carries copies of its ratings' two numbers for the team's pages
(Session.client_score, guessed_client_score): written by every rating saved, never lost to
a session saved from an older copy, and filled in bulk after a bulk insert."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from clients.models import Client, User
from clients.tests.factories import ClientFactory
from measures.detection import evaluate_clients
from measures.models import Rating, copy_ratings_to_sessions, sessions_with_stale_copies
from measures.services import client_rating_submit, rating_submit, rating_update
from measures.tests.factories import RatingFactory
from measures.tests.test_therapist_guess import ANSWERS
from sessions.invitations import invitation_create
from sessions.models import Session
from sessions.services import session_update
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

# (9 + 8 + 9 + 10 + 7 + 10) / 6 = 8.83…
SCORE = Decimal("8.8")


def copies(session: Session) -> tuple[Decimal | None, int | None]:
    session = Session.objects.get(pk=session.pk)
    return session.client_score, session.guessed_client_score


def test_the_clients_answer_through_their_link_writes_their_score_on_the_session(
    client_record: Client,
) -> None:
    session = SessionFactory(client=client_record)
    assert copies(session) == (None, None)
    invitation, _token = invitation_create(session=session)
    rating = client_rating_submit(
        invitation=invitation, answers=ANSWERS, notice_version=1, notice_language="en"
    )
    assert rating.alliance_score == SCORE
    assert copies(session) == (SCORE, None)


def test_the_therapists_guess_is_copied_and_follows_their_revisions(
    therapist: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    rating = rating_submit(
        session=session,
        rater=Rating.Rater.THERAPIST,
        answers={**ANSWERS, "guessed_client_score": "7"},
        submitted_by=therapist,
    )
    assert copies(session) == (None, 7)
    rating_update(rating=rating, actor=therapist, answers={**ANSWERS, "guessed_client_score": "9"})
    assert copies(session) == (None, 9)
    # The therapist's own scores are not the client's: they never reach client_score.
    rating_update(rating=rating, actor=therapist, answers=ANSWERS)  # the guess taken back
    assert copies(session) == (None, None)


def test_a_session_saved_from_a_copy_read_before_the_rating_keeps_the_score(
    therapist: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record)
    read_earlier = Session.objects.get(pk=session.pk)
    RatingFactory(session=session, **dict.fromkeys(("trust", "empathy"), 3))
    RatingFactory(session=session, rater=Rating.Rater.THERAPIST, guessed_client_score=4)
    read_earlier.duration_minutes = 45
    read_earlier.save()
    assert copies(session) == (Decimal("7.0"), 4)  # (3 + 3 + 9 × 4) / 6
    session_update(
        actor=therapist,
        session=read_earlier,
        starts_at=read_earlier.starts_at,
        duration_minutes=60,
        attendance=read_earlier.attendance,
        modality=read_earlier.modality,
        notes="Talked about the move.",
    )
    assert copies(session) == (Decimal("7.0"), 4)
    assert Session.objects.get(pk=session.pk).duration_minutes == 60


def test_the_copy_in_hand_is_updated_too(client_record: Client) -> None:
    session = SessionFactory(client=client_record)
    rating = RatingFactory(session=session)
    assert rating.session.client_score == Decimal("9.0")


def test_ratings_inserted_in_bulk_are_copied_in_one_statement(
    client_record: Client, django_assert_num_queries: object
) -> None:
    sessions = [SessionFactory(client=client_record) for _ in range(3)]
    Rating.objects.bulk_create(
        [
            Rating(session=sessions[0], rater="client", trust=2, empathy=3, collaboration=4,
                   boundaries=5, growth=6, respect=7),
            Rating(session=sessions[1], rater="therapist", trust=9, empathy=9, collaboration=9,
                   boundaries=9, growth=9, respect=9, guessed_client_score=6),
        ]
    )  # fmt: skip
    assert [copies(s) for s in sessions] == [(None, None)] * 3  # bulk_create skips save()
    with django_assert_num_queries(1):  # type: ignore[operator]
        copy_ratings_to_sessions(Session.objects.filter(client=client_record))
    assert [copies(s) for s in sessions] == [(Decimal("4.5"), None), (None, 6), (None, None)]


def rating_copies(*args: str) -> str:
    out = io.StringIO()
    call_command("rating_copies", *args, stdout=out)
    return out.getvalue()


def test_the_check_finds_copies_written_past_the_models_and_repairs_them(
    client_record: Client,
) -> None:
    rated, guessed, unrated = (SessionFactory(client=client_record) for _ in range(3))
    RatingFactory(session=rated)  # 9.0
    RatingFactory(session=guessed, rater=Rating.Rater.THERAPIST, guessed_client_score=6)
    assert "Every session's copies agree" in rating_copies()
    # A hand-made SQL fix: a score changed, a guess lost, a score where no client answered.
    Session.objects.filter(pk=rated.pk).update(client_score=Decimal("4.0"))
    Session.objects.filter(pk=guessed.pk).update(guessed_client_score=None)
    Session.objects.filter(pk=unrated.pk).update(client_score=Decimal("5.0"))
    assert sessions_with_stale_copies(Session.objects.all()).count() == 3
    with pytest.raises(CommandError, match="3 session"):
        rating_copies()
    assert "copies of 3 session" in rating_copies("--repair")
    assert [copies(s) for s in (rated, guessed, unrated)] == [
        (Decimal("9.0"), None),
        (None, 6),
        (None, None),
    ]
    assert "Every session's copies agree" in rating_copies()


def test_the_repair_writes_the_clients_latest_score_again(client_record: Client) -> None:
    """The dashboard reads the client's copy of their latest score, which detection wrote
    from the session's wrong copy; no sweep would look at the client again."""
    rated = SessionFactory(client=client_record)
    RatingFactory(session=rated)  # 9.0
    Session.objects.filter(pk=rated.pk).update(client_score=Decimal("4.0"))  # by hand
    evaluate_clients([client_record.pk])
    client_record.refresh_from_db()
    assert client_record.evaluated_score == Decimal("4.0")
    rating_copies("--repair")
    client_record.refresh_from_db()
    assert client_record.evaluated_score == Decimal("9.0")


def test_the_check_goes_a_slice_at_a_time_and_shows_its_progress(
    client_record: Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from measures.management.commands import rating_copies as command

    monkeypatch.setattr(command, "SLICE", 2)
    sessions = [SessionFactory(client=client_record) for _ in range(5)]
    for session in sessions:
        RatingFactory(session=session)  # 9.0
    stale = [sessions[0], sessions[3], sessions[4]]  # in the first slice, the second, the last
    Session.objects.filter(pk__in=[s.pk for s in stale]).update(client_score=Decimal("4.0"))
    with pytest.raises(CommandError, match="3 session"):
        rating_copies()
    assert "copies of 3 session" in rating_copies("--repair")
    assert "Every session's copies agree" in rating_copies()
    assert [copies(s)[0] for s in sessions] == [Decimal("9.0")] * 5
    progress = capsys.readouterr().err.splitlines()
    assert len(progress) == 3 and all(
        line.startswith("Checking the sessions: 5 of 5 sessions in ") for line in progress
    )


# Anything the app does to ratings and sessions, in any order, leaves the copies right.
STEP = st.tuples(
    st.sampled_from(["client rates", "therapist rates", "therapist revises", "session edited"]),
    st.integers(0, 2),  # which of three sessions
    st.integers(0, 10),  # a score, or a guess (10: none)
)


class CopiesFollowEveryStep(HypothesisTestCase):
    @settings(max_examples=25, deadline=None)
    @given(steps=st.lists(STEP, max_size=12))
    def test_the_copies_agree_with_the_ratings_after_any_steps(
        self, steps: list[tuple[str, int, int]]
    ) -> None:
        person = ClientFactory()
        therapist = person.therapist
        sessions = [SessionFactory(client=person, therapist=therapist) for _ in range(3)]
        for step, which, number in steps:
            session = Session.objects.get(pk=sessions[which].pk)
            guess = {"guessed_client_score": "" if number == 10 else str(number)}
            answers = {**ANSWERS, "trust": str(number)}
            rating = Rating.objects.filter(session=session, rater=Rating.Rater.THERAPIST).first()
            try:
                if step == "client rates":
                    rating_submit(
                        session=session,
                        rater=Rating.Rater.CLIENT,
                        answers=answers,
                        notice=(1, "en"),
                    )
                elif step == "therapist rates" or rating is None:
                    rating_submit(
                        session=session,
                        rater=Rating.Rater.THERAPIST,
                        answers={**answers, **guess},
                        submitted_by=therapist,
                    )
                elif step == "therapist revises":
                    rating_update(rating=rating, actor=therapist, answers={**answers, **guess})
                else:
                    session_update(
                        actor=therapist,
                        session=sessions[which],  # as read before every step above
                        starts_at=session.starts_at,
                        duration_minutes=30 + number,
                        attendance=session.attendance,
                        modality=session.modality,
                        notes=f"Step {number}",
                    )
            except ValidationError:
                pass  # a second rating by the same rater: refused, nothing written
            assert not sessions_with_stale_copies(Session.objects.filter(client=person)).exists()


def test_a_session_read_in_part_writes_only_what_was_read(
    client_record: Client, django_assert_num_queries: Any
) -> None:
    session = SessionFactory(client=client_record, duration_minutes=50)
    RatingFactory(session=session)
    partial = Session.objects.only("notes").get(pk=session.pk)
    partial.notes = "Spoke about the move."
    with django_assert_num_queries(1):  # the UPDATE alone: no deferred field read back
        partial.save()
    saved = Session.objects.get(pk=session.pk)
    assert (saved.notes, saved.duration_minutes, saved.client_score) == (
        "Spoke about the move.",
        50,
        Decimal("9.0"),
    )
