"""A clinic admin manages the clinic's people in the app: invitations, roles, supervision
links, and deactivating a colleague who leaves.

Each write goes through the services that record it (`clients.services.staff_create`,
`staff_update`, `supervision_create`, `supervision_end`), so the audit trail says who did
what. Nobody sets another person's password: an invitation is a single-use link, expiring,
with which the new colleague chooses their own (`accounts.staff_invitations`: the link, the
e-mail that carries it, choosing the password with it).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.template.defaultfilters import pluralize

from accounts import two_factor
from accounts.services import _end_sessions
from accounts.tokens import tokens_revoke_all
from clients import services
from clients.models import Client, Supervision, User, username_taken
from clients.scoping import is_clinic_admin_of

NOT_YOURS = "Only the clinic's admins manage its people."
LAST_ADMIN = (
    "{member} is the clinic's only active clinic admin: make someone else a clinic admin "
    "first, or nobody could manage the clinic."
)
HOLDS_CLIENTS = "{member} still has {held}: move them first."
ROLES = ("is_therapist", "is_supervisor", "is_clinic_admin")
EMAIL_TAKEN = services.EMAIL_TAKEN
NO_EMAIL = "Enter the address the invitation goes to."


def _check_admin(actor: User, clinic_id: int | None) -> None:
    if clinic_id is None or not is_clinic_admin_of(actor, clinic_id):
        raise PermissionDenied(NOT_YOURS)


def _other_active_admins(member: User) -> bool:
    """Whether the clinic keeps an admin who can sign in: active, and past their invitation
    (an invited admin whose link is lost could never be sent another). The rows are locked
    till the caller's transaction ends, so two admins demoting each other at once cannot
    both pass."""
    admins = User.objects.select_for_update().filter(
        clinic_id=member.clinic_id, is_clinic_admin=True, is_active=True
    )
    able = admins.exclude(pk=member.pk).exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
    return len(able) > 0


def _lock_people(member: User) -> None:
    """Lock `member`'s row till the caller's transaction ends, before counting what rests
    on them: a move of clients to them (`clients.moves`) locks the same row, so it either
    committed first and its clients are counted, or waits and finds them deactivated. The
    clinic's active admins are locked in the same statement, in id order, as
    `_other_active_admins` locks them: two admins deactivating two admins at once take the
    rows in one order and cannot deadlock.

    `member` is then read again: the caller checks and saves the row as it is now, not as
    its request read it before another admin's change committed (a change of roles saved
    over a deactivation made the colleague active again)."""
    admins = Q(clinic_id=member.clinic_id, is_clinic_admin=True, is_active=True)
    people = User.objects.select_for_update().filter(Q(pk=member.pk) | admins).order_by("pk")
    len(people.values_list("pk"))
    member.refresh_from_db()


def _clients_held(member: User) -> str:
    """ "3 clients (1 discharged)", "1 client", or "" for none: a discharged client needs a
    therapist too, and the staff list counts only the active ones."""
    counts = member.caseload.aggregate(
        all=Count("pk"), discharged=Count("pk", filter=Q(status=Client.Status.DISCHARGED))
    )
    if not counts["all"]:
        return ""
    held = f"{counts['all']} client{pluralize(counts['all'])}"
    return f"{held} ({counts['discharged']} discharged)" if counts["discharged"] else held


def _void_invitations(member: User) -> None:
    """Every invitation link made so far stops working: each hashes the unusable password,
    which this replaces with a new one (only for someone who has not chosen a password)."""
    if not member.has_usable_password():
        member.set_unusable_password()
        member.save(update_fields=["password"])


def username_as_stored(username: str) -> str:
    """The username as saving stores it: Django folds compatibility forms (NFKC), so
    "ＮＩＡ" is saved as "NIA". Compared before folding, it passed the check for a taken
    username beside "nia"."""
    return User.normalize_username(username.strip())


def staff_invite(
    *,
    actor: User,
    first_name: str,
    last_name: str,
    email: str,
    username: str,
    is_therapist: bool = False,
    is_supervisor: bool = False,
    is_clinic_admin: bool = False,
) -> User:
    """Add a colleague to the actor's clinic, with no password. The view then sends the
    invitation (`staff_invitations.invitation_send`), after the row is committed, so a mail
    server that is down loses no colleague: the admin sends it again from their page."""
    _check_admin(actor, actor.clinic_id)
    if not (is_therapist or is_supervisor or is_clinic_admin):
        raise ValidationError("Give the colleague at least one role.")
    username = username_as_stored(username)
    if (member := invited_already(actor=actor, username=username, email=email)) is not None:
        raise InvitedAlready(member)
    errors = {}
    if (taken := User.objects.username_clash(username)) is not None:
        errors["username"] = username_taken(taken, username)
    if services.email_taken(clinic_id=actor.clinic_id, email=email):
        errors["email"] = EMAIL_TAKEN
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return services.staff_create(
                actor=actor,
                clinic=actor.clinic,
                username=username,
                password=None,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                email=email.strip(),
                is_therapist=is_therapist,
                is_supervisor=is_supervisor,
                is_clinic_admin=is_clinic_admin,
            )
    except (IntegrityError, ValidationError):
        # The same username in any case, taken by a request at the same moment (said on
        # the username by `staff_create`), or another mistake.
        if (member := invited_already(actor=actor, username=username, email=email)) is not None:
            raise InvitedAlready(member) from None  # that request was this one, sent twice
        raise


class InvitedAlready(Exception):
    """The invitation was made already: "Send the invitation" clicked twice, or the same
    form sent again. Not a mistake to correct on the form: the colleague is there."""

    def __init__(self, member: User) -> None:
        super().__init__(f"{member} is invited already.")
        self.member = member


def invited_already(*, actor: User, username: str, email: str) -> User | None:
    """The colleague an invitation with this username and address would make again: of the
    actor's clinic, and still to choose a password. (A username is anyone's once; refused
    as taken, the second click of a double click had the admin choose another, and invite
    the same person twice.)"""
    return (
        User.objects.signing_in_as(username_as_stored(username))
        .filter(
            clinic_id=actor.clinic_id,
            email__iexact=email.strip(),
            is_active=True,
            password__startswith=UNUSABLE_PASSWORD_PREFIX,
        )
        .order_by("pk")
        .first()
    )


def staff_email_set(*, actor: User, member: User, email: str) -> bool:
    """Set or correct the address of a colleague still to accept their invitation (a typo
    in it, or none given in the admin), so the invitation can reach them. Every link sent
    before stops working, as each hashes the address: one sent astray opens nothing.

    Once they have chosen a password the address is theirs, changed on their account page
    after their password: changed by someone else, their next reset link would go to
    whoever changed it. False when it was the address already (nothing recorded)."""
    _check_admin(actor, member.clinic_id)
    email = email.strip()
    with transaction.atomic():
        # Locked and read again: the colleague may be choosing their password right now.
        stored = User.objects.select_for_update().get(pk=member.pk)
        if not stored.is_active:
            raise ValidationError(f"{stored} is deactivated: reactivate them first.")
        if not is_invited(stored):
            raise ValidationError(
                f"{stored} has signed in: their e-mail address is theirs to change, on their "
                "own account page."
            )
        if not email:
            raise ValidationError({"email": NO_EMAIL})
        if stored.email == email:
            return False
        _update(actor, stored, {"email": email})  # refuses a colleague's address
    member.email = email
    return True


def is_invited(member: User) -> bool:
    """Invited and has not yet chosen a password."""
    return member.is_active and not member.has_usable_password()


def staff_roles_set(
    *,
    actor: User,
    member: User,
    is_therapist: bool,
    is_supervisor: bool,
    is_clinic_admin: bool,
) -> User:
    """Change a colleague's roles. A role is not taken away while something still rests
    on it: a therapist's clients or supervisors, a supervisor's supervisees, the clinic's
    last active admin."""
    _check_admin(actor, member.clinic_id)
    roles = dict(zip(ROLES, (is_therapist, is_supervisor, is_clinic_admin), strict=True))
    with transaction.atomic():
        _set_roles(actor, member, roles)
    return member


def _set_roles(actor: User, member: User, roles: dict[str, bool]) -> None:
    if not any(roles.values()):
        raise ValidationError(
            "A colleague holds at least one role; to stop their access, deactivate them."
        )
    _lock_people(member)
    _roles_check(member, **roles)
    changed = {name: value for name, value in roles.items() if getattr(member, name) != value}
    if changed:
        _update(actor, member, changed)


def _update(actor: User, member: User, data: dict[str, Any]) -> None:
    """`staff_update`, and the API tokens' rule: a change that makes the web app demand a
    second factor of the person (made a clinic admin or a superuser) revokes their tokens.
    A token reads what its owner reads now, and one made with the password alone must not
    gain reach the app gives only after a code; they make new ones, signed in with it."""
    owed_before = two_factor.is_required(member)
    services.staff_update(actor=actor, member=member, data=data)
    if not owed_before and two_factor.is_required(member):
        tokens_revoke_all(actor=actor, user=member)


def _roles_check(
    member: User, is_therapist: bool, is_supervisor: bool, is_clinic_admin: bool
) -> None:
    """What rests on a role the change takes away; raised together."""
    errors = []
    if member.is_therapist and not is_therapist:
        if held := _clients_held(member):
            errors.append(HOLDS_CLIENTS.format(member=member, held=held))
        if member.supervised_by.exists():
            errors.append(f"{member} is still supervised: end those supervision links first.")
    if member.is_supervisor and not is_supervisor and member.supervisions.exists():
        errors.append(f"{member} still supervises colleagues: end those links first.")
    if member.is_clinic_admin and not is_clinic_admin and not _other_active_admins(member):
        errors.append(LAST_ADMIN.format(member=member))
    if errors:
        raise ValidationError(errors)


def supervision_add(*, actor: User, supervisor: User, therapist: User) -> Supervision:
    """Link a supervisor to a therapist, both active colleagues of the actor's clinic."""
    _check_admin(actor, supervisor.clinic_id)
    _check_admin(actor, therapist.clinic_id)
    if not (supervisor.is_active and therapist.is_active):
        raise ValidationError("Only active colleagues can be linked.")
    return services.supervision_create(actor=actor, supervisor=supervisor, therapist=therapist)


