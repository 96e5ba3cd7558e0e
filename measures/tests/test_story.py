"""A concern's story: one sentence a clinician would say, from its signals and the scores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from measures.story import StorySignal, concern_story

DROP = {"score": 6.7, "usual": 9.4, "drop": 2.7, "threshold": 1.52}


def story(signals: list[StorySignal], scores: dict[int, float | None], you: bool = True) -> str:
    return concern_story(signals, scores, reader_is_therapist=you)


def discrepancy(number: int) -> StorySignal:
    return StorySignal(
        number, "rater_discrepancy", {"therapist": 9.2, "client": 6.9, "difference": 2.3}
    )


def test_the_issues_example_reads_as_the_issue_wrote_it() -> None:
    scores = {1: 9.5, 2: 9.4, 3: 9.4, 4: 8.8, 5: 7.4, 6: 7.0, 7: 6.7}
    signals = [
        StorySignal(
            7,
            "declining_trend",
            {"scores": [7.4, 7.0, 6.7], "sessions": [5, 6, 7], "fall": 0.7},
        ),
        StorySignal(5, "reliable_drop", DROP),
        discrepancy(6),
        discrepancy(7),
        StorySignal(4, "below_cutoff", {"score": 8.8, "cutoff": 9.0, "operator": "lt"}),
    ]
    assert story(signals, scores) == (
        "Alliance slid from 9.4 to 6.7 over sessions 3–7: a reliable drop at session 5; "
        "you rated sessions 6 and 7 higher than the client did; "
        "under the cut-off at session 4."
    )


def test_a_supervisor_reads_the_therapist_not_you() -> None:
    scores = {1: 9.5, 2: 7.0}
    told = story([discrepancy(2)], scores, you=False)
    assert "the therapist rated session 2 higher than the client did" in told
    assert "you" not in told


def test_one_session_is_a_fall_from_the_last_score_before_it() -> None:
    scores = {1: 9.8, 2: 9.8, 3: None, 4: 6.7}
    assert story([StorySignal(4, "reliable_drop", DROP)], scores) == (
        "Alliance fell from 9.8 to 6.7 at session 4: a reliable drop at session 4."
    )


def test_a_recovery_inside_the_concern_is_told() -> None:
    scores = {1: 9.8, 2: 6.0, 3: 9.6}
    rupture = {"client": {"rupture": "a_lot", "talked_through": "not_at_all"}}
    told = story(
        [StorySignal(2, "rupture_unresolved", rupture), StorySignal(3, "below_cutoff", {})], scores
    )
    assert told.startswith(
        "Alliance fell from 9.8 to 6.0 at session 2, then rose to 9.6 at session 3:"
    )
    assert "the client reported a rupture at session 2 that was not fully talked through" in told


def test_a_rupture_the_client_did_not_report() -> None:
    seen = {"client": {"rupture": "none"}, "therapist": {"rupture": "a_lot", "talked_through": ""}}
    told = story([StorySignal(3, "rupture_unresolved", seen)], {3: 9.5})
    assert told == "You noticed a rupture at session 3 that the client did not report."


def test_disengagement_has_no_scores_to_tell() -> None:
    missed = {"kind": "missed", "sessions": [7, 8], "attendance": ["no_show", "no_show"]}
    unrated = {"kind": "unrated", "sessions": [3, 4, 5, 6]}
    assert story([StorySignal(8, "disengagement", missed)], {1: 9.0}) == (
        "Two missed sessions in a row (sessions 7 and 8)."
    )
    assert story([StorySignal(6, "disengagement", unrated)], {}) == (
        "No client rating for four attended sessions in a row (sessions 3–6)."
    )


def test_a_concern_opened_by_the_outcome_alone_says_so() -> None:
    """Not "Signals at session 2.": the queue and the page tell it."""
    outcome = {"score": 4.0, "first": 6.0, "margin": 1.25, "deteriorated": True}
    assert story([StorySignal(2, "not_on_track", outcome)], {1: 9.5, 2: 9.5}) == (
        "The client's outcome answers were not on track at session 2."
    )


def test_a_slide_with_no_other_signal_tells_the_trend() -> None:
    trend = {"scores": [9.0, 8.0, 7.0], "sessions": [4, 5, 6], "fall": 2.0}
    # No score before the trend and no fall: the movement cannot be told, the trend is.
    assert story([StorySignal(6, "declining_trend", trend)], {}) == (
        "Alliance fell three sessions running (9.0 → 8.0 → 7.0)."
    )


@pytest.mark.parametrize(
    "evidence",
    [{}, {"dimensions": []}, {"dimensions": [{"name": "trust"}]}, None],
    ids=["empty", "no-dimensions", "no-numbers", "none"],
)
def test_odd_evidence_leaves_its_clause_out_but_never_fails(evidence: Any) -> None:
    told = story(
        [StorySignal(2, "dimension_drop", evidence or {}), StorySignal(2, "reliable_drop", DROP)],
        {1: 9.5, 2: 6.7},
    )
    assert told == "Alliance fell from 9.5 to 6.7 at session 2: a reliable drop at session 2."


def test_a_concern_whose_signals_are_gone_says_so() -> None:
    assert story([], {}) == "No signals remain in this concern."


def test_no_stored_code_reaches_the_story() -> None:
    signals = [
        StorySignal(2, "rupture_unresolved", {"rupture": "a_lot", "talked_through": "not_at_all"}),
        StorySignal(
            2,
            "dimension_drop",
            {"dimensions": [{"name": "collaboration", "from": 9, "to": 4}], "since_session": 1},
        ),
        StorySignal(
            3,
            "disengagement",
            {"kind": "missed", "sessions": [3, 4], "attendance": ["no_show", "cancelled"]},
        ),
    ]
    told = story(signals, {1: 9.6, 2: 6.5})
    for code in ("a_lot", "not_at_all", "no_show", "collaboration", "rupture_unresolved", "["):
        assert code not in told
    assert "goals and tasks fell from 9 to 4 at session 2" in told


def test_the_story_is_told_in_the_pages_language() -> None:
    from django.utils import translation

    scores = {1: 9.8, 2: 9.8, 3: 6.7}
    rupture = {"client": {"rupture": "a_lot", "talked_through": "not_at_all"}}
    signals = [StorySignal(3, "reliable_drop", DROP), StorySignal(3, "rupture_unresolved", rupture)]
    with translation.override("es"):
        told = story(signals, scores)
    assert told == (
        "La alianza bajó de 9.8 a 6.7 en sesión 3: una caída fiable en sesión 3; "
        "el cliente señaló una ruptura en sesión 3 que no se habló del todo."
    )


def test_each_signals_words_are_in_the_pages_language() -> None:
    from django.utils import translation

    from measures.evidence import describe, numbers

    evidence = {"client": {"rupture": "a_lot", "talked_through": "not_at_all"}}
    with translation.override("es"):
        assert describe("rupture_unresolved", evidence) == (
            "El cliente señaló una ruptura (mucho); se habló: nada"
        )
        assert numbers("rupture_unresolved", evidence) == [
            ("Cliente", "ruptura: mucho; se habló: nada")
        ]


def test_a_fall_in_two_dimensions_names_both() -> None:
    fall = {
        "dimensions": [
            {"name": "boundaries", "from": 10, "to": 5},
            {"name": "respect", "from": 10, "to": 6},
            {"name": "trust", "from": 9, "to": 5},
        ],
        "since_session": 3,
    }
    told = story([StorySignal(4, "dimension_drop", fall)], {3: 9.8, 4: 7.0})
    assert told == (
        "Alliance fell from 9.8 to 7.0 at session 4: boundaries fell from 10 to 5 and respect "
        "from 10 to 6 at session 4."
    )


@pytest.mark.django_db
def test_a_moved_clients_new_therapist_is_not_told_they_rated_what_a_colleague_did(
    client_record: Any, therapist: Any, colleague: Any, clinic_admin: Any
) -> None:
    """Sessions keep the therapist who led and rated them: after the client moves, the
    story says "the therapist rated…" to the new one, on the page and in the queue."""
    from django.utils import timezone

    from clients.moves import client_move
    from measures.concern_selectors import concern_page, with_stories
    from measures.detection import evaluate_clients
    from measures.models import Concern, Rating
    from measures.scoring import DIMENSIONS
    from measures.tests.factories import RatingFactory
    from sessions.tests.factories import SessionFactory

    for days in (28, 21, 14, 7):
        rated = SessionFactory(
            client=client_record, starts_at=timezone.now() - dt.timedelta(days=days)
        )
        RatingFactory(session=rated, **dict.fromkeys(DIMENSIONS, 7))
    RatingFactory(
        session=rated,
        rater=Rating.Rater.THERAPIST,
        submitted_by=therapist,
        **dict.fromkeys(DIMENSIONS, 9),
    )
    evaluate_clients([client_record.pk])
    concern = Concern.objects.get(client=client_record)
    assert "You rated session 4 higher" in concern_page(concern, therapist).story
    client_move(
        actor=clinic_admin,
        client=client_record,
        therapist=colleague,
        from_therapist_id=client_record.therapist_id,
    )
    concern = Concern.objects.get(pk=concern.pk)
    [queued] = with_stories([concern], colleague)
    for told in (concern_page(concern, colleague).story, queued.story):
        assert "The therapist rated session 4 higher than the client did" in told
        assert "you" not in told.lower().split()
