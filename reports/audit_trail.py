"""The clinic admin's view of the audit trail: its entries, filtered, and their CSV rows.

Entries are read through `AuditEntry.objects.visible_to(user)` (a clinic's own, for its
clinic admins) with one query per page whatever the trail's length: the client's label
comes in the same query, as does who acted (named on the page as the colleague filter names
them, `clients.colleagues.colleague_names`; the CSV keeps the username the entry kept).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet

from alliance.replica import replica_alias
from clients.models import AuditEntry, Client, User
from reports.dashboard import Period
from reports.exports import period_dates

CSV_HEADER = (
    "when",
    "who",
    "address",
    "action",
    "record_type",
    "record_id",
    "client_id",
    "client",
    "fields",
    "place",
)


@dataclass(frozen=True)
class AuditFilters:
    """What the page shows: one colleague's, one client's, one action's entries, or all,
    within a period."""

    period: Period
    actor: User | None = None
    client: Client | None = None
    action: str = ""

    def query(self) -> str:
        """The filters as an address's query string, for the pages and the export."""
        params: dict[str, Any] = {}
        if self.actor is not None:
            params["user"] = self.actor.pk
        if self.client is not None:
            params["client"] = self.client.pk
        if self.action:
            params["action"] = self.action
        if self.period.days:
            params["period"] = self.period.days
        else:
            first, last = period_dates(self.period)
            params |= {"period": "custom", "from": first, "to": last}
        return urlencode(params)


def audit_entries(user: Any, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The entries of `user`'s clinic that match `filters`, newest first."""
    entries = AuditEntry.objects.visible_to(user).filter(
        at__gte=filters.period.start, at__lt=filters.period.end
    )
    if filters.actor is not None:
        entries = entries.filter(actor_id=filters.actor.pk)
    if filters.client is not None:
        entries = entries.filter(client_id=filters.client.pk)
    if filters.action:
        entries = entries.filter(action=filters.action)
    # The actor too, for the page to name them as its filter does (`actor_words`).
    return entries.select_related("client", "actor").order_by("-at", "-pk")


def filename(filters: AuditFilters) -> str:
    first, last = period_dates(filters.period)
    return f"alliance-audit-{first}-{last}.csv"


# What each CSV row is made from, in its order.
CSV_FIELDS = (
    "at", "actor_name", "address", "action", "model", "object_id", "client_id",
    "client__label", "fields", "place",
)  # fmt: skip


def csv_rows(entries: QuerySet[AuditEntry], zone: dt.tzinfo) -> Iterator[list[Any]]:
    """One list per entry, read with one query (from the read replica, if there is one: the
    export's own entry, just written, may be missing from it); times in `zone`, to the second.
    Read as values, not entries: an export of a month of a large clinic is 50,000 rows."""
    actions = dict(AuditEntry.Action.choices)
    rows = entries.using(replica_alias()).values_list(*CSV_FIELDS).iterator(chunk_size=2000)
    for at, actor, address, action, model, object_id, client_id, label, fields, place in rows:
        yield [
            at.astimezone(zone).isoformat(timespec="seconds"),
            actor,
            address or "",
            actions.get(action, action),
            model,
            object_id,
            client_id or "",
            label or "",
            " ".join(fields),
            place,
        ]
