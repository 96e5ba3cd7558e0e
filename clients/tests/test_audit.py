"""The audit trail: what an entry holds, that it only grows, and who reads it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError, IntegrityError
from django.test import RequestFactory

from clients import audit
from clients.models import AuditAction, AuditEntry, AuditIsAppendOnly, Client, User
from sessions.tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def request_by(user: User, address: str = "203.0.113.7") -> Any:
    request = RequestFactory().get("/", REMOTE_ADDR=address)
    request.user = user
    return request


def test_a_read_names_who_what_and_the_client_never_a_value(
    therapist: User, client_record: Client
) -> None:
    session = SessionFactory(client=client_record, notes="Talked about her sister")
    middleware = audit.AuditMiddleware(lambda request: audit.viewed(request, session))
    entry = middleware(request_by(therapist))
    stored = AuditEntry.objects.values().get(pk=entry.pk)
    assert stored["action"] == AuditAction.VIEWED
    assert (stored["actor_id"], stored["actor_name"]) == (therapist.pk, therapist.username)
    assert stored["address"] == "203.0.113.7"
    assert (stored["model"], stored["object_id"]) == ("therapy_sessions.session", str(session.pk))
    assert (stored["client_id"], stored["clinic_id"]) == (client_record.pk, client_record.clinic_id)
    assert "sister" not in repr(stored) and client_record.label not in repr(stored)


def test_a_write_names_the_fields_changed_not_their_values(
    therapist: User, client_record: Client
) -> None:
    entry = audit.written(
        therapist, AuditAction.CHANGED, client_record, fields=["label", "email", "label"]
    )
    assert entry.fields == ["email", "label"]
    assert entry.address is None  # no request: a command or a task


def test_without_an_account_the_actor_is_said_in_words(client_record: Client) -> None:
    assert audit.written(None, AuditAction.CREATED, client_record).actor_name == audit.SYSTEM
    link = audit.written(audit.CLIENT_LINK, AuditAction.CREATED, client_record)
    assert (link.actor_id, link.actor_name) == (None, "client link")


def test_an_entry_is_never_changed_or_deleted_through_django(
    therapist: User, client_record: Client
) -> None:
    entry = audit.written(therapist, AuditAction.CHANGED, client_record, fields=["label"])
    entry.fields = []
    with pytest.raises(AuditIsAppendOnly):
        entry.save()
    with pytest.raises(AuditIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(fields=[])
    with pytest.raises(AuditIsAppendOnly):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).fields == ["label"]


def forged_copy_of(entry: AuditEntry) -> AuditEntry:
    """A new instance carrying an existing entry's id, saying something else."""
    return AuditEntry(
        pk=entry.pk,
        at=entry.at,
        clinic_id=entry.clinic_id,
        actor_name="nobody",
        action=AuditAction.VIEWED,
        model=entry.model,
        object_id=entry.object_id,
        client_id=entry.client_id,
        fields=[],
    )


def test_a_new_instance_with_an_entrys_id_does_not_overwrite_it(
    therapist: User, client_record: Client
) -> None:
    """Django's save() UPDATEs a row whose id a new instance carries; SQLite has no trigger."""
    entry = audit.written(therapist, AuditAction.CHANGED, client_record, fields=["label"])
    with pytest.raises(IntegrityError), transaction.atomic():
        forged_copy_of(entry).save()
    with pytest.raises(AuditIsAppendOnly):
        forged_copy_of(entry).save(force_update=True)
    stored = AuditEntry.objects.values_list("actor_name", "action", "fields").get(pk=entry.pk)
    assert stored == (therapist.username, AuditAction.CHANGED, ["label"])


@pytest.mark.parametrize(
    "conflicts",
    [
        {"update_conflicts": True, "unique_fields": ["id"], "update_fields": ["actor_name"]},
        {"ignore_conflicts": True},
    ],
    ids=["upsert", "ignored"],
)
def test_an_entry_is_never_merged_into_by_a_bulk_insert(
    therapist: User, client_record: Client, conflicts: dict[str, Any]
) -> None:
    """INSERT … ON CONFLICT DO UPDATE goes round save() and update(); DO NOTHING would drop
    an entry without a word."""
    entry = audit.written(therapist, AuditAction.CHANGED, client_record, fields=["label"])
    with pytest.raises(AuditIsAppendOnly):
        AuditEntry.objects.bulk_create([forged_copy_of(entry)], **conflicts)
    assert AuditEntry.objects.get(pk=entry.pk).actor_name == therapist.username


@pytest.mark.parametrize(
    "statement",
    ["UPDATE clients_auditentry SET actor_name = 'nobody'", "DELETE FROM clients_auditentry"],
)
def test_postgresql_itself_refuses_to_change_or_delete_an_entry(
    therapist: User, client_record: Client, statement: str
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; on SQLite the model and queryset refuse")
    audit.written(therapist, AuditAction.CHANGED, client_record, fields=["label"])
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEntry.objects.filter(actor_name=therapist.username).count() == 1


def test_a_clinics_trail_is_read_by_its_clinic_admins_alone(
    therapist: User,
    supervisor: User,
    clinic_admin: User,
    outsider: User,
    client_record: Client,
    outsider_client: Client,
) -> None:
    ours = audit.written(therapist, AuditAction.CHANGED, client_record)
    theirs = audit.written(outsider, AuditAction.CHANGED, outsider_client)
    assert list(AuditEntry.objects.visible_to(clinic_admin)) == [ours]
    for reader in (therapist, supervisor, outsider):
        assert not AuditEntry.objects.visible_to(reader).exists()
    assert theirs.clinic_id == outsider_client.clinic_id
