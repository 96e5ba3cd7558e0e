"""The audit trail: who read or changed which clinical record, when and from where.

Views record reads (`viewed(request, record)`, `exported(request, record)`); services
record writes (`written(actor, action, record, fields=[…])`), wherever they are called
from — a page, the admin, a command or a task. Neither ever stores a value: a write
names the fields it changed, never what they held or now hold.

The address and the place a write came from are those of the request being served,
kept for its duration by `AuditMiddleware` (in a context variable, so threads and async
tasks never see each other's); outside a request (commands, Celery tasks) there is no
address, and the actor is "system" unless a service is told who acted.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models
from django.http import HttpRequest, HttpResponse
from psycopg.types.json import Jsonb

from alliance.net import client_address
from clients.models import AuditAction, AuditEntry, Client, Clinic

SYSTEM = "system"
CLIENT_LINK = "client link"


@dataclass(frozen=True)
class Origin:
    """Where the current request came from: the address, the page or tool, and its method."""

    address: str | None
    place: str
    method: str = ""


# A HEAD request is answered with the headers alone: the page, file or API answer is
# built but never sent, so nobody viewed or exported anything (a tool checking that an
# address answers, a link preview, a proxy). Recording it as an export put data leaving
# the clinic in the trail that never left.
READS = frozenset({AuditAction.VIEWED, AuditAction.EXPORTED})


_origin: contextvars.ContextVar[Origin | None] = contextvars.ContextVar(
    "alliance_audit_origin", default=None
)


class AuditMiddleware:
    """Keeps the request's address and page for the writes it causes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        origin = Origin(address=client_address(request) or None, place="", method=request.method)
        token = _origin.set(origin)
        try:
            return self.get_response(request)
        finally:
            _origin.reset(token)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        match = request.resolver_match
        place = (
            "admin" if match and match.namespace == "admin" else (match.view_name if match else "")
        )
        current = _origin.get()
        _origin.set(
            Origin(
                address=current.address if current else None,
                place=place or "",
                method=current.method if current else request.method or "",
            )
        )


def _nothing_sent(action: str) -> bool:
    """Whether `action` is a read (`READS`) made for a HEAD request, which sends no body."""
    origin = _origin.get()
    return action in READS and origin is not None and origin.method == "HEAD"


def _client_id(record: models.Model) -> int | None:
    """The client a record is about: itself, or the one it belongs to."""
    if isinstance(record, Client):
        return record.pk
    for path in ("client_id", "session.client_id", "concern.client_id"):
        value: Any = record
        for part in path.split("."):
            value = getattr(value, part, None)
            if value is None:
                break
        if value is not None:
            return value
    return None


def _cached_client(record: models.Model) -> Client | None:
    """The record's client if already loaded with it (select_related): no query."""
    for path in (("client",), ("session", "client"), ("concern", "client")):
        value: Any = record
        for name in path:
            value = value._state.fields_cache.get(name) if isinstance(value, models.Model) else None
        if isinstance(value, Client):
            return value
    return None


def _clinic_id(record: models.Model, client_id: int | None, actor: Any) -> int | None:
    clinic_id = getattr(record, "clinic_id", None)
    if clinic_id is None and isinstance(record, Clinic):
        clinic_id = record.pk
    if clinic_id is None and (client := _cached_client(record)) is not None:
        clinic_id = client.clinic_id
    if clinic_id is None and client_id is not None:
        clinic_id = Client.objects.filter(pk=client_id).values_list("clinic_id", flat=True).first()
    return clinic_id if clinic_id is not None else getattr(actor, "clinic_id", None)


def _entry(
    *,
    actor: Any,
    action: str,
    record: models.Model,
    fields: Iterable[str] = (),
    place: str = "",
    client_id: int | None = None,
    clinic_id: int | None = None,
) -> AuditEntry:
    """The entry for one record, not yet saved."""
    origin = _origin.get()
    signed_in = actor is not None and getattr(actor, "is_authenticated", False)
    client_id = client_id if client_id is not None else _client_id(record)
    if clinic_id is None:
        clinic_id = _clinic_id(record, client_id, actor if signed_in else None)
    return AuditEntry(
        clinic_id=clinic_id,
        actor=actor if signed_in else None,
        actor_name=actor.get_username() if signed_in else (actor or SYSTEM),
        address=origin.address if origin else None,
        action=action,
        model=record._meta.label_lower,
        object_id=str(record.pk),
        client_id=client_id,
        fields=sorted(set(fields)),
        place=place or (origin.place if origin else ""),
    )


