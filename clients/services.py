"""Writes for clinics, staff, supervision and clients.

Each service checks who is acting, validates with `full_clean()` (which runs
the model's cross-row checks and the database constraints), writes, and records the
write in the audit trail (the names of the fields changed, never their values). Views,
admin pages and the demo seeder all come through here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from alliance.fields import (
    PARAGRAPH_CONTROL_CHARACTERS,
    direction_control_problem,
    has_control_characters_in_paragraphs,
    one_kind_of_line_break,
    written,
)
from clients import audit
from clients.models import (
    NOTICE_MAX_LENGTH,
    AuditAction,
    Client,
    Clinic,
    Supervision,
    User,
    username_taken,
)
from clients.moves import NOT_A_RECEIVER
from clients.notice import shows_default_notice
from clients.scoping import (
    is_clinic_admin_of,
    may_manage_caseload_of,
    may_move_clients,
    takes_personal_data,
)

# A name stored before names were checked (`validate_visible_line`) does not stop a change
# of something else (a notice, a role, a deactivation, an e-mail address): only a name the
# change writes is checked.
NAME_UNCHANGED = ["name"]


@transaction.atomic
def clinic_create(*, name: str, slug: str, actor: User | None = None) -> Clinic:
    """Add a clinic; `actor` is the superuser who did (None from the demo seeder)."""
    # Its name is one visible line (`Clinic.name`'s validator, run by full_clean): the
    # admin's text box sends what a crafted request puts in it.
    clinic = Clinic(name=name.strip(), slug=slug)
    clinic.full_clean()
    clinic.save()
    audit.written(actor, AuditAction.CREATED, clinic)
    return clinic


@transaction.atomic
def clinic_rename(*, actor: User, clinic: Clinic, name: str) -> Clinic:
    """A clinic's admins (and superusers) rename it; its slug, which addresses it, stays.
    The default privacy notice names the clinic, so where a language shows it the words
    clients read change: `notice_version` goes up, as for any change of wording."""
    if not (actor.is_superuser or is_clinic_admin_of(actor, clinic.pk)):
        raise PermissionDenied("Only a clinic admin of this clinic can rename it.")
    # Locked and read again, so a notice saved meanwhile keeps its own version.
    clinic = Clinic.objects.select_for_update().get(pk=clinic.pk)
    before = {"name": clinic.name, "notice_version": clinic.notice_version}
    clinic.name = name.strip()
    if clinic.name != before["name"] and shows_default_notice(clinic):
        clinic.notice_version += 1
    clinic.full_clean()
    clinic.save(update_fields=["name", "notice_version"])
    _changed(actor, clinic, before)
    return clinic


NOTICE_NOT_FOR_YOU = "Only a clinic admin of this clinic can change its notice."
NOTICE_TOO_LONG = f"Keep the notice to {NOTICE_MAX_LENGTH} characters."


def _paragraphs(text: str) -> str:
    """One kind of line break (browsers send CRLF), no space around the whole."""
    return one_kind_of_line_break(written(text))


def _notice_problem(text: str) -> str:
    """What is wrong with a notice's wording, or "" (a text column keeps any length)."""
    if len(text) > NOTICE_MAX_LENGTH:
        return NOTICE_TOO_LONG
    if has_control_characters_in_paragraphs(text):
        return PARAGRAPH_CONTROL_CHARACTERS
    return direction_control_problem(text)


@transaction.atomic
def clinic_notice_update(*, actor: User, clinic: Clinic, notice_en: str, notice_es: str) -> Clinic:
    """A clinic's admins set its own wording of the client form's privacy notice (blank
    means the default). A change of wording bumps `notice_version`, so each client rating
    can name the wording it was shown; saving the same words changes nothing."""
    if not is_clinic_admin_of(actor, clinic.pk):
        raise PermissionDenied(NOTICE_NOT_FOR_YOU)
    # Locked, so two admins saving at once get two versions, not one number for both.
    clinic = Clinic.objects.select_for_update().get(pk=clinic.pk)
    wording = {"notice_en": _paragraphs(notice_en), "notice_es": _paragraphs(notice_es)}
    errors = {
        name: _notice_problem(text) for name, text in wording.items() if _notice_problem(text)
    }
    if errors:
        raise ValidationError(errors)
    fields = [name for name, text in wording.items() if getattr(clinic, name) != text]
    if not fields:
        return clinic
    for name, text in wording.items():
        setattr(clinic, name, text)
    clinic.notice_version += 1
    clinic.full_clean(exclude=NAME_UNCHANGED)
    clinic.save(update_fields=[*fields, "notice_version"])
    audit.written(actor, AuditAction.CHANGED, clinic, fields=[*fields, "notice_version"])
    return clinic


