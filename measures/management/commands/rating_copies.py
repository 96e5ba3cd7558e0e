"""`manage.py rating_copies [--repair]`: check each session's copies of its ratings' numbers.

Sessions carry the client's alliance score and the therapist's guess for the team's pages
(Session.client_score); every rating saved through the app writes them. Something that
writes past the models — a hand-made SQL fix, a restore of one table — can leave them
behind. This counts the sessions whose copies disagree with their ratings and fails if
there are any (for a monitor or a deploy step); `--repair` writes them again from the
ratings, in one statement.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from measures.models import copy_ratings_to_sessions, sessions_with_stale_copies
from sessions.models import Session


class Command(BaseCommand):
    help = "Check that each session's copies of its ratings' numbers agree; --repair them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair", action="store_true", help="write the copies that disagree again"
        )

    def handle(self, *args: Any, repair: bool, **options: Any) -> None:
        stale = sessions_with_stale_copies(Session.objects.all())
        count = stale.count()
        if not count:
            self.stdout.write("Every session's copies agree with its ratings.")
            return
        if not repair:
            raise CommandError(
                f"{count} session(s) hold copies that disagree with their ratings; "
                "run `manage.py rating_copies --repair` to write them again."
            )
        copy_ratings_to_sessions(Session.objects.filter(pk__in=stale.values("pk")))
        self.stdout.write(f"Wrote the copies of {count} session(s) again from their ratings.")
