"""The Thresholds page: clinic admins only; calibrate, apply in one click, reset; all recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from clients.models import AuditEntry, Clinic, User
from clients.tests.factories import ClinicAdminFactory
from conftest import visible_text
from measures.calibration_runs import calibration_run
from measures.models import Calibration, ClinicThresholds, ThresholdChange
from measures.tests.test_calibration import clinic_of_ratings

pytestmark = pytest.mark.django_db

PAGE = reverse("measures:thresholds")
CALIBRATE = reverse("measures:thresholds-calibrate")
RESET = reverse("measures:thresholds-reset")


def apply_url(calibration: Calibration) -> str:
    return reverse("measures:thresholds-apply", args=[calibration.pk])


def test_anonymous_is_sent_to_log_in_from_every_route(client: Any) -> None:
    for url, method in [
        (PAGE, "get"),
        (CALIBRATE, "post"),
        (RESET, "post"),
        ("/thresholds/calibrations/1/apply/", "post"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("someone", ["therapist", "supervisor", "outsider"])
def test_only_clinic_admins_may_come_in(client: Any, someone: str, request: Any) -> None:
    client.force_login(request.getfixturevalue(someone))
    assert client.get(PAGE).status_code == 403
    assert client.post(CALIBRATE).status_code == 403
    assert client.post(RESET).status_code == 403
    assert not Calibration.objects.exists() and not ThresholdChange.objects.exists()


def test_the_page_shows_the_thresholds_in_use_and_no_calibration_yet(
    client: Any, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Thresholds for Riverside" in html and "No calibration yet" in html
    assert "These are the installation" in html and "Go back to the defaults" not in html
    assert "Reliable change" in html and "1.52" in html  # 1.96 × 1.0 × √0.6
    assert "Thresholds" in html  # in the navigation, for clinic admins


def test_calibrating_keeps_a_proposal_and_changes_nothing_yet(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    client.force_login(clinic_admin)
    response = client.post(CALIBRATE, follow=True)
    assert response.redirect_chain[-1][0] == PAGE
    run = Calibration.objects.get()
    assert (run.clinic, run.created_by) == (rated, clinic_admin)
    assert not ClinicThresholds.objects.exists()
    html = response.content.decode()
    assert "review the proposal below" in html and "Apply the proposal" in html
    assert "New concerns per therapist per week" in html and "All concerns" in html
    curves = json.loads(
        html.split('id="threshold-curves" type="application/json">')[1].split("</script>")[0]
    )
    assert {curve["name"] for curve in curves} == {
        "reliable_change",
        "dimension_drop",
        "trend_min_fall",
        "discrepancy",
    }
    assert "js/threshold-curves.js" in html and "chart.umd.js" in html


def test_too_little_data_says_so_and_offers_nothing_to_apply(
    client: Any, clinic_admin: User, therapist: User
) -> None:
    clinic_of_ratings(therapist, clients=4)
    client.force_login(clinic_admin)
    html = client.post(CALIBRATE, follow=True).content.decode()
    assert "Too few ratings to calibrate" in html
    assert "Apply the proposal" not in html


def test_applying_is_one_click_recorded_with_who_and_when(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    run = calibration_run(clinic=rated, actor=clinic_admin)
    client.force_login(clinic_admin)
    response = client.post(apply_url(run), follow=True)
    assert "now apply to every new evaluation" in response.content.decode()
    thresholds = ClinicThresholds.objects.get(clinic=rated)
    assert thresholds.sd == run.result["proposed"]["sd"]
    change = ThresholdChange.objects.get()
    assert (change.changed_by, change.calibration) == (clinic_admin, run)
    html = client.get(PAGE).content.decode()
    assert "applied a calibration" in html and "Apply the proposal" not in html


def test_applying_twice_is_refused_with_a_message(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    run = calibration_run(clinic=rated, actor=clinic_admin)
    client.force_login(clinic_admin)
    client.post(apply_url(run))
    response = client.post(apply_url(run), follow=True)
    assert "already been applied" in response.content.decode()
    assert ThresholdChange.objects.count() == 1


def test_another_clinics_calibration_is_not_found(
    client: Any, clinic_admin: User, other_clinic: Clinic, outsider: User
) -> None:
    clinic_of_ratings(outsider)
    their_admin = ClinicAdminFactory(clinic=other_clinic)
    theirs = calibration_run(clinic=other_clinic, actor=their_admin)
    client.force_login(clinic_admin)
    assert client.post(apply_url(theirs)).status_code == 404
    assert client.post("/thresholds/calibrations/999999/apply/").status_code == 404
    assert not ClinicThresholds.objects.exists()


def test_resetting_goes_back_to_the_defaults_and_is_recorded(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    run = calibration_run(clinic=rated, actor=clinic_admin)
    client.force_login(clinic_admin)
    client.post(apply_url(run))
    response = client.post(RESET, follow=True)
    assert "follows the installation's default thresholds" in visible_text(
        response.content.decode()
    )
    assert ClinicThresholds.objects.get().overrides() == {}
    assert "went back to the defaults" in client.get(PAGE).content.decode()


@pytest.mark.parametrize("url", [CALIBRATE, RESET])
def test_changes_take_a_post(client: Any, clinic_admin: User, url: str) -> None:
    client.force_login(clinic_admin)
    assert client.get(url).status_code == 405


def test_no_stored_code_reaches_the_page(client: Any, clinic_admin: User, rated: Clinic) -> None:
    calibration_run(clinic=rated, actor=clinic_admin)
    client.force_login(clinic_admin)
    text = visible_text(client.get(PAGE).content.decode())
    assert "Fall in one dimension" in text
    for code in ("reliable_drop", "dimension_drop", "below_cutoff", "trend_min_fall", "[{", "_"):
        assert code not in text


def test_an_older_proposal_posted_from_a_page_left_open_is_refused(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    """Two admins: one calibrates again while the other's page shows the first proposal.
    The page offers only the latest; the old one, posted, would set thresholds nobody
    was shown against the ones in use."""
    older = calibration_run(clinic=rated, actor=clinic_admin)
    calibration_run(clinic=rated, actor=ClinicAdminFactory(clinic=rated))
    client.force_login(clinic_admin)
    response = client.post(apply_url(older), follow=True)
    assert "A newer calibration has been worked out" in response.content.decode()
    assert not ClinicThresholds.objects.exists() and not ThresholdChange.objects.exists()
    older.refresh_from_db()
    assert older.applied_at is None


def test_a_proposal_is_refused_once_the_thresholds_it_was_compared_with_changed(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    """The proposal's table compares it with the thresholds in use when it was worked out;
    once another admin has changed them, applying it is a decision taken on numbers that no
    longer hold, so the page asks for a new calibration instead of offering the button."""
    client.force_login(clinic_admin)
    client.post(apply_url(calibration_run(clinic=rated, actor=clinic_admin)))
    latest = calibration_run(clinic=rated, actor=clinic_admin)  # compared with the applied
    page_left_open = client.get(PAGE).content.decode()
    assert "Apply the proposal" in page_left_open
    client.post(RESET)  # another admin goes back to the defaults
    html = client.get(PAGE).content.decode()
    assert "Apply the proposal" not in html and "calibrate again" in html
    response = client.post(apply_url(latest), follow=True)
    assert "calibrate again" in response.content.decode()
    assert ClinicThresholds.objects.get().overrides() == {}
    assert ThresholdChange.objects.count() == 2  # the first applied, then the reset
    latest.refresh_from_db()
    assert latest.applied_at is None


def test_going_back_to_the_defaults_twice_records_it_once(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    """A double click, or a second admin's page left open: the second finds nothing of the
    clinic's own to go back from, says so, and records nothing (README "Who sees what": a
    save that changed nothing records nothing)."""
    client.force_login(clinic_admin)
    client.post(apply_url(calibration_run(clinic=rated, actor=clinic_admin)))
    client.post(RESET)
    entries = AuditEntry.objects.count()
    response = client.post(RESET, follow=True)
    assert "already follows the installation's default thresholds" in visible_text(
        response.content.decode()
    )
    assert ThresholdChange.objects.count() == 2  # applied, then reset once
    assert AuditEntry.objects.count() == entries


def test_going_back_to_the_defaults_before_any_change_records_nothing(
    client: Any, clinic_admin: User
) -> None:
    client.force_login(clinic_admin)
    client.post(RESET)
    assert not ClinicThresholds.objects.exists() and not ThresholdChange.objects.exists()
    assert not AuditEntry.objects.exists()


def rates_header(html: str) -> str:
    """The calibration's table's column of the thresholds its replay used."""
    head = html.split('class="table table-sm calibration-rates">')[1].split("</thead>")[0]
    return head.split('<th scope="col">')[2].split("</th>")[0]


def curve_labels(html: str) -> set[str]:
    curves = json.loads(
        html.split('id="threshold-curves" type="application/json">')[1].split("</script>")[0]
    )
    return {curve["current_label"] for curve in curves}


def test_the_replays_thresholds_are_in_use_now_only_while_they_still_are(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    """The table and curves keep the counts under the thresholds of when the calibration
    was worked out: once it is applied (or the thresholds change), those are not the ones
    in use now."""
    run = calibration_run(clinic=rated, actor=clinic_admin)
    client.force_login(clinic_admin)
    fresh = client.get(PAGE).content.decode()
    assert rates_header(fresh) == "In use now"
    assert curve_labels(fresh) == {"In use now"}
    assert "The grey point marks the value in use now" in fresh
    client.post(apply_url(run))
    applied = client.get(PAGE).content.decode()
    assert rates_header(applied) == "In use when calibrated"
    assert curve_labels(applied) == {"In use when calibrated"}
    assert "The grey point marks the value in use when calibrated" in applied
    client.post(RESET)  # back to the thresholds it was compared with
    assert rates_header(client.get(PAGE).content.decode()) == "In use now"


def test_a_calibration_that_kept_no_record_of_its_thresholds_says_when_calibrated(
    client: Any, clinic_admin: User, rated: Clinic
) -> None:
    """One kept before calibrations said what they compared with: not known to be now's."""
    run = calibration_run(clinic=rated, actor=clinic_admin)
    Calibration.objects.filter(pk=run.pk).update(
        result={name: value for name, value in run.result.items() if name != "current"}
    )
    client.force_login(clinic_admin)
    assert rates_header(client.get(PAGE).content.decode()) == "In use when calibrated"
