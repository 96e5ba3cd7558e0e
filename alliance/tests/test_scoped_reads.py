"""Every page reaches its records through the scoped querysets, proved by walking the URL conf.

For every named URL of the apps (clients, sessions, measures, reports) and of the admin's
pages for scoped models, each member of staff asks for it (GET and an empty POST) with
therapist A's records and with another clinic's, while `scoped_reads.audit` watches the
SQL: the record the URL names must be looked up through `visible_to` / `editable_by`
before anything else reads it, and no scoped model may be read whole. A view written as
`Client.objects.get(pk=client_id)` fails here even where the access matrix's answers
happen to come out right.

The first tests prove the auditor itself catches both mistakes.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import transaction

from alliance.tests.scoped_reads import audit, is_scoped_model
from alliance.tests.urlconf_walk import (
    OTHER,
    OWN,
    Records,
    World,
    admin_url_models,
    browser_for,
    named_urls,
    url_for,
)
from clients.models import Client, User
from measures.models import Calibration, Concern, Flag, Instrument
from sessions.models import Session

pytestmark = pytest.mark.django_db

# A URL argument → the model of the record it names.
URL_RECORDS = {
    "client_id": Client,
    "session_id": Session,
    "concern_id": Concern,
    "flag_id": Flag,
    "calibration_id": Calibration,
    "therapist_id": User,
    "instrument_id": Instrument,
}
# The client's form: the link's token is the credential, looked up by its hash; the
# invitation it finds is the scope (tested in measures/tests/test_client_rating.py).
BY_TOKEN = {
    "measures:client-rating",
    "measures:client-rating-thanks",
    "measures:client-rating-thanks-plain",
}
APPS = ("clients:", "sessions:", "measures:", "reports:")
# The superuser runs the installation from the admin, which shows them everything on
# purpose; every other role is held to the scopes.
ROLES = ("therapist", "colleague", "supervisor", "idle_supervisor", "clinic_admin", "other_admin")


def walked_urls() -> list[str]:
    """The apps' named URLs, and the admin's record pages for models with scopes."""
    scoped_admin = {
        name
        for name, label in admin_url_models().items()
        if name != "admin:view_on_site" and is_scoped_model(apps.get_model(label))
    }
    pages = {name for name in named_urls() if name.startswith(APPS) and name not in BY_TOKEN}
    return sorted(pages | scoped_admin | {_changelist(name) for name in scoped_admin})


def _changelist(change_name: str) -> str:
    return change_name.rsplit("_", 1)[0] + "_changelist"


def named_records(name: str, records: Records) -> set[tuple[type, int]]:
    """The records `name`'s URL names when filled with `records`."""
    named = set()
    for param in named_urls()[name]:
        if param in URL_RECORDS:
            model = URL_RECORDS[param]
            value = {
                "client_id": records.client,
                "session_id": records.session,
                "concern_id": records.concern,
                "flag_id": records.flag,
                "calibration_id": records.calibration,
                "therapist_id": records.therapist,
                "instrument_id": records.instrument,
            }[param]
            named.add((model, value.pk))
        elif param in ("object_id", "id"):
            record = records.of_model(admin_url_models()[name])
            named.add((type(record), record.pk))
    return named


def problems_of(name: str, world: World) -> list[str]:
    variants = [OWN]
    if set(named_urls()[name]) & {*URL_RECORDS, "object_id", "id"}:
        variants.append(OTHER)
    found = []
    for role in ROLES:
        browser = browser_for(role, world)
        viewer = world.users[role]
        for variant in variants:
            records = world.other if variant == OTHER else world.own
            url = url_for(name, variant, world)
            named = named_records(name, records)
            for method in ("GET", "POST"):
                cache.clear()
                with transaction.atomic(), audit(named, viewer.pk) as seen:
                    response = browser.get(url) if method == "GET" else browser.post(url, {})
                    if getattr(response, "streaming", False):
                        b"".join(response.streaming_content)
                    transaction.set_rollback(True)
                found += [f"{name} [{variant}] {method} as {role}: {p}" for p in seen.problems]
    return found


# --- The auditor catches both mistakes ---------------------------------------------------


def test_a_record_looked_up_by_the_urls_id_without_a_scope_is_caught(
    client_record: Client, therapist: User
) -> None:
    with audit({(Client, client_record.pk)}, therapist.pk) as seen:
        Client.objects.get(pk=client_record.pk)
    assert any("before any scoped query" in problem for problem in seen.problems)


def test_reading_the_records_children_unscoped_before_the_record_is_caught(
    client_record: Client, therapist: User
) -> None:
    with audit({(Client, client_record.pk)}, therapist.pk) as seen:
        list(Session.objects.filter(client_id=client_record.pk))
    assert seen.problems


def test_a_table_read_whole_is_caught(client_record: Client, therapist: User) -> None:
    with audit(set(), therapist.pk) as seen:
        list(Client.objects.filter(status=Client.Status.ACTIVE))
        Concern.objects.count()
    assert len(seen.problems) == 2
    assert all("without a scope" in problem for problem in seen.problems)


def test_a_scoped_look_up_and_then_its_children_pass(
    client_record: Client, therapist: User
) -> None:
    with audit({(Client, client_record.pk)}, therapist.pk) as seen:
        client = Client.objects.visible_to(therapist).get(pk=client_record.pk)
        list(client.sessions.all())
        list(Session.objects.filter(client__in=Client.objects.visible_to(therapist)))
        Client.objects.visible_to(therapist).count()
    assert seen.problems == []


# --- The walk ----------------------------------------------------------------------------


def test_the_walk_covers_every_app_and_the_admins_record_pages() -> None:
    walked = walked_urls()
    for app in APPS:
        assert any(name.startswith(app) for name in walked), app
    assert "admin:clients_client_change" in walked
    assert "admin:measures_concern_changelist" in walked


@pytest.mark.parametrize("name", walked_urls())
def test_each_page_reaches_its_records_through_the_scopes(
    name: str, world: World, status_only: None
) -> None:
    problems = problems_of(name, world)
    assert not problems, "\n".join(problems)
