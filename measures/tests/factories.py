"""Test data for ratings, signals and concerns. Factories write rows directly; the
services that normally write them (detection, grouping, review) have their own tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import factory
from django.utils import timezone

from clients.models import Client
from measures.models import (
    Concern,
    ConcernEvent,
    Flag,
    OutcomeAnswer,
    Rating,
    built_in_check,
    copy_evaluated_to_clients,
)
from sessions.models import Session
from sessions.tests.factories import SessionFactory


def evaluated(clients: Iterable[Client] | None = None) -> None:
    """The clients' copies of their latest score and outcome track written (every client's
    when none are named), as detection writes them once it has evaluated them: the
    supervisor's dashboard reads those (`Client.evaluated_score`)."""
    chosen = Client.objects.all() if clients is None else clients
    copy_evaluated_to_clients(client.pk for client in chosen)


class RatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rating

    session = factory.SubFactory(SessionFactory)
    rater = Rating.Rater.CLIENT
    trust = 9
    empathy = 9
    collaboration = 9
    boundaries = 9
    growth = 9
    respect = 9


def outcome_form_answers(*scores: int) -> dict[str, str]:
    """The outcome check as the client's form posts it: the instrument shown and one
    answer per item (6 each unless given)."""
    instrument = built_in_check()
    scores = scores or (6,) * instrument.item_count
    return {
        "instrument": str(instrument.pk),
        **{f"outcome_{number}": str(score) for number, score in enumerate(scores, start=1)},
    }


class OutcomeAnswerFactory(factory.django.DjangoModelFactory):
    """The built-in check answered at a session; `score` follows `answers`."""

    class Meta:
        model = OutcomeAnswer

    session = factory.SubFactory(SessionFactory)
    instrument = factory.LazyFunction(built_in_check)
    answers = (6, 6, 6, 6)
    score = factory.LazyAttribute(lambda answer: answer.instrument.score(list(answer.answers)))


class ConcernFactory(factory.django.DjangoModelFactory):
    """An open concern on a new session of a new client. Pass `session=` to place it: the
    client is always the session's (`concern_with_signal(client)` builds both for a client)."""

    class Meta:
        model = Concern
        exclude = ("session",)

    session = factory.SubFactory(SessionFactory)
    client = factory.LazyAttribute(lambda o: o.session.client)
    first_session = factory.LazyAttribute(lambda o: o.session)
    last_session = factory.LazyAttribute(lambda o: o.session)
    severity = Concern.Severity.HIGH
    opening_rule = Flag.Rule.RELIABLE_DROP
    opened_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=3))


class FlagFactory(factory.django.DjangoModelFactory):
    """A signal; in a concern when `concern=` is given, else context outside any."""

    class Meta:
        model = Flag

    session = factory.SubFactory(SessionFactory)
    client = factory.LazyAttribute(lambda o: o.session.client)
    rule = Flag.Rule.BELOW_CUTOFF
    severity = Flag.Severity.LOW
    evidence = factory.LazyFunction(lambda: {"score": 8.5, "cutoff": 9.0, "operator": "lt"})
    grouped_at = factory.LazyFunction(timezone.now)


RELIABLE_DROP_EVIDENCE = {
    "score": 6.8,
    "usual": 9.9,
    "drop": 3.1,
    "threshold": 1.52,
    "reliable_change": 1.52,
    "own_sd": 0.2,
    "earlier_ratings": 5,
}


def concern_with_signal(client: object = None, *, days_ago: float = 3, **fields: object) -> Concern:
    """An open concern holding one reliable-drop signal on a new session of `client`."""
    session = SessionFactory(**({"client": client} if client is not None else {}))
    concern = ConcernFactory(
        session=session, opened_at=timezone.now() - dt.timedelta(days=days_ago), **fields
    )
    FlagFactory(
        session=session,
        concern=concern,
        rule=Flag.Rule.RELIABLE_DROP,
        severity=Flag.Severity.HIGH,
        evidence=RELIABLE_DROP_EVIDENCE,
        created_at=concern.opened_at,
    )
    return concern


def erased(client: Client, *, by: object) -> Client:
    """`client` discharged yesterday and erased by `by` (a clinic admin), read back."""
    from measures.rights import client_erase

    Client.objects.filter(pk=client.pk).update(
        status=Client.Status.DISCHARGED, discharged_at=timezone.now() - dt.timedelta(days=1)
    )
    client_erase(actor=by, client=client)
    return Client.objects.get(pk=client.pk)


class ConcernEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConcernEvent

    concern = factory.SubFactory(ConcernFactory)
    action = ConcernEvent.Action.COMMENTED
    note = "A comment."


def instrument_definition(**changes: object) -> dict[str, object]:
    """A clinic's own instrument as a definition (the shape of outcome_check.json): three
    items answered 0–4, summed (0–12), lower is better."""
    definition: dict[str, object] = {
        "name": "Weekly distress scale",
        "minimum": 0,
        "maximum": 4,
        "scoring": "sum",
        "higher_is_better": False,
        "cutoff": "5.5",
        "reliable_change": "3",
        "licence": "Licensed to the clinic by its publisher until 2030.",
        "text": {
            "en": {
                "intro": "Over the last week, how often have you…",
                "items": ["felt on edge", "felt low", "struggled to sleep"],
                "low": "0 = not at all",
                "high": "4 = most or all of the time",
            }
        },
    }
    return definition | changes


def rupture_only_the_therapist_noticed(client: Client, *, days_ago: float) -> Session:
    """A session held `days_ago`, rated by its therapist alone: a rupture of "a lot", not
    talked through at all, which the client has not (yet) answered about."""
    session = SessionFactory(client=client, starts_at=timezone.now() - dt.timedelta(days=days_ago))
    RatingFactory(
        session=session,
        rater=Rating.Rater.THERAPIST,
        submitted_by=client.therapist,
        rupture="a_lot",
        rupture_resolved="not_at_all",
    )
    return session