def supervision_remove(*, actor: User, supervision: Supervision) -> bool:
    """End a supervision link; False if it had ended already."""
    _check_admin(actor, supervision.supervisor.clinic_id)
    return services.supervision_end(actor=actor, supervision=supervision)


def staff_deactivate(*, actor: User, member: User) -> User:
    """A colleague who leaves: they can no longer sign in, and their signed-in sessions,
    API tokens, invitation links and supervision links end. Their clients are moved first
    (`clients.moves`); their history (sessions led, ratings given) stays theirs."""
    _check_admin(actor, member.clinic_id)
    with transaction.atomic():
        _deactivate(actor, member)
    return member


def _deactivate(actor: User, member: User) -> None:
    if member.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself; ask another clinic admin.")
    _lock_people(member)
    if not member.is_active:
        raise ValidationError(f"{member} is already deactivated.")
    if held := _clients_held(member):
        raise ValidationError(HOLDS_CLIENTS.format(member=member, held=held))
    # A clinic admin deactivating someone is one the clinic keeps; a superuser may not be.
    if member.is_clinic_admin and not _other_active_admins(member):
        raise ValidationError(LAST_ADMIN.format(member=member))
    links = Supervision.objects.filter(supervisor=member) | Supervision.objects.filter(
        therapist=member
    )
    for supervision in links.select_related("supervisor"):
        services.supervision_end(actor=actor, supervision=supervision)
    _update(actor, member, {"is_active": False})
    _void_invitations(member)
    tokens_revoke_all(actor=actor, user=member)
    _end_sessions(member)


