"""`manage.py seed_demo`: a demo clinic whose caseloads look like real practice.

The writing is in `demo.seed`: every row through the services, weeks of
practice replayed in time order so each concern opens, grows and is closed as it
would have been.

`--scale large` (or `huge`) writes a clinic the size of a health system instead, in bulk
(`demo.scale`), then sweeps it for signals and concerns; for benchmarks, into an empty
database (`--flush` empties it first).
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from alliance.progress import Progress
from clients.models import Clinic, User
from demo.scale import SCALES, Scale, scale_logins, seed_scale_clinic
from demo.seed import (
    DEMO_CLINIC_SLUG,
    DEMO_PASSWORD,
    STAFF,
    demo_counts,
    seed_demo_clinic,
)
from measures.models import OutcomeAnswer, Rating, Sweep
from measures.sweeps import sweep_run
from sessions.models import Session

SEED = 2026


class Command(BaseCommand):
    help = "Create a demo clinic with staff log-ins and realistic alliance histories."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any clinic exists, so a real database never gets demo data.",
        )
        parser.add_argument(
            "--scale",
            choices=sorted(SCALES),
            help="Instead of the demo clinic, one the size of a health system, for benchmarks: "
            "large (50 therapists, 1,500 clients, 60,000 sessions, about 100,000 ratings) or "
            "huge (500 therapists, 25,000 clients, 600,000 sessions, about 1,000,000 ratings). "
            "Only into an empty database.",
        )
        parser.add_argument(
            "--flush",
            action="store_true",
            help="With --scale: delete everything in the database first (every table).",
        )
        parser.add_argument(
            "--no-sweep",
            action="store_true",
            help="With --scale: leave out the detection sweep, so no signals, concerns or "
            "latest scores on the dashboard yet.",
        )

    def handle(
        self,
        *args: Any,
        if_empty: bool = False,
        scale: str | None = None,
        flush: bool = False,
        no_sweep: bool = False,
        **options: Any,
    ) -> None:
        if scale is None and (flush or no_sweep):
            raise CommandError("--flush and --no-sweep go with --scale only.")
        if scale is not None:
            if if_empty:
                raise CommandError(
                    "--if-empty and --scale do not go together: --scale needs "
                    "an empty database already."
                )
            self._seed_at_scale(SCALES[scale], flush=flush, sweep=not no_sweep)
            return
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

    def _seed_at_scale(self, scale: Scale, *, flush: bool, sweep: bool) -> None:
        # An earlier sweep's record counts as data (a `detect_alliance_drops`, or beat, run on
        # the freshly migrated database): the seed's own sweep would cover only the clients
        # changed since it, and skip most histories, dated back before it.
        if Clinic.objects.exists() or User.objects.exists() or Sweep.objects.exists():
            if not flush:
                raise CommandError(
                    "This database has data already (clinics, staff or a detection sweep's "
                    "record); --scale writes only into an empty one. "
                    "Add --flush to delete everything in it first."
                )
            call_command("flush", interactive=False, verbosity=0)  # every table, sweeps too
        started = time.monotonic()
        # Progress on stderr, so stdout holds the result alone.
        with (
            transaction.atomic(),
            Progress("Seeding", scale.sessions, stream=sys.stderr, unit="sessions") as progress,
        ):
            clinic = seed_scale_clinic(
                random.Random(SEED),
                scale,
                now=timezone.now(),
                password=DEMO_PASSWORD,
                on_sessions=progress.update,
            )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # the planner's statistics, before anything reads
        seeded = time.monotonic() - started
        self._write_scale_counts(clinic, seeded)
        if sweep:
            swept = time.monotonic()
            with Progress("Sweep", None, stream=sys.stderr, unit="clients") as progress:
                run = sweep_run(progress=progress.expecting)
            self.stdout.write(
                f"Swept {run.clients_evaluated:,} clients: {run.flags_created:,} signals, "
                f"{run.concerns_opened:,} concerns ({time.monotonic() - swept:.1f}s)."
            )
        self.stdout.write("")
        self.stdout.write("Log-ins (the same password for every member of staff):")
        self.stdout.write(f"  {'username':<22} {'password':<15} roles")
        for login in scale_logins(scale):
            self.stdout.write(f"  {login.username:<22} {DEMO_PASSWORD:<15} {login.roles}")
        self.stdout.write(
            "Clinic admins must use two-factor sign-in; therapists are scale-therapist001 to "
            f"scale-therapist{scale.therapists:03d}."
        )

    def _write_scale_counts(self, clinic: Clinic, seconds: float) -> None:
        sessions = Session.objects.filter(client__clinic=clinic)
        ratings = Rating.objects.filter(session__client__clinic=clinic)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {clinic.name}: {clinic.staff.count():,} staff, "
                f"{clinic.clients.count():,} clients, {sessions.count():,} sessions, "
                f"{ratings.filter(rater='client').count():,} client and "
                f"{ratings.filter(rater='therapist').count():,} therapist ratings, "
                f"{OutcomeAnswer.objects.filter(session__client__clinic=clinic).count():,} "
                f"outcome answers ({seconds:.1f}s)."
            )
        )

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
        base = settings.ALLIANCE_BASE_URL.rstrip("/")
        self.stdout.write(f"Sign in at {base}/ (Django admin: {base}/admin/).")
        self.stdout.write(
            "Clinic admins must use two-factor sign-in: at the first sign-in, scan the QR code "
            "with an authenticator app (or `oathtool --totp -b KEY` with the key shown)."
        )
