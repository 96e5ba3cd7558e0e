"""What `client_export` and `client_erase` share: who acts, which client, and the question.

Both commands act as a named clinic admin (`--as USERNAME`), reach the client through
that person's scope, and ask for the client's id (or label) to be typed back before
they do anything; `--yes` answers for scripts.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from django.core.management.base import CommandError, CommandParser

from clients.models import Client, User
from clients.scoping import may_exercise_rights_of

NOT_AN_ADMIN = (
    "{username} is not a clinic admin of this client's clinic: only its clinic admins "
    "export or erase a client's record."
)


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument("client_id", type=int, metavar="ID", help="The client's id.")
    parser.add_argument(
        "--as",
        dest="username",
        required=True,
        metavar="USERNAME",
        help="The clinic admin of the client's clinic on whose authority this is done.",
    )
    parser.add_argument(
        "--yes", action="store_true", help="Do not ask for confirmation (for scripts)."
    )


def actor_and_client(username: str, client_id: int) -> tuple[User, Client]:
    """The acting clinic admin and the client in their scope, or a clear refusal (the same
    for a client that does not exist and one out of reach)."""
    # In any case, as the log-in takes it (a username is the same in capitals).
    actor = User.objects.signing_in_as(username).select_related("clinic").first()
    if actor is None:
        raise CommandError(f"No member of staff is called {username}.")
    client = (
        Client.objects.visible_to(actor).select_related("clinic", "therapist").filter(pk=client_id)
    ).first()
    if client is None or not may_exercise_rights_of(actor, client):
        raise CommandError(NOT_AN_ADMIN.format(username=username) + f" (client {client_id})")
    return actor, client


def confirm(client: Client, question: str, options: dict[str, Any], out: TextIO) -> None:
    """Ask `question` and read the client's id or label back; anything else stops here."""
    if options["yes"]:
        return
    stdin: TextIO = options.get("stdin") or sys.stdin
    out.write(f"{question}\nType the client's id ({client.pk}) or label to go on: ")
    out.flush()
    answer = stdin.readline().strip()
    if answer not in {str(client.pk), client.label}:
        raise CommandError("Not confirmed: nothing was done.")
