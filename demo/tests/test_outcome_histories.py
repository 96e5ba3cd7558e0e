"""The pure generators of the demo's outcome courses and therapists' guesses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

import pytest

from demo.histories import CLOSE, GENEROUS, SessionPlan, client_history, therapist_guesses
from demo.outcomes import (
    COURSES,
    DETERIORATING,
    FLAT,
    IMPROVING,
    RECOVERING,
    outcome_answers,
)
from measures.guesses import Pair, judge
from measures.scoring import DIMENSIONS, alliance_score
from measures.tracking import BANDS, MEAN, MODERATE, SEVERE, Scale, instrument_score, starting_band

# The built-in outcome check's numbers (measures/instruments/outcome_check.json).
CHECK = Scale(minimum=0, maximum=10, higher_is_better=True, cutoff=6.25, reliable_change=1.25)
SEEDS = range(40)
# The alliance story each outcome course is told with in the demo (demo.seed).
PROFILE = {
    IMPROVING: "stable",
    FLAT: "disengaging",
    DETERIORATING: "drifting",
    RECOVERING: "repaired",
}


def courses(course: str, band: str = MODERATE) -> Iterator[tuple[list[SessionPlan], list[float]]]:
    """(history, scores of the answers in order) for each seed."""
    for seed in SEEDS:
        rng = random.Random(seed)
        history = client_history(rng, PROFILE[course])
        answers = outcome_answers(rng, history, course=course, band=band, scale=CHECK, items=4)
        yield history, [instrument_score(items, MEAN) for items in answers if items is not None]


def improvements(scores: list[float]) -> list[float]:
    return [CHECK.improvement(scores[0], score) for score in scores]


def reliably_worse(improvement: float) -> bool:
    return improvement <= -CHECK.reliable_change


@pytest.mark.parametrize("course", COURSES)
@pytest.mark.parametrize("band", BANDS)
def test_an_answer_comes_with_every_client_rating_and_starts_in_the_band_asked(
    course: str, band: str
) -> None:
    for seed in SEEDS:
        rng = random.Random(seed)
        history = client_history(rng, PROFILE[course])
        answers = outcome_answers(rng, history, course=course, band=band, scale=CHECK, items=4)
        assert [items is None for items in answers] == [plan["client"] is None for plan in history]
        given = [items for items in answers if items is not None]
        for items in given:
            assert len(items) == 4 and all(isinstance(v, int) and 0 <= v <= 10 for v in items)
        assert starting_band(instrument_score(given[0], MEAN), CHECK) == band


@pytest.mark.parametrize("course", COURSES)
def test_the_same_seed_gives_the_same_answers(course: str) -> None:
    def draw() -> list[list[int] | None]:
        rng = random.Random(7)
        history = client_history(rng, PROFILE[course])
        return outcome_answers(rng, history, course=course, band=MODERATE, scale=CHECK, items=4)

    assert draw() == draw()


def test_an_improving_client_never_falls_reliably_and_most_end_reliably_better() -> None:
    for band in (SEVERE, MODERATE):
        better = 0
        for _history, scores in courses(IMPROVING, band):
            assert not any(reliably_worse(change) for change in improvements(scores))
            better += improvements(scores)[-1] >= CHECK.reliable_change
        assert better >= 0.75 * len(SEEDS), band


def test_a_flat_client_stays_within_a_reliable_change_of_the_start() -> None:
    for _history, scores in courses(FLAT):
        assert all(abs(change) < CHECK.reliable_change for change in improvements(scores))


def test_a_deteriorating_client_slides_and_falls_reliably_at_the_last_answer_only() -> None:
    for _history, scores in courses(DETERIORATING):
        changes = improvements(scores)
        assert reliably_worse(changes[-1]) and changes[-1] <= -1.4 * CHECK.reliable_change
        assert not any(reliably_worse(change) for change in changes[:-1])
        assert scores[-1] < scores[-2] <= scores[-4]


def test_a_recovering_client_dips_after_the_rupture_then_comes_back() -> None:
    for history, scores in courses(RECOVERING):
        changes = improvements(scores)
        dips = [answer for answer, change in enumerate(changes) if reliably_worse(change)]
        assert len(dips) == 1 and dips[0] < len(changes) - 1
        rated = [plan["client"] for plan in history if plan["client"] is not None]
        rupture = next(answer for answer, given in enumerate(rated) if given["rupture"] != "none")
        assert dips[0] == min(rupture + 1, len(changes) - 2)
        assert changes[dips[0] + 1] >= 0


def test_an_unknown_course_or_band_is_refused() -> None:
    history = client_history(random.Random(1), "stable")
    rng, instrument = random.Random(1), {"scale": CHECK, "items": 4}
    with pytest.raises(ValueError, match="Unknown course"):
        outcome_answers(rng, history, course="miraculous", band=MODERATE, **instrument)
    with pytest.raises(ValueError, match="Unknown band"):
        outcome_answers(rng, history, course=FLAT, band="extreme", **instrument)


# --- The therapist's guesses -------------------------------------------------------------


def score(answers: dict[str, object]) -> Decimal:
    return alliance_score(answers[name] for name in DIMENSIONS)  # type: ignore[misc]


def guessed(reader: str, profile: str) -> Iterator[tuple[list[SessionPlan], list[int | None]]]:
    for seed in SEEDS:
        rng = random.Random(seed)
        history = client_history(rng, profile)
        yield history, therapist_guesses(rng, history, reader)


@pytest.mark.parametrize("reader", [CLOSE, GENEROUS])
def test_most_therapist_ratings_carry_a_guess_and_only_they_do(reader: str) -> None:
    rated = with_guess = 0
    for history, guesses in guessed(reader, "repaired"):
        for plan, guess in zip(history, guesses, strict=True):
            if plan["therapist"] is None:
                assert guess is None
                continue
            rated += 1
            with_guess += guess is not None
            assert guess is None or 0 <= guess <= 10
    assert 0.75 < with_guess / rated < 0.95


def test_a_close_reader_guesses_within_half_a_point_on_average() -> None:
    gaps = []
    for history, guesses in guessed(CLOSE, "repaired"):
        for plan, guess in zip(history, guesses, strict=True):
            if plan["client"] is not None and guess is not None:
                gaps.append(abs(guess - score(plan["client"])))
    assert max(gaps) <= Decimal("1.5")
    assert sum(gaps) / len(gaps) <= Decimal("0.5")


@pytest.mark.parametrize("profile", ["repaired", "drifting"])
def test_a_generous_reader_guesses_high_and_misses_every_drop(profile: str) -> None:
    drops = 0
    for history, guesses in guessed(GENEROUS, profile):
        pairs = [
            Pair(number, 1, float(score(plan["client"])), guess)
            for number, (plan, guess) in enumerate(zip(history, guesses, strict=True))
            if plan["client"] is not None
        ]
        for pair in pairs:
            assert pair.guess is None or pair.guess >= min(pair.score, 10)
        judged = [row for row in judge(pairs, drop_threshold=1.5) if row.guess is not None]
        drops += sum(row.dropped for row in judged)
        assert all(row.missed_drop for row in judged if row.dropped)
    assert drops


def test_an_unknown_reader_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown reader"):
        therapist_guesses(random.Random(1), client_history(random.Random(1), "stable"), "psychic")
