"""Moving clients between therapists: one client, or the caseload of a colleague who leaves.

Both are a clinic admin's decision, confirmed on a page that names who moves where, and
recorded in each client's audit trail. The receiving therapist reads the whole history
from then on; the previous one no longer sees the client. The client's `therapist_since`
says when: the concerns they bring are the receiver's to hear of in their next digest, and
escalate only once the receiver has left them unacknowledged as long as anyone may
(`measures.notifications`). Nothing else changes: sessions keep the therapist who led them.
"""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clients import audit
from clients.models import AuditAction, Client, User
from clients.scoping import may_move_clients

NOT_A_RECEIVER = "Clients can only move to an active therapist of this clinic."
MOVED_MEANWHILE = (
    "{label} was moved to another therapist after the confirmation page was shown: nothing "
    "changed. Check who they are with now and choose again."
)


def _check_move(actor: User, receiver: User, clinic_id: int) -> None:
    """The actor is this clinic's admin, and the receiver one of its active therapists."""
    if not may_move_clients(actor) or actor.clinic_id != clinic_id:
        raise PermissionDenied("Only a clinic admin can move a client to another therapist.")
    if not (receiver.is_therapist and receiver.is_active and receiver.clinic_id == clinic_id):
        raise ValidationError({"therapist": NOT_A_RECEIVER})


def _receiver_locked(actor: User, therapist: User, clinic_id: int) -> User:
    """The receiving therapist read again and locked till the move commits, then checked.
    A colleague deactivated (or no longer a therapist) by another admin meanwhile receives
    nothing; one being deactivated now waits for the move, then finds the clients it gave
    them (`accounts.staff` locks the same row before counting them)."""
    receiver = User.objects.select_for_update().filter(pk=therapist.pk).first()
    _check_move(actor, receiver or therapist, clinic_id)
    return receiver or therapist


def client_move(*, actor: User, client: Client, therapist: User, from_therapist_id: int) -> Client:
    """Give one client to another therapist of their clinic, from `from_therapist_id`, the
    therapist the confirmation page named as theirs. A client another admin moved after
    that page was drawn stays where that admin put them (as `caseload_move` moves only the
    clients still with the leaver)."""
    _check_move(actor, therapist, client.clinic_id)
    if therapist.pk in (client.therapist_id, from_therapist_id):
        raise ValidationError({"therapist": f"{client.label} is already {therapist}'s client."})
    with transaction.atomic():
        _receiver_locked(actor, therapist, client.clinic_id)
        # Locked, so two admins moving the same client at once leave one trail that adds up,
        # and the second finds the client gone from the therapist their page named.
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if locked.therapist_id != from_therapist_id:
            raise ValidationError(MOVED_MEANWHILE.format(label=locked.label))
        locked.therapist, locked.therapist_since = therapist, timezone.now()
        locked.save(update_fields=["therapist", "therapist_since"])
        audit.written(actor, AuditAction.CHANGED, locked, fields=["therapist"])
    client.therapist, client.therapist_since = therapist, locked.therapist_since
    return client


def caseload_move(
    *, actor: User, leaver: User, therapist: User, client_ids: Collection[int]
) -> int:
    """Give `therapist` the clients of `leaver` that the admin confirmed (`client_ids`):
    exactly those, so a client added to the caseload after the confirmation page was drawn
    stays until confirmed in turn. Returns how many moved (a client already moved by
    someone else meanwhile is skipped)."""
    _check_move(actor, therapist, leaver.clinic_id)
    if therapist.pk == leaver.pk:
        raise ValidationError({"therapist": "Choose a therapist other than the one leaving."})
    with transaction.atomic():
        _receiver_locked(actor, therapist, leaver.clinic_id)
        moving = list(
            Client.objects.select_for_update()
            .filter(therapist=leaver, clinic_id=leaver.clinic_id, pk__in=list(client_ids))
            .order_by("pk")
        )
        now = timezone.now()
        for client in moving:
            client.therapist, client.therapist_since = therapist, now
        Client.objects.bulk_update(moving, ["therapist", "therapist_since"])
        audit.written_for_clients(
            actor,
            AuditAction.CHANGED,
            {client.pk: client.clinic_id for client in moving},
            fields=["therapist"],
        )
    return len(moving)