def clinic_retention_set(
    *,
    actor: User,
    clinic: Clinic,
    retention_days_after_discharge: int | None,
    keep_numbers_after_erasure: bool,
) -> Clinic:
    """How long a discharged client's record is kept, and whether an erased client's numbers
    still count: the clinic's admins (and superusers) decide."""
    if not (actor.is_superuser or is_clinic_admin_of(actor, clinic.pk)):
        raise PermissionDenied("Only a clinic admin of this clinic sets how long records are kept.")
    before = {
        "retention_days_after_discharge": clinic.retention_days_after_discharge,
        "keep_numbers_after_erasure": clinic.keep_numbers_after_erasure,
    }
    clinic.retention_days_after_discharge = retention_days_after_discharge
    clinic.keep_numbers_after_erasure = keep_numbers_after_erasure
    changed = audit.changed_fields(before, clinic)
    if not changed:
        return clinic
    clinic.full_clean(exclude=NAME_UNCHANGED)
    clinic.save(update_fields=changed)
    audit.written(actor, AuditAction.CHANGED, clinic, fields=changed)
    return clinic


def staff_create(
    *,
    clinic: Clinic,
    username: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    is_therapist: bool = False,
    is_supervisor: bool = False,
    is_clinic_admin: bool = False,
    is_staff: bool = False,
    actor: User | None = None,
) -> User:
    """Add a member of staff to a clinic; `password=None` leaves it unusable. `actor` is
    who added them (None from the demo seeder)."""
    _check_email_free(clinic_id=getattr(clinic, "pk", None), email=email)
    user = User(
        clinic=clinic,
        username=username,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email,
        is_therapist=is_therapist,
        is_supervisor=is_supervisor,
        is_clinic_admin=is_clinic_admin,
        is_staff=is_staff,
    )
    user.set_password(password)
    user.full_clean()
    with _username_kept(user):
        user.save()
        audit.written(actor, AuditAction.CREATED, user)
    return user


