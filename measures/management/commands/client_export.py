"""`manage.py client_export ID --as USERNAME [--out DIR]`: everything held about a client.

Writes `client-<id>.json` (the whole record, `measures.rights.client_export`) and
`client-<id>.html` (a summary for people) into DIR, and records the export in the
audit trail. For the client's clinic admins; asks first unless given `--yes`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from measures.management import rights as cli
from measures.rights import client_export, client_summary_html


class Command(BaseCommand):
    stealth_options = ("stdin",)  # the answer to the question, in tests
    help = "Export everything held about one client as JSON and a readable HTML summary."

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)
        parser.add_argument(
            "--out", default=".", metavar="DIR", help="Where to write the files (default: here)."
        )

    def handle(self, *args: Any, client_id: int, username: str, out: str, **options: Any) -> None:
        actor, client = cli.actor_and_client(username, client_id)
        folder = Path(out)
        cli.confirm(
            client,
            f"Export everything held about client {client.pk} into {folder}?",
            options,
            self.stdout,
        )
        folder.mkdir(parents=True, exist_ok=True)
        document = client_export(actor=actor, client=client, place="client_export command")
        data = folder / f"client-{client.pk}.json"
        summary = folder / f"client-{client.pk}.html"
        data.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        summary.write_text(client_summary_html(document), encoding="utf-8")
        self.stdout.write(f"Wrote {data}")
        self.stdout.write(f"Wrote {summary}")
