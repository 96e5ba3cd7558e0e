"""`manage.py seed_demo`: a demo clinic whose caseloads look like real practice.

The writing is in `demo.seed`: every row through the services, weeks of
practice replayed in time order so each concern opens, grows and is closed as it
would have been.
"""

from __future__ import annotations

import random
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from clients.models import Clinic
from demo.seed import (
    DEMO_CLINIC_SLUG,
    DEMO_PASSWORD,
    STAFF,
    demo_counts,
    seed_demo_clinic,
)

SEED = 2026


class Command(BaseCommand):
    help = "Create a demo clinic with staff log-ins and realistic alliance histories."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any clinic exists, so a real database never gets demo data.",
        )

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        started = time.monotonic()
        with transaction.atomic():
            if Clinic.objects.filter(slug=DEMO_CLINIC_SLUG).exists():
                self.stdout.write("The demo clinic exists already; nothing changed.")
            elif if_empty and Clinic.objects.exists():
                self.stdout.write("This database has clinics already; no demo data added.")
                return
            else:
                clinic = seed_demo_clinic(random.Random(SEED), now=timezone.now())
                self._write_counts(clinic, time.monotonic() - started)
        self._write_logins()

    def _write_counts(self, clinic: Clinic, seconds: float) -> None:
        counts = demo_counts(clinic)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {clinic.name}: {counts['staff']} staff, {counts['clients']} clients, "
                f"{counts['sessions']} sessions, {counts['ratings']} ratings, "
                f"{counts['outcome answers']} outcome answers, "
                f"{counts['concerns']} concerns ({counts['open']} to review) ({seconds:.1f}s)."
            )
        )

    def _write_logins(self) -> None:
        self.stdout.write("")
        self.stdout.write("Demo log-ins:")
        self.stdout.write(f"  {'username':<13} {'password':<15} roles")
        for login in STAFF:
            roles = ", ".join(login.roles)
            self.stdout.write(f"  {login.username:<13} {DEMO_PASSWORD:<15} {roles}")
        self.stdout.write("")
        self.stdout.write(
            "Sign in at http://127.0.0.1:8000/ (Django admin: http://127.0.0.1:8000/admin/)."
        )
        self.stdout.write(
            "Clinic admins must use two-factor sign-in: at the first sign-in, scan the QR code "
            "with an authenticator app (or `oathtool --totp -b KEY` with the key shown)."
        )
