"""The migration that holds a clinic's retention period to 1–36,500 days, run on a database
where the Django admin had stored periods outside it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from alliance.tests.migrating import migrate, migrated_back

BEFORE = [("clients", "0008_evaluated_copies")]
AFTER = [("clients", "0009_retention_days_in_range")]


@pytest.fixture
def old_apps(transactional_db: None) -> Any:
    with migrated_back(BEFORE) as apps:
        yield apps


def test_periods_outside_the_range_are_brought_to_the_nearest_allowed(old_apps: Any) -> None:
    Clinic = old_apps.get_model("clients", "Clinic")
    periods = {"none": None, "zero": 0, "week": 7, "century": 36_500, "beyond": 2_147_483_647}
    for slug, days in periods.items():
        Clinic.objects.create(name=slug, slug=slug, retention_days_after_discharge=days)
    new_apps = migrate(AFTER)
    stored = dict(
        new_apps.get_model("clients", "Clinic").objects.values_list(
            "slug", "retention_days_after_discharge"
        )
    )
    assert stored == {"none": None, "zero": 1, "week": 7, "century": 36_500, "beyond": 36_500}


MOVES_BEFORE = [("clients", "0010_names_show_as_they_read")]
MOVES_AFTER = [("clients", "0011_client_therapist_since")]


@pytest.fixture
def apps_before_moves_were_dated(transactional_db: None) -> Any:
    with migrated_back(MOVES_BEFORE) as apps:
        yield apps


def test_clients_moved_before_are_dated_from_their_latest_move_in_the_audit_trail(
    apps_before_moves_were_dated: Any,
) -> None:
    apps = apps_before_moves_were_dated
    Clinic = apps.get_model("clients", "Clinic")
    User = apps.get_model("clients", "User")
    Client = apps.get_model("clients", "Client")
    AuditEntry = apps.get_model("clients", "AuditEntry")
    clinic = Clinic.objects.create(name="Riverside", slug="riverside")
    tara = User.objects.create(username="tara", clinic=clinic, is_therapist=True)
    moved_twice = Client.objects.create(clinic=clinic, therapist=tara, label="R.K.")
    renamed = Client.objects.create(clinic=clinic, therapist=tara, label="M.P.")
    first, second = dt.datetime(2025, 1, 6, tzinfo=dt.UTC), dt.datetime(2025, 2, 3, tzinfo=dt.UTC)

    def written(client: Any, at: dt.datetime, fields: list[str]) -> None:
        AuditEntry.objects.create(
            at=at,
            clinic=clinic,
            actor_name="ada",
            action="changed",
            model="clients.client",
            object_id=str(client.pk),
            client=client,
            fields=fields,
        )

    written(moved_twice, second, ["therapist"])
    written(moved_twice, first, ["label", "therapist"])
    written(moved_twice, second + dt.timedelta(days=1), ["label"])
    written(renamed, first, ["label"])
    new_apps = migrate(MOVES_AFTER)
    moved = new_apps.get_model("clients", "Client").objects
    since = dict(moved.values_list("label", "therapist_since"))
    assert since == {"R.K.": second, "M.P.": None}


REOPENS_BEFORE = [("clients", "0011_client_therapist_since")]
REOPENS_AFTER = [("clients", "0012_client_reopened_at")]


@pytest.fixture
def apps_before_reopenings_were_dated(transactional_db: None) -> Any:
    with migrated_back(REOPENS_BEFORE) as apps:
        yield apps


def test_clients_active_again_are_dated_from_their_latest_change_of_status(
    apps_before_reopenings_were_dated: Any,
) -> None:
    apps = apps_before_reopenings_were_dated
    Clinic = apps.get_model("clients", "Clinic")
    User = apps.get_model("clients", "User")
    Client = apps.get_model("clients", "Client")
    AuditEntry = apps.get_model("clients", "AuditEntry")
    clinic = Clinic.objects.create(name="Riverside", slug="riverside")
    tara = User.objects.create(username="tara", clinic=clinic, is_therapist=True)
    back = Client.objects.create(clinic=clinic, therapist=tara, label="R.K.")
    gone = Client.objects.create(clinic=clinic, therapist=tara, label="M.P.", status="discharged")
    never = Client.objects.create(clinic=clinic, therapist=tara, label="A.B.")
    first, second = dt.datetime(2025, 1, 6, tzinfo=dt.UTC), dt.datetime(2025, 2, 3, tzinfo=dt.UTC)

    def written(client: Any, at: dt.datetime, fields: list[str]) -> None:
        AuditEntry.objects.create(
            at=at,
            clinic=clinic,
            actor_name="ada",
            action="changed",
            model="clients.client",
            object_id=str(client.pk),
            client=client,
            fields=fields,
        )

    for client in (back, gone):
        written(client, first, ["status", "discharged_at"])  # discharged
        written(client, second, ["status", "discharged_at"])  # re-opened
    written(gone, second + dt.timedelta(days=1), ["status", "discharged_at"])  # again
    written(back, second + dt.timedelta(days=2), ["label"])
    written(never, first, ["label"])
    new_apps = migrate(REOPENS_AFTER)
    clients = new_apps.get_model("clients", "Client").objects
    assert dict(clients.values_list("label", "reopened_at")) == {
        "R.K.": second,
        "M.P.": None,
        "A.B.": None,
    }