def staff_reactivate(*, actor: User, member: User) -> User:
    """A colleague who returns: they sign in again with their password (or, if they never
    chose one, with a new invitation). Supervision links are set again by hand."""
    _check_admin(actor, member.clinic_id)
    with transaction.atomic():
        _reactivate(actor, member)
    return member


def _reactivate(actor: User, member: User) -> None:
    _lock_people(member)
    if member.is_active:
        raise ValidationError(f"{member} is already active.")
    _void_invitations(member)  # a link from before they left stays dead
    _update(actor, member, {"is_active": True})


def staff_change(*, actor: User, member: User, data: dict[str, Any]) -> User:
    """A colleague's record changed in one form, the Django admin's (`data`: field name →
    new value), by a superuser or the clinic's admin. A change of access or roles obeys the
    staff pages' rules (`staff_deactivate`, `staff_reactivate`, `staff_roles_set`), a move
    to another clinic waits until nothing rests on them in this one, and the rest is as
    `clients.services.staff_update` allows. All of it, or nothing."""
    services.check_may_manage_staff(actor, member)
    with transaction.atomic():
        _lock_people(member)
        rest = dict(data)
        active = rest.pop("is_active", member.is_active)
        roles = {name: rest.pop(name, getattr(member, name)) for name in ROLES}
        if active and not member.is_active:
            _reactivate(actor, member)
        if any(getattr(member, name) != value for name, value in roles.items()):
            _set_roles(actor, member, roles)
        if "clinic" in rest and rest["clinic"] != member.clinic:
            _moving_check(member)
            # Their tokens serve the tools of the clinic they leave (its admin's nightly
            # pull): kept, they would read the new clinic's records into those tools. Ended
            # as a leaver's are, in the trail of the clinic they were made in.
            tokens_revoke_all(actor=actor, user=member)
        if rest:
            _update(actor, member, rest)
        if member.is_active and not active:
            _deactivate(actor, member)
    return member


def _moving_check(member: User) -> None:
    """A colleague moved to another clinic leaves nothing behind in this one: their clients
    would be seen from the other clinic, their supervision links would cross clinics."""
    errors = []
    if held := _clients_held(member):
        errors.append(HOLDS_CLIENTS.format(member=member, held=held))
    if member.supervised_by.exists() or member.supervisions.exists():
        errors.append(f"{member} still has supervision links: end them first.")
    if member.is_clinic_admin and not _other_active_admins(member):
        errors.append(LAST_ADMIN.format(member=member))
    if errors:
        raise ValidationError({"clinic": errors})
