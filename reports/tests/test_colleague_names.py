"""Two colleagues of one name, told apart by username in every list of staff a clinic admin
or supervisor reads or picks from (`clients.colleagues`): the dashboard's rows, its CSV and
its clients needing attention, the precision page's therapists, the choice of a therapist
to move a client to, and of a supervisor or supervisee. One colleague of a name keeps it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.colleagues import colleague_names
from clients.models import Client, User
from clients.tests.factories import ClientFactory, SupervisorFactory, TherapistFactory
from measures.models import Concern
from measures.tests.factories import ConcernFactory
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

FIRST, SECOND = "José Ortega (jortega)", "José Ortega (jose.o)"


@pytest.fixture
def namesakes(clinic: Any, therapist: User) -> SimpleNamespace:
    """Two therapists called José Ortega, each with a client and a concern open ten days,
    and the clinic's therapist Tara, whose name nobody shares."""
    therapist.first_name, therapist.last_name = "Tara", "Young"
    therapist.save()
    people = SimpleNamespace(tara=therapist)
    for name, username in (("first", "jortega"), ("second", "jose.o")):
        member = TherapistFactory(
            clinic=clinic, username=username, first_name="José", last_name="Ortega"
        )
        record = ClientFactory(therapist=member)
        opened = timezone.now() - dt.timedelta(days=10)
        visit = SessionFactory(client=record, starts_at=opened, therapist=member)
        ConcernFactory(session=visit, status=Concern.Status.OPEN, opened_at=opened)
        setattr(people, name, member)
    return people


def test_a_name_two_share_gets_each_ones_username_after_it() -> None:
    people = [
        User(pk=1, username="jortega", first_name="José", last_name="Ortega"),
        User(pk=2, username="jose.o", first_name="José", last_name="Ortega"),
        User(pk=3, username="tara", first_name="Tara", last_name="Young"),
        User(pk=4, username="nameless"),
    ]
    assert colleague_names(people) == {1: FIRST, 2: SECOND, 3: "Tara Young", 4: "nameless"}


def test_the_dashboards_rows_and_attention_list_tell_them_apart(
    client: Any, clinic_admin: User, namesakes: SimpleNamespace
) -> None:
    client.force_login(clinic_admin)
    html = client.get(reverse("reports:dashboard")).content.decode()
    assert f">{FIRST}</a></th>" in html and f">{SECOND}</a></th>" in html
    assert ">Tara Young</a></th>" in html
    # The clients needing attention name their therapist as the rows do.
    assert f"· {FIRST}</span>" in html and f"· {SECOND}</span>" in html
    assert ">José Ortega</a>" not in html and "· José Ortega</span>" not in html


def test_the_dashboards_csv_tells_them_apart(
    client: Any, clinic_admin: User, namesakes: SimpleNamespace
) -> None:
    client.force_login(clinic_admin)
    response = client.get(reverse("reports:dashboard-csv"))
    body = b"".join(response.streaming_content).decode()
    names = [line[0] for line in csv.reader(io.StringIO(body))][1:]
    assert sorted(names) == sorted([FIRST, SECOND, "Tara Young"])


def test_the_precision_page_tells_them_apart(
    client: Any, clinic_admin: User, namesakes: SimpleNamespace
) -> None:
    now = timezone.now()
    for member in (namesakes.first, namesakes.second):
        concern = Concern.objects.get(client__therapist=member)
        Concern.objects.filter(pk=concern.pk).update(
            status=Concern.Status.DISMISSED, closed_at=now, closed_by=member, note="A hard week."
        )
    client.force_login(clinic_admin)
    response = client.get(reverse("reports:precision"))
    tables = response.context["tables"]
    [by_therapist] = [rows for title, rows, _ in tables if title == "By therapist"]
    assert sorted(row.label for row in by_therapist) == sorted([FIRST, SECOND])


def test_the_therapist_to_move_a_client_to_is_chosen_by_a_name_told_apart(
    client: Any, clinic_admin: User, namesakes: SimpleNamespace, client_record: Client
) -> None:
    client.force_login(clinic_admin)
    response = client.get(reverse("clients:client-move", args=[client_record.pk]))
    labels = [label for _value, label in response.context["form"].fields["therapist"].choices]
    assert {FIRST, SECOND} <= set(labels) and "José Ortega" not in labels
    html = response.content.decode()
    assert f'<option value="{namesakes.second.pk}">{SECOND}</option>' in html


def test_the_supervisee_to_add_is_chosen_by_a_name_told_apart(
    client: Any, clinic: Any, clinic_admin: User, namesakes: SimpleNamespace
) -> None:
    lead = SupervisorFactory(clinic=clinic, username="lead")
    client.force_login(clinic_admin)
    html = client.get(reverse("staff:colleague", args=[lead.pk])).content.decode()
    assert f'<option value="{namesakes.first.pk}">{FIRST}</option>' in html
    assert f'<option value="{namesakes.second.pk}">{SECOND}</option>' in html
    assert ">José Ortega</option>" not in html