@contextmanager
def _username_kept(user: User) -> Iterator[None]:
    """A transaction for saving `user`, in which a username someone took a moment ago (their
    row committed after `full_clean` looked, as two invitations sent at the same instant,
    one "Ann" and one "ann") is said on the username, not a server error. The database's
    unique index on LOWER(username) is what refuses it."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        taken = User.objects.username_clash(user.username, besides=user)
        if taken is None:
            raise
        raise ValidationError({"username": username_taken(taken, user.username)}) from None


EMAIL_TAKEN = "A colleague of this clinic already has this e-mail address."


def email_taken(*, clinic_id: int | None, email: str, besides: User | None = None) -> bool:
    """Whether a colleague of the clinic (other than `besides`) has `email`, in any case.
    Within the clinic only: asked of every clinic, the answer would tell an admin whether
    an address has an account in another clinic, of which nothing is to be seen."""
    others = User.objects.filter(clinic_id=clinic_id, email__iexact=email.strip())
    return (others.exclude(pk=besides.pk) if besides is not None else others).exists()


def _check_email_free(*, clinic_id: int | None, email: str, besides: User | None = None) -> None:
    """One address, one colleague of a clinic: a second would be sent the first's reset
    links, and the invitation form and the colleague page refuse it. The admin's forms
    send any address they are given."""
    if (
        email
        and clinic_id is not None
        and email_taken(clinic_id=clinic_id, email=email, besides=besides)
    ):
        raise ValidationError({"email": EMAIL_TAKEN})


# What a colleague's details may change to, here; the password is theirs to choose, by link.
STAFF_FIELDS = frozenset(
    {
        "username",
        "first_name",
        "last_name",
        "email",
        "clinic",
        "is_therapist",
        "is_supervisor",
        "is_clinic_admin",
        "is_active",
        "is_staff",
    }
)
SUPERUSER_ONLY_FIELDS = frozenset({"is_superuser"})
STAFF_NAMES = frozenset({"first_name", "last_name", "username"})
EMAIL_IS_THE_OWNERS = (
    "An e-mail address is its owner's to change, on their account page, once they have "
    "chosen a password."
)


def check_may_manage_staff(actor: User, member: User) -> None:
    """A superuser manages anyone; a clinic admin, the people of their clinic (no superuser)."""
    if actor.is_superuser:
        return
    if member.is_superuser or not is_clinic_admin_of(actor, member.clinic_id):
        raise PermissionDenied("Only the clinic's admins manage its people.")


def staff_update(*, actor: User, member: User, data: dict[str, Any]) -> User:
    """Change a colleague's name, clinic, roles or access (`data`: field name → new value).

    A clinic admin keeps the colleague in their own clinic and never grants superuser
    powers; an address is changed here only for a colleague who has not yet chosen a
    password (else it is its owner's, and their next reset link would go elsewhere)."""
    check_may_manage_staff(actor, member)
    allowed = STAFF_FIELDS | (SUPERUSER_ONLY_FIELDS if actor.is_superuser else frozenset())
    if set(data) - allowed:
        raise PermissionDenied(f"You cannot change {', '.join(sorted(set(data) - allowed))}.")
    clinic = data.get("clinic", member.clinic)
    if not actor.is_superuser and getattr(clinic, "pk", None) != member.clinic_id:
        raise PermissionDenied("You cannot move a colleague to another clinic.")
    if data.get("email", member.email) != member.email and (
        member.pk == actor.pk or member.has_usable_password()
    ):
        raise ValidationError({"email": EMAIL_IS_THE_OWNERS})
    # Names as a form sends them, without space around: the admin's do, a command may not.
    data = {
        name: value.strip() if name in STAFF_NAMES and isinstance(value, str) else value
        for name, value in data.items()
    }
    if "email" in data or "clinic" in data:
        email = data.get("email", member.email)
        _check_email_free(clinic_id=getattr(clinic, "pk", None), email=email, besides=member)
    before = {name: getattr(member, name) for name in data}
    for name, value in data.items():
        setattr(member, name, value)
    member.full_clean(exclude=[name for name in STAFF_NAMES if name not in data])
    with _username_kept(member):
        member.save()
        _changed(actor, member, before)
        if "clinic" in before and before["clinic"] != member.clinic and before["clinic"]:
            # The move in the trail of the clinic they left too: its admins see the
            # colleague leave their Staff page, and read there who moved them, and when.
            fields = ["clinic"]
            audit.written(
                actor, AuditAction.CHANGED, member, fields=fields, clinic_id=before["clinic"].pk
            )
    return member


SUPERVISION_TAKEN = "This supervisor already supervises this therapist."


@transaction.atomic
def supervision_create(
    *, supervisor: User, therapist: User, actor: User | None = None
) -> Supervision:
    """Link a supervisor to a therapist of the same clinic; `actor` is who did (None from
    the demo seeder)."""
    supervision = Supervision(supervisor=supervisor, therapist=therapist)
    supervision.full_clean()
    try:
        with transaction.atomic():
            supervision.save()
    except IntegrityError:
        # The same link, added by a request at the same moment (a double click on "Add"),
        # which full_clean could not yet see: the link is there, so say so.
        raise ValidationError(SUPERVISION_TAKEN) from None
    audit.written(actor, AuditAction.CREATED, supervision, clinic_id=therapist.clinic_id)
    return supervision


def supervision_end(*, actor: User, supervision: Supervision) -> bool:
    """End a supervision link: the supervisor no longer reads the therapist's caseload.
    False when it had ended already (another admin, or the same "End" clicked twice, at
    the same moment): nothing more is deleted or recorded."""
    if not (actor.is_superuser or is_clinic_admin_of(actor, supervision.supervisor.clinic_id)):
        raise PermissionDenied("Only the clinic's admins end its supervision links.")
    # Ending a link deletes it (nothing of it is left), so the trail says "erased" rather
    # than inventing an "ended" action and a migration for it.
    ended = Supervision(pk=supervision.pk)
    with transaction.atomic():
        deleted, _ = Supervision.objects.filter(pk=supervision.pk).delete()
        if deleted:
            audit.written(
                actor, AuditAction.ENDED, ended, clinic_id=supervision.supervisor.clinic_id
            )
    return bool(deleted)


def _changed(actor: User, record: Any, before: dict[str, Any]) -> None:
    """Record which of `before`'s fields now differ on `record`; a save that changed
    nothing records nothing."""
    fields = audit.changed_fields(before, record)
    if fields:
        audit.written(actor, AuditAction.CHANGED, record, fields=fields)


def _check_may_manage_caseload(actor: User, therapist: User) -> None:
    """A therapist manages their own caseload; a clinic admin, any of the clinic's."""
    if actor.clinic_id is None or actor.clinic_id != therapist.clinic_id:
        raise PermissionDenied("You can only manage clients of your own clinic.")
    if not may_manage_caseload_of(actor, therapist):
        raise PermissionDenied("You can only manage clients in your own caseload.")


ERASED_RECORD = (
    "This client's record was erased: it takes no new details, notes or comments, "
    "and nothing was saved."
)


def check_takes_personal_data(client: Client) -> None:
    """Refuse a write of personal details or free text on an erased client (a form open
    from before the erasure would put back what it wiped): `takes_personal_data`."""
    if not takes_personal_data(client):
        raise ValidationError(ERASED_RECORD)


DEACTIVATED_THERAPIST = "{therapist} is deactivated: a client joins an active therapist's caseload."


def _check_treats_clients(therapist: User, message: str) -> None:
    """A client is given only to a therapist who can sign in: a deactivated one would
    treat nobody, and their concerns would reach no digest (`digests_send` skips them).
    The staff pages offer only active therapists; the admin's list offers everyone."""
    if not therapist.is_active:
        raise ValidationError({"therapist": message.format(therapist=therapist)})


def _therapist_locked(therapist: User) -> User:
    """The therapist read again and locked till the new client commits, then checked, as
    `clients.moves` does for a receiving therapist: a colleague another admin deactivated
    (or took the therapist role from: `Client.clean` reads the row given here) meanwhile
    is given no client; one being deactivated now waits for the client, then finds it
    (`accounts.staff` locks the same row before counting their clients)."""
    locked = User.objects.select_for_update().filter(pk=therapist.pk).first() or therapist
    _check_treats_clients(locked, DEACTIVATED_THERAPIST)
    return locked


EXTERNAL_ID_TAKEN = "Another client of this clinic has this external ID."
# What `client_update` may change; the audit names the ones that did ("therapist": moved).
CLIENT_DETAILS = (
    "label",
    "external_id",
    "email",
    "language",
    "therapist",
    "asks_outcome",
    "shows_own_chart",
)


def _client_save(
    client: Client, fields: list[str] | None = None, *, as_stored: Collection[str] = ()
) -> Client:
    """Validate and save (only `fields` when given); an external ID taken meanwhile is a
    form error, not a crash. The caller records the write, in the same transaction.
    `as_stored`: the words the edit leaves as they were, not checked again (a label stored
    before labels were checked stops no move)."""
    if client.external_id:
        taken = Client.objects.filter(clinic_id=client.clinic_id, external_id=client.external_id)
        if taken.exclude(pk=client.pk).exists():
            raise ValidationError({"external_id": EXTERNAL_ID_TAKEN})
    client.full_clean(exclude=list(as_stored))
    try:
        with transaction.atomic():
            client.save(update_fields=fields)
    except IntegrityError:
        raise ValidationError({"external_id": EXTERNAL_ID_TAKEN}) from None
    return client


def client_create(
    *,
    actor: User,
    therapist: User,
    label: str,
    external_id: str = "",
    email: str = "",
    language: str = Client.Language.ENGLISH,
    asks_outcome: bool = True,
    shows_own_chart: bool = False,
) -> Client:
    """Add a client to `therapist`'s caseload in the therapist's clinic."""
    _check_may_manage_caseload(actor, therapist)
    client = Client(
        clinic_id=therapist.clinic_id,
        therapist=therapist,
        label=label.strip(),
        external_id=external_id.strip(),
        email=email.strip(),
        language=language,
        asks_outcome=asks_outcome,
        shows_own_chart=shows_own_chart,
    )
    with transaction.atomic():
        client.therapist = _therapist_locked(therapist)
        _client_save(client)
        audit.written(actor, AuditAction.CREATED, client)
    return client


def client_update(
    *,
    actor: User,
    client: Client,
    label: str,
    external_id: str = "",
    email: str = "",
    language: str = Client.Language.ENGLISH,
    therapist: User | None = None,
    asks_outcome: bool | None = None,
    shows_own_chart: bool | None = None,
) -> Client:
    """Change a client's details; only a clinic admin may move a client to another therapist.
    The outcome switches stay as they are unless given."""
    _check_may_manage_caseload(actor, client.therapist)
    words = {"label": label.strip(), "external_id": external_id.strip(), "email": email.strip()}
    if any(getattr(client, name) != value for name, value in words.items()):
        # Only new words are refused on an erased client: a move, as the admin's form
        # sends it (with the erased label as it stands), writes none.
        check_takes_personal_data(client)
    before = {name: getattr(client, name) for name in CLIENT_DETAILS}
    moving = therapist is not None and therapist.pk != client.therapist_id
    if moving:
        if not may_move_clients(actor):
            raise PermissionDenied("Only a clinic admin can move a client to another therapist.")
        _check_may_manage_caseload(actor, therapist)
        _check_treats_clients(therapist, NOT_A_RECEIVER)
        client.therapist, client.therapist_since = therapist, timezone.now()
    client.label, client.external_id, client.email = (
        words["label"],
        words["external_id"],
        words["email"],
    )
    client.language = language
    if asks_outcome is not None:
        client.asks_outcome = asks_outcome
    if shows_own_chart is not None:
        client.shows_own_chart = shows_own_chart
    # Only the fields this edit may change: a move committed by an admin meanwhile
    # (clients.moves) is not written back with the therapist this request first read.
    fields = [name for name in CLIENT_DETAILS if moving or name != "therapist"]
    fields += ["therapist_since"] if moving else []
    # A label or external ID left as it was is not checked again (`_client_save`).
    as_stored = [name for name in ("label", "external_id") if words[name] == before[name]]
    with transaction.atomic():
        if moving:
            # The receiver read again under their lock, before the client's row, as
            # `clients.moves` takes them: one another admin deactivated meanwhile is given
            # no client; one being deactivated now waits, then finds the client.
            # (Or took their therapist role: `Client.clean` reads the row given here.)
            client.therapist = User.objects.select_for_update().filter(pk=therapist.pk).first()
            _check_treats_clients(client.therapist, NOT_A_RECEIVER)
        _client_save(client, fields, as_stored=as_stored)
        _changed(actor, client, before)
    return client


@transaction.atomic
def client_discharge(*, actor: User, client: Client) -> Client:
    _check_may_manage_caseload(actor, client.therapist)
    if client.status == Client.Status.DISCHARGED:
        raise ValidationError("This client is already discharged.")
    client.status = Client.Status.DISCHARGED
    client.discharged_at = timezone.now()
    client.save(update_fields=["status", "discharged_at"])
    audit.written(actor, AuditAction.CHANGED, client, fields=["status", "discharged_at"])
    return client


@transaction.atomic
def client_reopen(*, actor: User, client: Client) -> Client:
    _check_may_manage_caseload(actor, client.therapist)
    if client.status == Client.Status.ACTIVE:
        raise ValidationError("This client is already active.")
    if client.is_erased:
        raise ValidationError("An erased client cannot be re-opened: add them as a new client.")
    client.status = Client.Status.ACTIVE
    client.discharged_at = None
    # The concerns still open are the therapist's to hear of again, and to escalate only a
    # full `ALLIANCE_ESCALATE_AFTER_DAYS` from now (`measures.notifications`).
    client.reopened_at = timezone.now()
    client.save(update_fields=["status", "discharged_at", "reopened_at"])
    audit.written(actor, AuditAction.CHANGED, client, fields=["status", "discharged_at"])
    return client