def _record(**entry: Any) -> AuditEntry | None:
    if _nothing_sent(entry["action"]):
        return None
    saved = _entry(**entry)
    saved.save()
    return saved


def viewed(request: HttpRequest, record: models.Model, *, place: str = "") -> AuditEntry | None:
    """`request.user` opened a page showing `record` (not for a HEAD request: `READS`)."""
    return _record(actor=request.user, action=AuditAction.VIEWED, record=record, place=place)


def exported(request: HttpRequest, record: models.Model, *, place: str = "") -> AuditEntry | None:
    """`request.user` downloaded `record`'s data (a CSV, an export; not for a HEAD
    request: `READS`)."""
    return _record(actor=request.user, action=AuditAction.EXPORTED, record=record, place=place)


def written(
    actor: Any,
    action: str,
    record: models.Model,
    *,
    fields: Iterable[str] = (),
    place: str = "",
    client_id: int | None = None,
    clinic_id: int | None = None,
) -> AuditEntry | None:
    """A service created, changed, voided or erased `record`. `actor` is a member of
    staff, or a word for who acted without an account (`CLIENT_LINK`, `SYSTEM`).

    `clinic_id` is for a record that names no clinic or client of its own (a
    supervision link), or to save the query that would look it up. (Nothing for a read
    made for a HEAD request: `READS`.)"""
    return _record(
        actor=actor,
        action=action,
        record=record,
        fields=fields,
        place=place,
        client_id=client_id,
        clinic_id=clinic_id,
    )


def written_for_clients(
    actor: Any,
    action: str,
    clinic_of: Mapping[int, int],
    *,
    fields: Iterable[str] = (),
    place: str = "",
) -> None:
    """One entry per client (client id → clinic id) for the same act on each — several
    clients moved, or sent by the API — written in one insert, not one per client. (Nothing
    for a read made for a HEAD request: `READS`.)"""
    if _nothing_sent(action):
        return
    entries = [
        _entry(
            actor=actor,
            action=action,
            record=Client(pk=client_id, clinic_id=clinic_id),
            client_id=client_id,
            clinic_id=clinic_id,
            fields=fields,
            place=place,
        )
        for client_id, clinic_id in sorted(clinic_of.items())
    ]
    AuditEntry.objects.bulk_create(entries)


def exported_clients(actor: Any, clinic_of: Mapping[int, int], *, place: str = "") -> None:
    """`actor` was sent the records of these clients (client id → clinic id)."""
    written_for_clients(actor, AuditAction.EXPORTED, clinic_of, place=place)


def created_in_bulk(
    actor: Any, records: Sequence[models.Model], *, clinic_ids: Mapping[int, int]
) -> None:
    """`records` (saved, each with a `client_id`) were created together: one entry each,
    written together. `clinic_ids` maps each client to its clinic, so nothing is looked up."""
    entries = [
        _entry(
            actor=actor,
            action=AuditAction.CREATED,
            record=record,
            client_id=record.client_id,  # type: ignore[attr-defined]
            clinic_id=clinic_ids[record.client_id],  # type: ignore[attr-defined]
        )
        for record in records
    ]
    if connection.vendor == "postgresql":
        _copy(entries)
    else:
        AuditEntry.objects.bulk_create(entries)


_COPIED = (
    "at, clinic_id, actor_id, actor_name, address, action, model, object_id, client_id, "
    "fields, place"
)


def _copy(entries: list[AuditEntry]) -> None:
    """COPY the entries: bulk_create prepares every field of every row in Python, which
    was most of the cost of recording the 10,000 concerns a huge clinic's first sweep
    opens."""
    if not entries:
        return
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({_COPIED}) FROM STDIN") as copy,
    ):
        for e in entries:
            copy.write_row(
                (e.at, e.clinic_id, e.actor_id, e.actor_name, e.address, e.action, e.model,
                 e.object_id, e.client_id, Jsonb(e.fields), e.place)
            )  # fmt: skip


def changed_fields(before: dict[str, Any], after: models.Model) -> list[str]:
    """The names of the fields whose values differ between `before` and `after`."""
    return [name for name, value in before.items() if getattr(after, name) != value]
