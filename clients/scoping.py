"""Who may see and change what: the one place access is decided.

Every view, admin page, export and e-mail reaches records through a `visible_to(user)`
or `editable_by(user)` queryset method built on the rules below, and every yes-or-no
question about one person and one record ("may she change this client?", "did he lead
this session?") is one of the functions below, so the rules live here once:

- a therapist sees their own caseload;
- a supervisor also sees the caseloads of the therapists they supervise,
  read-only, and may comment on their concerns;
- a clinic admin sees every client of their clinic, changes any of them, and alone
  sets the clinic's thresholds;
- only the therapist who treats a client rates their sessions, sends their links and
  reviews their concerns;
- nobody sees another clinic, and an anonymous or inactive user sees nothing.

Writes use `caseload_write_q`: a therapist's own caseload, or the whole clinic
for a clinic admin. Supervision never grants a write.

This module imports no model: the models import their querysets from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

NOTHING = Q(pk__in=[])


def _is_staff_member(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.clinic_id is not None
    )


def supervisee_ids(user: Any) -> models.QuerySet:
    """The ids of the therapists `user` supervises, as a subquery."""
    return user.supervisions.values("therapist_id")


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


def practice_q(user: Any, path: str = "") -> Q:
    """Rows about how a therapist practises (their guesses of their clients' scores), the
    therapist reached through `path` (e.g. "session__"), that `user` may read: their own,
    their supervisees', and every therapist's of their clinic for a clinic admin, as the
    reading page's readers (`is_practising_therapist`, `overseen_therapists_q`). A colleague
    who took a client over reads the client's record, not how the former therapist read
    them."""
    if not _is_staff_member(user):
        return NOTHING
    if user.is_clinic_admin:
        return Q(**{f"{path}therapist__clinic_id": user.clinic_id})
    return Q(**{f"{path}therapist_id": user.pk}) | Q(
        **{f"{path}therapist_id__in": supervisee_ids(user)}
    )


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


def may_exercise_rights_of(user: Any, client: Any) -> bool:
    """The client's rights (export everything held, erase) are exercised through the
    clinic's admins; a therapist or supervisor who reads the record does not."""
    return is_clinic_admin_of(user, client.clinic_id)


def may_read_audit_trail(user: Any) -> bool:
    """A clinic's audit trail is for its clinic admins (`AuditEntry.objects.visible_to`
    gives them their own clinic's entries, and nobody else any)."""
    return _is_staff_member(user) and user.is_clinic_admin


def is_treating_therapist(user: Any, client: Any) -> bool:
    """Only the client's own therapist reviews what Alliance raises about them."""
    return (
        _is_staff_member(user)
        and user.is_therapist
        and user.pk == client.therapist_id
        and user.clinic_id == client.clinic_id
    )


def may_review_with_client(user: Any, client: Any) -> bool:
    """The chart shown to the client in the room is for their own therapist, who sits
    with them; supervisors and clinic admins read the record but are not in the room."""
    return is_treating_therapist(user, client)


def may_see_own_chart(
    client: Any, *, answered_at: dt.datetime | None, now: dt.datetime | None = None
) -> bool:
    """On their link, the client sees their own chart only when their therapist has turned
    it on, and only for a while after answering through that very link
    (`ALLIANCE_OWN_CHART_MINUTES`): its address stays in the phone's history, where
    someone else may find it later. An erased client's history is shown to nobody."""
    if answered_at is None or not client.shows_own_chart or client.erased_at is not None:
        return False
    now = now or timezone.now()
    return now - answered_at <= dt.timedelta(minutes=settings.ALLIANCE_OWN_CHART_MINUTES)


def takes_personal_data(client: Any) -> bool:
    """Whether a write may add personal details or free text to `client`'s record.

    Erasure (`measures.rights.client_erase`) runs once and overwrites every detail and
    free text; anything written after it would stay for ever. So an erased record takes
    none: no details (label, external ID, e-mail), no session edit (its private notes), no
    rating link (the client's comment), no rating or revision (the therapist's comment), no
    concern comment, repair note or dismissal reason, no void reason. What writes no words
    stays open: acknowledging a concern (it leaves the therapist's queue's "open" list) or
    dismissing it without a reason (`measures.review.concern_dismiss`),
    moving the client to another therapist (a leaver's caseload), and Alliance's own steps
    on the numbers. Services ask through `clients.services.check_takes_personal_data`."""
    return client.erased_at is None


def supervises_therapist_of(user: Any, client: Any) -> bool:
    """`user` supervises the therapist of `client` (and so reads the client's record)."""
    return (
        _is_staff_member(user)
        and user.is_supervisor
        and user.clinic_id == client.clinic_id
        and user.supervisions.filter(therapist_id=client.therapist_id).exists()
    )


def may_comment_on(user: Any, client: Any) -> bool:
    """The therapist, and the supervisors who see the client, may add to a concern's history."""
    return is_treating_therapist(user, client) or supervises_therapist_of(user, client)


def is_overseer(user: Any) -> bool:
    """Supervisors and clinic admins see more than their own caseload: they have the team
    dashboard, and lists they read name each client's therapist."""
    return _is_staff_member(user) and (user.is_supervisor or user.is_clinic_admin)


def is_practising_therapist(user: Any) -> bool:
    """`user` sees clients of their own, so has pages about their own practice (how well
    they read their clients); those pages are theirs and their supervisors' alone."""
    return _is_staff_member(user) and user.is_therapist


def may_add_clients(user: Any) -> bool:
    """Therapists add clients to their own caseload; clinic admins to anyone's."""
    return _is_staff_member(user) and (user.is_therapist or user.is_clinic_admin)


def may_manage_caseload_of(user: Any, therapist: Any) -> bool:
    """`user` may add, change and discharge the clients of `therapist`: their own, or any
    therapist's of the clinic for a clinic admin (`caseload_write_q` for one caseload)."""
    if not _is_staff_member(user) or user.clinic_id != therapist.clinic_id:
        return False
    return user.is_clinic_admin or (user.is_therapist and user.pk == therapist.pk)


def may_move_clients(user: Any) -> bool:
    """Moving a client to another therapist is a clinic admin's decision."""
    return _is_staff_member(user) and user.is_clinic_admin


def may_manage_staff(user: Any) -> bool:
    """Inviting colleagues, their roles, supervision links and deactivating a leaver are
    the clinic admins' (`UserQuerySet.visible_to` gives them their own clinic's people)."""
    return _is_staff_member(user) and user.is_clinic_admin


def may_change_client(user: Any, client: Any) -> bool:
    """`user` may edit, discharge or reopen `client` (`caseload_write_q` for one record)."""
    if not _is_staff_member(user) or user.clinic_id != client.clinic_id:
        return False
    return user.is_clinic_admin or (user.is_therapist and user.pk == client.therapist_id)


def may_log_session(user: Any, client: Any) -> bool:
    """Sessions are logged by the client's own therapist, while the client is active."""
    return is_treating_therapist(user, client) and client.is_active


def led_session(user: Any, session: Any) -> bool:
    """`user` is the therapist who led `session`: only they read its private note, and
    only they rate it and send its link while the client is theirs (`may_rate_session`)."""
    return _is_staff_member(user) and user.pk == session.therapist_id


def may_change_session(user: Any, session: Any) -> bool:
    """Only the therapist who led a session edits or voids it, while they may still change
    the client (`SessionQuerySet.editable_by`), and only while it is not voided: a voided
    session is kept as it was, for the record."""
    return (
        led_session(user, session)
        and may_change_client(user, session.client)
        and session.voided_at is None
    )


def may_rate_session(user: Any, session: Any) -> bool:
    """Only the therapist who led a session rates it and sends its rating link, and only
    while the client is theirs: once the client has moved to a colleague, their former
    therapist may still read the session (as the colleague's supervisor, or a clinic admin),
    read-only, and the link would reach someone else's client."""
    return led_session(user, session) and is_treating_therapist(user, session.client)


class ScopedQuerySet(models.QuerySet):
    """A queryset narrowed by the rules above through `scoped(rule)`.

    Narrowing also marks the SQL query (`query.scoped`); Django copies the mark to every
    queryset chained from this one. Nothing in the app reads it: the test that walks the
    URL conf does, to tell a page that reached its records through `visible_to` or
    `editable_by` from one that did not.
    """

    def scoped(self, rule: Q) -> Self:
        narrowed = self.filter(rule)
        narrowed.query.scoped = True
        return narrowed


class ClientQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> ClientQuerySet:
        return self.scoped(caseload_q(user))

    def editable_by(self, user: Any) -> ClientQuerySet:
        return self.scoped(caseload_write_q(user))

    def treated_by(self, user: Any) -> ClientQuerySet:
        """The clients `user` treats as their therapist: whose sessions they log."""
        return self.scoped(caseload_write_q(user) & Q(therapist_id=getattr(user, "pk", None)))

    def active(self) -> ClientQuerySet:
        return self.filter(status=self.model.Status.ACTIVE)

    def counted_in_statistics(self) -> ClientQuerySet:
        """Clients whose numbers count: all but the erased of clinics that keep none."""
        return self.filter(excluded_from_statistics=False)


def colleagues_q(user: Any) -> Q:
    """Colleagues `user` may see: the clinic for an admin, else self and supervisees."""
    if not _is_staff_member(user):
        return NOTHING
    same_clinic = Q(clinic_id=user.clinic_id)
    if user.is_clinic_admin:
        return same_clinic
    return same_clinic & (Q(pk=user.pk) | Q(pk__in=supervisee_ids(user)))


def overseen_therapists_q(user: Any) -> Q:
    """The active therapists whose caseloads `user` oversees on the dashboard: those they
    supervise, or the whole clinic's for a clinic admin."""
    if not is_overseer(user):
        return NOTHING
    therapists = Q(clinic_id=user.clinic_id, is_therapist=True, is_active=True)
    if user.is_clinic_admin:
        return therapists
    return therapists & Q(pk__in=supervisee_ids(user))


class UserQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> UserQuerySet:
        return self.scoped(colleagues_q(user))

    def overseen_by(self, user: Any) -> UserQuerySet:
        return self.scoped(overseen_therapists_q(user))

    def assignable_by(self, user: Any, current: Any = None) -> UserQuerySet:
        """The therapists a clinic admin may give a client to: the clinic's active
        therapists, and the client's `current` one even if no longer active (so editing a
        label never forces a move). Nobody else chooses a client's therapist."""
        if not may_move_clients(user):
            return self.none()
        keep = Q(pk=current.pk) if current is not None else NOTHING
        return self.visible_to(user).filter(Q(is_therapist=True, is_active=True) | keep)

    def therapists(self) -> UserQuerySet:
        return self.filter(is_therapist=True, is_active=True)


class AuditIsAppendOnly(Exception):
    """An audit entry was to be changed or deleted: the trail only grows."""


class AuditEntryQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> AuditEntryQuerySet:
        """A clinic's trail is for its clinic admins; nobody else reads it."""
        return self.scoped(clinic_admin_q(user))

    def update(self, **kwargs: Any) -> int:
        raise AuditIsAppendOnly("Audit entries are never changed.")

    def bulk_create(
        self,
        objs: Any,
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Any = None,
        unique_fields: Any = None,
    ) -> list[Any]:
        # INSERT … ON CONFLICT DO UPDATE rewrites an entry without save() or update();
        # DO NOTHING would drop a new entry without a word. Plain inserts only.
        if ignore_conflicts or update_conflicts:
            raise AuditIsAppendOnly("Audit entries are inserted, never merged into others.")
        return super().bulk_create(objs, batch_size=batch_size)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditIsAppendOnly("Audit entries are never deleted.")

    # QuerySet.delete is also reached as _raw_delete by cascades; nothing cascades here
    # (no foreign key points at an entry), so refusing delete() covers every path.


class SupervisionQuerySet(ScopedQuerySet):
    def visible_to(self, user: Any) -> SupervisionQuerySet:
        if not _is_staff_member(user):
            return self.scoped(NOTHING)
        same_clinic = Q(supervisor__clinic_id=user.clinic_id)
        if user.is_clinic_admin:
            return self.scoped(same_clinic)
        return self.scoped(same_clinic & (Q(supervisor_id=user.pk) | Q(therapist_id=user.pk)))

    def reaching(self, therapist_ids: set[int]) -> SupervisionQuerySet:
        """Who hears about these therapists' overdue concerns: their active supervisors
        with an e-mail address (the supervisors who read those clients' records)."""
        return self.filter(
            therapist_id__in=therapist_ids,
            supervisor__is_active=True,
            supervisor__is_supervisor=True,
        ).exclude(supervisor__email="")
