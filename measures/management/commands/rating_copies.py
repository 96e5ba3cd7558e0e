"""`manage.py rating_copies [--repair]`: check each session's copies of its ratings' numbers.

Sessions carry the client's alliance score and the therapist's guess for the team's pages
(Session.client_score); every rating saved through the app writes them. Something that
writes past the models — a hand-made SQL fix, a restore of one table — can leave them
behind. This counts the sessions whose copies disagree with their ratings and fails if
there are any (for a monitor or a deploy step); `--repair` writes them again from the
ratings, and the copies their clients carry of their latest score (`Client.evaluated_score`,
which detection otherwise writes).

The sessions are checked (and repaired) a slice of ids at a time, with a progress bar on
stderr: a health system's 600,000 sessions take about 7 seconds, and each slice's repair
commits on its own.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from alliance.progress import Progress
from measures.models import (
    copy_evaluated_to_clients,
    copy_ratings_to_sessions,
    sessions_with_stale_copies,
)
from sessions.models import Session

SLICE = 20_000  # sessions a statement


class Command(BaseCommand):
    help = "Check that each session's copies of its ratings' numbers agree; --repair them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair", action="store_true", help="write the copies that disagree again"
        )

    def handle(self, *args: Any, repair: bool, **options: Any) -> None:
        count = 0
        total = Session.objects.count()
        with Progress("Checking the sessions", total, stream=sys.stderr, unit="sessions") as bar:
            after = 0
            while ids := list(
                Session.objects.filter(pk__gt=after)
                .order_by("pk")
                .values_list("pk", flat=True)[:SLICE]
            ):
                in_slice = Session.objects.filter(pk__gte=ids[0], pk__lte=ids[-1])
                clients: list[int] = []
                with transaction.atomic():
                    stale = sessions_with_stale_copies(in_slice).values("pk")
                    found = stale.count()
                    if repair and found:
                        clients = list(
                            Session.objects.filter(pk__in=stale).values_list("client_id", flat=True)
                        )
                        copy_ratings_to_sessions(Session.objects.filter(pk__in=stale))
                # Their clients' copies read the sessions' (the dashboard's latest scores),
                # and no sweep would look at them: nothing of theirs was stamped as changed.
                copy_evaluated_to_clients(clients)
                count += found
                after = ids[-1]
                bar.advance(len(ids))
        if not count:
            self.stdout.write("Every session's copies agree with its ratings.")
        elif repair:
            self.stdout.write(f"Wrote the copies of {count} session(s) again from their ratings.")
        else:
            raise CommandError(
                f"{count} session(s) hold copies that disagree with their ratings; "
                "run `manage.py rating_copies --repair` to write them again."
            )
