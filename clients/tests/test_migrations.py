"""The migration that holds a clinic's retention period to 1–36,500 days, run on a database
where the Django admin had stored periods outside it."""

from __future__ import annotations

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
