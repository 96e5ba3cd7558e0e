"""`manage.py client_erase ID --as USERNAME [--yes]`: anonymise a discharged client.

Overwrites the client's personal fields and every free text about them, deletes no row,
and records the erasure (field names only) in the audit trail — `measures.rights`.
For the client's clinic admins; asks for the client's id or label to be typed back.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from measures.management import rights as cli
from measures.rights import client_erase


class Command(BaseCommand):
    stealth_options = ("stdin",)  # the answer to the question, in tests
    help = "Erase (anonymise) a discharged client's personal data; nothing is deleted."

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, client_id: int, username: str, **options: Any) -> None:
        actor, client = cli.actor_and_client(username, client_id)
        keeps = client.clinic.keep_numbers_after_erasure
        cli.confirm(
            client,
            f"Erase client {client.pk}'s label, external ID, e-mail, comments and notes? "
            f"This cannot be undone. Their numbers {'stay' if keeps else 'stop counting'} "
            "in the clinic's statistics.",
            options,
            self.stdout,
        )
        try:
            erased = client_erase(actor=actor, client=client, place="client_erase command")
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Erased client {erased.pk}: now {erased.label}.")
