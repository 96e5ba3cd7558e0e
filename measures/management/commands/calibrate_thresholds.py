"""`manage.py calibrate_thresholds --clinic ID`: estimate a clinic's thresholds from its ratings.

Shows each stage's progress on stderr (reading the clinic's histories, then replaying them
under each set of thresholds); a clinic of 25,000 clients takes about half a minute.

Prints the estimates, the proposal, and what the current and proposed thresholds
would have raised per therapist per week over the last 12 weeks. The result is
kept for the clinic's admins, who apply it (or not) on the Thresholds page: this
command never changes a threshold.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alliance.fields import record_id_argument
from alliance.progress import Stages
from clients.models import Clinic
from measures.calibration import READING, REPLAYING, rules_in
from measures.calibration_runs import CalibrationRunning, calibration_run
from measures.evidence import rule_name

UNITS = {READING: "clients", REPLAYING: "client histories"}
NAMES = {
    "sd": "spread of scores between clients (SD)",
    "reliability": "session-to-session reliability (r)",
    "reliable_change": "reliable change",
    "dimension_drop": "fall in one dimension",
    "trend_min_fall": "total fall of a slide",
    "discrepancy": "therapist above the client by",
}


class Command(BaseCommand):
    help = "Estimate a clinic's thresholds from its own ratings; applying is on the page."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clinic", type=record_id_argument, required=True, metavar="ID")

    def handle(self, *args: Any, clinic: int, **options: Any) -> None:
        found = Clinic.objects.filter(pk=clinic).first()
        if found is None:
            raise CommandError(f"No clinic with id {clinic}.")
        # Each stage's progress on stderr, so what the command prints on stdout stays the
        # result alone.
        with Stages(stream=sys.stderr, unit=UNITS) as stages:
            try:
                result = calibration_run(clinic=found, stages=stages).result
            except CalibrationRunning as running:
                raise CommandError(str(running)) from None
        estimates = result["estimates"]
        self.stdout.write(
            f"{found}: {estimates['clients']} clients ({estimates['stable_clients']} stable), "
            f"{estimates['ratings']} client ratings, {estimates['pairs']} successive pairs."
        )
        for note in estimates["notes"]:
            self.stdout.write(note)
        if not result["enough_data"]:
            return
        proposed = {**result["proposed"], "reliable_change": result["proposed_reliable_change"]}
        self.stdout.write("")
        self.stdout.write(f"  {'threshold':<40} {'now':>8} {'proposed':>9}")
        for name, label in NAMES.items():
            self.stdout.write(
                f"  {label:<40} {result['current'][name]:>8.2f} {proposed[name]:>9.2f}"
            )
        rates = result["rates"]
        self.stdout.write("")
        self.stdout.write(
            f"New concerns per therapist per week over the last {result['window_weeks']} weeks:"
        )
        for rule in rules_in([rates["current"], rates["proposed"]]):
            name = "All concerns" if rule == "all" else rule_name(rule)
            self.stdout.write(
                f"  {name:<40} {rates['current'].get(rule, 0.0):>8.2f} "
                f"{rates['proposed'].get(rule, 0.0):>9.2f}"
            )
        self.stdout.write("")
        self.stdout.write("A clinic admin can apply the proposal on the Thresholds page.")
