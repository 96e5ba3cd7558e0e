"""`manage.py erase_past_retention`: run the retention task now, and say what it did."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from alliance.progress import Stages
from measures.retention import retention_erase


class Command(BaseCommand):
    help = "Erase discharged clients past their clinic's retention period; counts per clinic."

    def handle(self, *args: Any, **options: Any) -> None:
        # Each clinic's progress on stderr, so stdout stays the counts alone.
        with Stages(stream=sys.stderr, unit="clients") as stages:
            done = retention_erase(progress=stages)
        if not done:
            self.stdout.write("No clinic has a retention period: nothing to do.")
        for slug, count in done.items():
            self.stdout.write(f"{slug}: {count} client(s) erased.")
