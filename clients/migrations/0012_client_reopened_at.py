"""Clients say when they were last re-opened after a discharge (Client.reopened_at), so the
concerns still open reach their therapist's digest again and escalate from the re-opening.
Filled here from the audit trail: for a client active now, their latest change of status
(a discharge and a re-opening both write "status") was a re-opening; clients never
re-opened stay blank."""

from django.db import migrations, models

# Clients a statement, as 0008.
A_STATEMENT = 500


def from_the_audit_trail(apps, schema_editor):  # type: ignore[no-untyped-def]
    Client = apps.get_model("clients", "Client")
    AuditEntry = apps.get_model("clients", "AuditEntry")
    changed: dict[int, object] = {}
    # "fields" read in Python, as SQLite has no JSON containment.
    writes = (
        AuditEntry.objects.filter(model="clients.client", action="changed")
        .order_by("at", "pk")
        .values_list("object_id", "at", "fields")
    )
    for object_id, at, fields in writes.iterator(chunk_size=2000):
        if "status" in (fields or []) and str(object_id).isdigit():
            changed[int(object_id)] = at  # the latest, by the order
    ids = sorted(changed)
    for start in range(0, len(ids), A_STATEMENT):
        clients = list(
            Client.objects.filter(pk__in=ids[start : start + A_STATEMENT], status="active").only(
                "pk"
            )
        )
        for client in clients:
            client.reopened_at = changed[client.pk]
        Client.objects.bulk_update(clients, ["reopened_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0011_client_therapist_since"),
    ]

    operations = [
        migrations.AddField(
            model_name="client",
            name="reopened_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text="When the client was last re-opened after a discharge; blank if never.",
                null=True,
            ),
        ),
        migrations.RunPython(from_the_audit_trail, migrations.RunPython.noop),
    ]
