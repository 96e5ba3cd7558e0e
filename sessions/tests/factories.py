from __future__ import annotations

import datetime as dt

import factory
from django.db.models import Max
from django.utils import timezone

from clients.tests.factories import ClientFactory
from sessions.models import Session


def _next_number(session: Session) -> int:
    last = Session.objects.filter(client=session.client).aggregate(last=Max("number"))["last"]
    return (last or 0) + 1


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    client = factory.SubFactory(ClientFactory)
    therapist = factory.LazyAttribute(lambda o: o.client.therapist)
    number = factory.LazyAttribute(_next_number)
    starts_at = factory.LazyAttribute(lambda o: timezone.now() - dt.timedelta(days=7))
    attendance = Session.Attendance.ATTENDED
