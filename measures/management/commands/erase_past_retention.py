"""`manage.py erase_past_retention`: run the retention task now, and say what it did."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from measures.retention import retention_erase


class Command(BaseCommand):
    help = "Erase discharged clients past their clinic's retention period; counts per clinic."

    def handle(self, *args: Any, **options: Any) -> None:
        done = retention_erase()
        if not done:
            self.stdout.write("No clinic has a retention period: nothing to do.")
        for slug, count in done.items():
            self.stdout.write(f"{slug}: {count} client(s) erased.")
