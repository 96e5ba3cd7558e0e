"""Clients say when they moved to their current therapist (Client.therapist_since), so the
concerns they bring reach that therapist's digest and escalate from the move. Filled here
from the audit trail, which records every move (a write of the client's "therapist");
clients never moved stay blank."""

from django.db import migrations, models

# Clients a statement, as 0008.
A_STATEMENT = 500


def from_the_audit_trail(apps, schema_editor):  # type: ignore[no-untyped-def]
    Client = apps.get_model("clients", "Client")
    AuditEntry = apps.get_model("clients", "AuditEntry")
    moved: dict[int, object] = {}
    # Every write of a client (a few per client); "fields" read in Python, as SQLite has
    # no JSON containment.
    writes = (
        AuditEntry.objects.filter(model="clients.client", action="changed")
        .order_by("at", "pk")
        .values_list("object_id", "at", "fields")
    )
    for object_id, at, fields in writes.iterator(chunk_size=2000):
        if "therapist" in (fields or []) and str(object_id).isdigit():
            moved[int(object_id)] = at  # the latest, by the order
    ids = sorted(moved)
    for start in range(0, len(ids), A_STATEMENT):
        clients = list(Client.objects.filter(pk__in=ids[start : start + A_STATEMENT]).only("pk"))
        for client in clients:
            client.therapist_since = moved[client.pk]
        Client.objects.bulk_update(clients, ["therapist_since"])


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0010_names_show_as_they_read"),
    ]

    operations = [
        migrations.AddField(
            model_name="client",
            name="therapist_since",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                help_text=(
                    "When the client last moved to their current therapist; blank if never moved."
                ),
                null=True,
            ),
        ),
        migrations.RunPython(from_the_audit_trail, migrations.RunPython.noop),
    ]
