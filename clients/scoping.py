"""Who may see and change what: the one place access is decided.

Every view, admin page and export reaches records through a `visible_to(user)`
queryset method built on `caseload_q` below, so the rules live here once:

- a therapist sees their own caseload;
- a supervisor also sees the caseloads of the therapists they supervise,
  read-only;
- a clinic admin sees every client of their clinic;
- nobody sees another clinic, and an anonymous or inactive user sees nothing.

Writes use `caseload_write_q`: a therapist's own caseload, or the whole clinic
for a clinic admin. Supervision never grants a write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from clients.models import User

NOTHING = Q(pk__in=[])


def _is_staff_member(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.clinic_id is not None
    )


def supervisee_ids(user: User) -> models.QuerySet:
    """The ids of the therapists `user` supervises, as a subquery."""
    from clients.models import Supervision

    return Supervision.objects.filter(supervisor_id=user.pk).values("therapist_id")


def caseload_q(user: Any, path: str = "") -> Q:
    """Rows whose client (reached through `path`, e.g. "client__") `user` may read."""
    if not _is_staff_member(user):
        return NOTHING
    same_clinic = Q(**{f"{path}clinic_id": user.clinic_id})
    if user.is_clinic_admin:
        return same_clinic
    reach = NOTHING
    if user.is_therapist:
        reach |= Q(**{f"{path}therapist_id": user.pk})
    if user.is_supervisor:
        reach |= Q(**{f"{path}therapist_id__in": supervisee_ids(user)})
    return same_clinic & reach


def clinic_admin_q(user: Any, path: str = "") -> Q:
    """Rows of a clinic (reached through `path`) that `user` administers: their own clinic,
    for a clinic admin; nothing for anyone else."""
    if not _is_staff_member(user) or not user.is_clinic_admin:
        return NOTHING
    return Q(**{f"{path}clinic_id": user.clinic_id})


def caseload_write_q(user: Any, path: str = "") -> Q:
    """Rows whose client (reached through `path`) `user` may change."""
    if not _is_staff_member(user):
        return NOTHING
    same_clinic = Q(**{f"{path}clinic_id": user.clinic_id})
    if user.is_clinic_admin:
        return same_clinic
    if user.is_therapist:
        return same_clinic & Q(**{f"{path}therapist_id": user.pk})
    return NOTHING


def is_clinic_admin_of(user: Any, clinic_id: int) -> bool:
    """Clinic-wide settings (thresholds, calibration) are for that clinic's admins."""
    return _is_staff_member(user) and user.is_clinic_admin and user.clinic_id == clinic_id


def is_treating_therapist(user: Any, client: Any) -> bool:
    """Only the client's own therapist reviews what Alliance raises about them."""
    return (
        _is_staff_member(user)
        and user.is_therapist
        and user.pk == client.therapist_id
        and user.clinic_id == client.clinic_id
    )


def may_comment_on(user: Any, client: Any) -> bool:
    """The therapist, and the supervisors who see the client, may add to a concern's history."""
    if is_treating_therapist(user, client):
        return True
    from clients.models import Client

    return bool(user.is_supervisor) and (
        Client.objects.filter(caseload_q(user), pk=client.pk).exists()
    )


class ClientQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ClientQuerySet:
        return self.filter(caseload_q(user))

    def editable_by(self, user: Any) -> ClientQuerySet:
        return self.filter(caseload_write_q(user))

    def active(self) -> ClientQuerySet:
        return self.filter(status="active")


class UserQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> UserQuerySet:
        """Colleagues `user` may see: the clinic for an admin, else self and supervisees."""
        if not _is_staff_member(user):
            return self.none()
        if user.is_clinic_admin:
            return self.filter(clinic_id=user.clinic_id)
        return self.filter(clinic_id=user.clinic_id).filter(
            Q(pk=user.pk) | Q(pk__in=supervisee_ids(user))
        )

    def therapists(self) -> UserQuerySet:
        return self.filter(is_therapist=True, is_active=True)


class SupervisionQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> SupervisionQuerySet:
        if not _is_staff_member(user):
            return self.none()
        same_clinic = self.filter(supervisor__clinic_id=user.clinic_id)
        if user.is_clinic_admin:
            return same_clinic
        return same_clinic.filter(Q(supervisor_id=user.pk) | Q(therapist_id=user.pk))
