"""Repairs followed up by detection: recorded once, and a repair that did not hold re-opens."""

from __future__ import annotations

from typing import Any

import pytest

from clients.models import Client
from measures.detection import evaluate_clients
from measures.models import Concern, ConcernEvent
from measures.review import concern_dismiss, concern_resolve
from measures.sweeps import sweep_run
from measures.tests.test_detection import drifting, week  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def repaired(drifting: Client, therapist: Any) -> Concern:  # noqa: F811
    """10, 10, 10, 9 (usual 9.75), then 8, 7: a concern at 5–6, resolved with a repair."""
    evaluate_clients([drifting.pk])
    concern = Concern.objects.get(client=drifting)
    return concern_resolve(concern=concern, actor=therapist, note="We talked about the homework.")


def events(concern: Concern) -> list[tuple[str, dict[str, Any]]]:
    return list(concern.events.filter(actor=None).values_list("action", "evidence"))


def test_resolving_with_a_repair_starts_watching(repaired: Concern) -> None:
    assert (repaired.recovery, repaired.recovered_at_session) == ("watching", None)
    evaluate_clients([repaired.client_id])
    repaired.refresh_from_db()
    assert repaired.recovery == "watching"


def test_a_rating_back_within_the_reliable_change_is_a_recovery(repaired: Concern) -> None:
    week(repaired.client, 0.5, 9)  # 9.75 − 9.0 = 0.75 ≤ 1.52
    outcome = evaluate_clients([repaired.client_id])
    repaired.refresh_from_db()
    assert (repaired.status, repaired.recovery, repaired.recovered_at_session) == (
        "resolved",
        "recovered",
        7,
    )
    assert outcome.repairs_followed_up == 1
    assert events(repaired) == [
        ("recovered", {"usual": 9.75, "margin": 1.52, "scores": [9.0], "sessions": [7]})
    ]


def test_two_ratings_still_below_reopen_the_concern_once(repaired: Concern) -> None:
    week(repaired.client, 0.6, 7)
    evaluate_clients([repaired.client_id])
    repaired.refresh_from_db()
    assert (repaired.status, repaired.recovery) == ("resolved", "watching")
    week(repaired.client, 0.3, 8)  # 9.75 − 8.0 = 1.75 > 1.52
    sweep_run()
    repaired.refresh_from_db()
    assert (repaired.status, repaired.recovery) == ("open", "not_recovered")
    assert (repaired.closed_at, repaired.acknowledged_at, repaired.notified_at) == (None,) * 3
    assert events(repaired) == [
        ("reopened", {"usual": 9.75, "margin": 1.52, "scores": [7.0, 8.0], "sessions": [7, 8]})
    ]
    # Nothing new: the next sweep looks at the client again (their ratings lie within its
    # look-back, ALLIANCE_SWEEP_OVERLAP_SECONDS) and writes nothing.
    again = sweep_run()
    evaluate_clients([repaired.client_id])
    assert (again.clients_evaluated, again.flags_created, again.concerns_opened) == (1, 0, 0)
    assert ConcernEvent.objects.filter(action="reopened").count() == 1
    assert Concern.objects.filter(client=repaired.client).count() == 1


def test_a_reopened_concern_resolved_again_is_watched_again(
    repaired: Concern, therapist: Any
) -> None:
    week(repaired.client, 0.6, 7)
    week(repaired.client, 0.3, 7)
    evaluate_clients([repaired.client_id])
    repaired.refresh_from_db()
    concern = concern_resolve(concern=repaired, actor=therapist, note="Talked it through again.")
    assert (concern.status, concern.recovery, concern.reviewed_through) == (
        "resolved",
        "watching",
        8,
    )


def test_a_client_with_an_open_concern_keeps_it_and_the_outcome_is_recorded(
    repaired: Concern,
) -> None:
    Concern.objects.create(
        client=repaired.client, severity="high", opening_rule="rupture_unresolved"
    )
    week(repaired.client, 0.6, 7)
    week(repaired.client, 0.3, 7)
    evaluate_clients([repaired.client_id])
    repaired.refresh_from_db()
    assert (repaired.status, repaired.recovery) == ("resolved", "not_recovered")
    assert [action for action, _ in events(repaired)] == ["not_recovered"]


def test_a_dismissed_concern_is_not_followed_up(drifting: Client, therapist: Any) -> None:  # noqa: F811
    evaluate_clients([drifting.pk])
    concern = concern_dismiss(
        concern=Concern.objects.get(client=drifting), actor=therapist, reason="Test scores."
    )
    week(drifting, 0.6, 7)
    week(drifting, 0.3, 7)
    evaluate_clients([drifting.pk])
    concern.refresh_from_db()
    assert (concern.status, concern.recovery) == ("dismissed", "")
    assert not events(concern)


# --- What the concern page says ---------------------------------------------


def page(client: Any, therapist: Any, concern: Concern) -> str:
    client.force_login(therapist)
    return client.get(concern.get_absolute_url()).content.decode()


def test_the_page_says_it_is_watching_the_next_ratings(
    client: Any, therapist: Any, repaired: Concern
) -> None:
    assert "Not yet recovered (watching the next 2 ratings)" in page(client, therapist, repaired)


def test_the_page_says_when_the_alliance_recovered(
    client: Any, therapist: Any, repaired: Concern
) -> None:
    week(repaired.client, 0.5, 9)
    evaluate_clients([repaired.client_id])
    html = page(client, therapist, repaired)
    assert "Recovered by session 7" in html
    assert "Recovered after the repair" in html  # the history's step, with its numbers
    assert "9.75" in html and "9.0 (session 7)" in html


def test_the_page_says_a_repair_that_did_not_hold_was_reopened(
    client: Any, therapist: Any, repaired: Concern
) -> None:
    week(repaired.client, 0.6, 7)
    week(repaired.client, 0.3, 7)
    evaluate_clients([repaired.client_id])
    html = page(client, therapist, repaired)
    assert "Did not recover: re-opened" in html
    assert "7.0 (session 7), 7.0 (session 8)" in html
    assert "not_recovered" not in html and "reopened" not in html  # words, never codes


def test_a_dismissed_concern_says_nothing_of_recovery(
    client: Any,
    therapist: Any,
    drifting: Client,  # noqa: F811
) -> None:
    evaluate_clients([drifting.pk])
    concern = concern_dismiss(
        concern=Concern.objects.get(client=drifting), actor=therapist, reason="Test scores."
    )
    assert "After the repair" not in page(client, therapist, concern)
