"""`manage.py detect_alliance_drops [--client ID]`: detection without a worker.

For the embedded mode and for people who prefer cron to Celery beat: the same
code the tasks run, synchronously.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alliance.fields import record_id_argument
from alliance.progress import Progress
from clients.models import Client
from measures.detection import evaluate_clients
from measures.sweeps import sweep_run


class Command(BaseCommand):
    help = "Raise the missing signals and concerns: for one client, or a sweep of what changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--client", type=record_id_argument, metavar="ID", help="Evaluate this client only."
        )

    def handle(self, *args: Any, client: int | None = None, **options: Any) -> None:
        if client is not None:
            if not Client.objects.filter(pk=client).exists():
                raise CommandError(f"No client with id {client}.")
            outcome = evaluate_clients([client])
            self.stdout.write(
                f"Client {client} evaluated: {outcome.flags_created} new signal(s), "
                f"{outcome.concerns_opened} new concern(s), "
                f"{outcome.signals_withdrawn} signal(s) withdrawn."
            )
            return
        # On stderr, so what the command prints on stdout stays the result alone.
        with Progress("Sweep", None, stream=sys.stderr, unit="clients") as progress:
            sweep = sweep_run(progress=progress.expecting)
        self.stdout.write(
            f"Sweep evaluated {sweep.clients_evaluated} client(s): "
            f"{sweep.flags_created} new signal(s), {sweep.concerns_opened} new concern(s), "
            f"{sweep.signals_withdrawn} signal(s) withdrawn."
        )
