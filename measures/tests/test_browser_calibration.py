"""A calibration worked out by a worker, followed in real Chromium: the clinic admin's page
shows its progress as it moves, then its proposal once it is done, with no console errors
and no CSP violations."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.steps import authenticator_for, current_code
from clients.models import User
from conftest import watch_for_problems
from measures.calibration_runs import calibration_complete, calibration_request
from measures.models import Calibration
from measures.tests.test_calibration import clinic_of_ratings
from reports.tests.test_browser_audit import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_page_follows_a_running_calibration_to_its_proposal(
    live_server: Any, page: Any, therapist: User, clinic_admin: User
) -> None:
    clinic_of_ratings(therapist)
    problems = watch_for_problems(page)
    device = authenticator_for(clinic_admin)
    log_in(page, live_server.url, "ada")
    page.get_by_role("textbox", name="Code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/**")

    # Asked for, as the page's button does, and not yet picked up by a worker.
    run = calibration_request(clinic=therapist.clinic, actor=clinic_admin)
    page.goto(f"{live_server.url}/thresholds/")
    bar = page.locator(".calibration-running progress")
    assert bar.get_attribute("value") == "0"
    assert page.get_by_role("button", name="Calibrate now").count() == 0

    # The worker gets on with it: the bar follows without a reload.
    Calibration.objects.filter(pk=run.pk).update(progress=60)
    expect(page.locator(".calibration-percent")).to_have_text("60", timeout=15_000)
    assert bar.get_attribute("value") == "60"

    # Done: the page reloads itself and shows the proposal.
    calibration_complete(run.pk)
    page.get_by_role("button", name="Apply the proposal").wait_for(timeout=15_000)
    assert page.locator(".calibration-running").count() == 0
    assert page.get_by_role("button", name="Calibrate now").is_visible()
    assert problems == []


def test_the_page_says_when_it_can_no_longer_follow_the_calibration(
    live_server: Any, page: Any, therapist: User, clinic_admin: User
) -> None:
    from django.contrib.sessions.models import Session as SignedIn

    device = authenticator_for(clinic_admin)
    log_in(page, live_server.url, "ada")
    page.get_by_role("textbox", name="Code").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/**")
    calibration_request(clinic=therapist.clinic, actor=clinic_admin)
    page.goto(f"{live_server.url}/thresholds/")
    page.locator(".calibration-running progress").wait_for()
    SignedIn.objects.all().delete()  # signed out meanwhile: the progress is the log-in page
    expect(page.locator(".calibration-note")).to_have_text(
        "This page has stopped following the calibration.", timeout=20_000
    )
    assert page.get_by_role("link", name="Refresh").is_visible()
