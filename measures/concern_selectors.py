"""Reads for concerns: the review queue, one concern's page, and their stories.

Each costs a fixed number of queries whatever the queue's length: the
concerns, then their signals and their clients' scores in one query each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Exists, OuterRef, QuerySet

from clients.scoping import is_treating_therapist
from measures import follow_up
from measures.concerns import client_scores
from measures.grouping import RULE_ORDER
from measures.models import Concern, ConcernEvent, ConcernQuerySet, Flag, severity_rank
from measures.story import StorySignal, concern_story

T = TypeVar("T")

ALL_NEEDING_REVIEW = "all"
# Most severe first, then oldest first.
QUEUE_ORDER = ("severity_rank", "opened_at", "id")


def review_queue(user: Any, status: str = ALL_NEEDING_REVIEW) -> ConcernQuerySet:
    """Concerns `user` may see that still need review: most severe first, then oldest first."""
    queue = Concern.objects.visible_to(user).needing_review()
    if status != ALL_NEEDING_REVIEW:
        queue = queue.filter(status=status)
    return queue.annotate(severity_rank=severity_rank()).order_by(*QUEUE_ORDER)


def review_rows(page: QuerySet[Concern]) -> ConcernQuerySet:
    """A page of the review queue (a slice of `review_queue`) with each concern's client,
    therapist and sessions, in one query: the page's concerns are picked from the concerns
    alone, then joined. Joined first, every concern waiting was joined to its sessions (and
    counted its signals) before the page's fifty were picked: 0.5 s for the 10,000 of a
    health system's supervisor. `with_stories` counts a page's signals."""
    return (
        Concern.objects.filter(pk__in=page.values("pk"))
        .select_related("client", "client__therapist", "first_session", "last_session")
        .annotate(severity_rank=severity_rank())
        .order_by(*QUEUE_ORDER)
    )


def with_stories(
    concerns: Iterable[Concern],
    reader: Any,
    scores: Mapping[int, Mapping[int, float | None]] | None = None,
) -> list[Concern]:
    """The concerns, each with `story` told for `reader` and its `signal_count` (two queries
    for them all, one when the caller already holds the clients' `scores`: client id → score
    by session number, as `client_scores` gives)."""
    concerns = list(concerns)
    signals: dict[int, list[tuple[tuple[StorySignal, int], bool]]] = defaultdict(list)
    rows = Flag.objects.filter(concern__in=[c.pk for c in concerns]).values_list(
        "concern_id", "session__number", "rule", "evidence", "session__therapist_id", "withdrawn_at"
    )
    for concern_id, number, rule, evidence, therapist_id, withdrawn_at in rows:
        signal = StorySignal(number, rule, _evidence(evidence))
        signals[concern_id].append(((signal, therapist_id), withdrawn_at is not None))
    if scores is None:
        scores = client_scores({concern.client_id for concern in concerns})
    for concern in concerns:
        told = told_signals(concern, signals[concern.pk])
        concern.signal_count = len(told)
        concern.story = concern_story(
            [signal for signal, _therapist in told],
            scores.get(concern.client_id, {}),
            reader_is_therapist=_reads_as_you(
                reader, concern, {therapist for _signal, therapist in told}
            ),
        )
    return concerns


def told_signals(concern: Concern, signals: Iterable[tuple[T, bool]]) -> list[T]:
    """Of a concern's signals (each with whether it was withdrawn), those its story tells
    and its count counts: the ones still holding. A concern Alliance withdrew holds none,
    and tells what it was about (measures.withdrawal)."""
    return [signal for signal, withdrawn in signals if concern.is_withdrawn or not withdrawn]


def _reads_as_you(reader: Any, concern: Concern, led_by: set[int]) -> bool:
    """Whether the story says "you rated…", "you noticed…": to the treating therapist,
    of sessions they led themselves. A client moved from a colleague keeps the sessions
    the colleague led and rated, of which "you" would be untrue."""
    return is_treating_therapist(reader, concern.client) and led_by <= {reader.pk}


def _evidence(evidence: Any) -> dict[str, Any]:
    return evidence if isinstance(evidence, dict) else {}


@dataclass
class ConcernPage:
    concern: Concern
    story: str
    signals: list[Flag]
    events: QuerySet[ConcernEvent]
    earlier: list[Concern]


def concern_page(concern: Concern, reader: Any) -> ConcernPage:
    """Everything the concern's page shows: the story, each signal with its figures, the
    history, and the client's other concerns."""
    signals = sorted(
        concern.signals.select_related("session"),
        key=lambda flag: (
            flag.session.starts_at,
            flag.session.number,
            RULE_ORDER.get(flag.rule, len(RULE_ORDER)),
        ),
    )
    scores = client_scores([concern.client_id]).get(concern.client_id, {})
    told = told_signals(concern, ((f, f.withdrawn_at is not None) for f in signals))
    story = concern_story(
        [StorySignal(f.session.number, f.rule, _evidence(f.evidence)) for f in told],
        scores,
        reader_is_therapist=_reads_as_you(
            reader, concern, {flag.session.therapist_id for flag in told}
        ),
    )
    # A repair that did not hold while this concern was open: this one's review covers it.
    failed_here = ConcernEvent.objects.filter(
        follow_up.carried_by(concern, until=concern.closed_at),
        concern=OuterRef("pk"),
        concern__status=Concern.Status.RESOLVED,
        concern__recovery=Concern.Recovery.NOT_RECOVERED,
        action=ConcernEvent.Action.NOT_RECOVERED,
    )
    earlier = list(
        Concern.objects.filter(client_id=concern.client_id)
        .exclude(pk=concern.pk)
        .select_related("first_session", "last_session")
        .annotate(carried_here=Exists(failed_here))
        .order_by("-opened_at")[:10]
    )
    return ConcernPage(
        concern=concern,
        story=story,
        signals=signals,
        events=concern.events.select_related("actor"),
        earlier=earlier,
    )
