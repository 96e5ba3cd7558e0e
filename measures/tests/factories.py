from __future__ import annotations

import factory

from measures.models import Flag, Rating
from sessions.tests.factories import SessionFactory


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


class FlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flag

    session = factory.SubFactory(SessionFactory)
    client = factory.LazyAttribute(lambda o: o.session.client)
    rule = Flag.Rule.BELOW_CUTOFF
    severity = Flag.Severity.LOW
    evidence = factory.LazyFunction(lambda: {"score": "8.5", "cutoff": "9.0"})
