"""The clinic admin's staff pages: the clinic's people, inviting a colleague, their roles
and supervision links, moving a leaver's clients and deactivating them.

Every page is for the clinic's admins (403 for anyone else); a colleague of another clinic
is a 404. Writes go through `accounts.staff`, `accounts.staff_invitations` and
`clients.moves`, which record them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST, require_safe

from accounts import staff, staff_invitations
from accounts.staff_forms import (
    BackToColleagueForm,
    ColleagueChoiceForm,
    InvitationEmailForm,
    InviteForm,
    RolesForm,
)
from alliance import links
from alliance.forms import PageForm
from clients import moves
from clients.access import get_visible_or_404
from clients.forms import MoveForm
from clients.models import Client, Supervision, User
from clients.scoping import may_manage_staff

PAGE_SIZE = 50
NOT_FOR_YOU = "The clinic's people are managed by its clinic admins."


def _require_admin(request: HttpRequest) -> None:
    if not may_manage_staff(request.user):
        raise PermissionDenied(NOT_FOR_YOU)


def _colleague(request: HttpRequest, member_id: int) -> User:
    """A colleague of the admin's clinic; anyone else's is a 404."""
    _require_admin(request)
    return get_visible_or_404(User.objects.visible_to(request.user), member_id)


def _caseload(request: HttpRequest, member: User) -> QuerySet[Client]:
    """The colleague's clients, discharged ones included, as the admin sees them."""
    return Client.objects.visible_to(request.user).filter(therapist=member)


def _back(member: User) -> HttpResponse:
    return redirect("staff:colleague", member_id=member.pk)


@login_required
@require_safe
def staff_list(request: HttpRequest) -> HttpResponse:
    """The clinic's people: roles, who supervises whom, caseload size, and who is still
    to accept their invitation."""
    _require_admin(request)
    people = (
        User.objects.visible_to(request.user)
        .annotate(active_clients=Count("caseload", filter=Q(caseload__status=Client.Status.ACTIVE)))
        .prefetch_related(
            Prefetch("supervised_by", Supervision.objects.select_related("supervisor")),
            Prefetch("supervisions", Supervision.objects.select_related("therapist")),
        )
        .order_by("-is_active", "last_name", "first_name", "username")
    )
    page = Paginator(people, PAGE_SIZE).get_page(PageForm(request.GET).number())
    return render(request, "staff/list.html", {"page": page})


@login_required
def staff_invite(request: HttpRequest) -> HttpResponse:
    """Invite a colleague: they get an e-mail with a link to choose their password."""
    _require_admin(request)
    form = InviteForm(request.POST if request.method == "POST" else None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            member = staff.staff_invite(actor=request.user, **form.details())
        except staff.InvitedAlready as already:
            # A double click: the first click's answer, not an error about the username.
            messages.info(
                request,
                f"{already.member} is invited already, with this username and address: "
                "no second invitation was sent.",
            )
            return _back(already.member)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            _report_invitation(
                request,
                member,
                staff_invitations.invitation_send(actor=request.user, member=member),
            )
            return _back(member)
    context = {"form": form, "invitation_days": settings.ALLIANCE_STAFF_INVITATION_DAYS}
    return render(request, "staff/invite.html", context)


def _report_invitation(request: HttpRequest, member: User, sent: bool) -> None:
    if sent:
        messages.success(request, f"Invitation sent to {member.email}.")
    else:
        messages.error(
            request,
            f"The invitation to {member.email} could not be sent (the mail server refused it). "
            "Send it again in a while.",
        )


@login_required
@require_POST
def invitation_resend(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _colleague(request, member_id)
    try:
        sent = staff_invitations.invitation_send(actor=request.user, member=member)
    except ValidationError as error:
        messages.info(request, " ".join(error.messages))
    else:
        _report_invitation(request, member, sent)
    return _back(member)


def _supervisor_choices(request: HttpRequest, member: User) -> QuerySet[User]:
    """Who could supervise `member`: the clinic's active supervisors not already doing so."""
    return (
        User.objects.visible_to(request.user)
        .filter(is_supervisor=True, is_active=True)
        .exclude(pk=member.pk)
        .exclude(supervisions__therapist=member)
    )


def _supervisee_choices(request: HttpRequest, member: User) -> QuerySet[User]:
    """Whom `member` could supervise: the clinic's active therapists not yet theirs."""
    return (
        User.objects.visible_to(request.user)
        .filter(is_therapist=True, is_active=True)
        .exclude(pk=member.pk)
        .exclude(supervised_by__supervisor=member)
    )


COLLEAGUE_PARTS = ("roles", "add-supervisor", "add-supervisee", "email")


@login_required
def colleague(request: HttpRequest, member_id: int) -> HttpResponse:
    """One colleague: roles, supervision links, caseload, invitation. Each part is its own
    form; a post names it."""
    member = _colleague(request, member_id)
    posted = request.POST if request.method == "POST" else None
    part = request.POST.get("part", "") if posted is not None else ""
    roles_form = RolesForm(
        posted if part == "roles" else None,
        initial={name: getattr(member, name) for name in staff.ROLES},
    )
    supervisor_form = ColleagueChoiceForm(
        posted if part == "add-supervisor" else None,
        choices=_supervisor_choices(request, member),
        label="Add a supervisor",
        prefix="supervisor",
    )
    supervisee_form = ColleagueChoiceForm(
        posted if part == "add-supervisee" else None,
        choices=_supervisee_choices(request, member),
        label="Add a therapist they supervise",
        prefix="supervisee",
    )
    email_form = InvitationEmailForm(
        posted if part == "email" else None, initial={"email": member.email}, prefix="invitation"
    )
    if posted is not None and part not in COLLEAGUE_PARTS:
        messages.error(request, "That is not a part of this page; nothing was saved.")
    elif part == "email":
        saved = _email_set(request, member, email_form)
        if saved is not None:
            return saved
    elif part == "roles" and roles_form.is_valid():
        try:
            staff.staff_roles_set(actor=request.user, member=member, **roles_form.roles())
        except ValidationError as error:
            roles_form.add_service_error(error)
            member.refresh_from_db()
        else:
            messages.success(request, f"{member}'s roles saved.")
            if member.pk == request.user.pk and not may_manage_staff(member):
                # An admin who gave up the role: the staff pages are no longer theirs.
                return redirect(links.home())
            return _back(member)
    elif part in ("add-supervisor", "add-supervisee"):
        form = supervisor_form if part == "add-supervisor" else supervisee_form
        if form.is_valid():
            chosen = form.cleaned_data["colleague"]
            pair = (chosen, member) if part == "add-supervisor" else (member, chosen)
            try:
                staff.supervision_add(actor=request.user, supervisor=pair[0], therapist=pair[1])
            except ValidationError as error:
                form.add_service_error(error)
            else:
                messages.success(request, f"{pair[0]} now supervises {pair[1]}.")
                return _back(member)
    return render(
        request,
        "staff/colleague.html",
        {
            "member": member,
            "invited": staff.is_invited(member),
            "email_form": email_form,
            "roles_form": roles_form,
            "supervisor_form": supervisor_form,
            "supervisee_form": supervisee_form,
            # A select with nothing to choose is left out (a refused post still shows why).
            "can_add_supervisor": supervisor_form.is_bound
            or supervisor_form.fields["colleague"].queryset.exists(),
            "can_add_supervisee": supervisee_form.is_bound
            or supervisee_form.fields["colleague"].queryset.exists(),
            "supervised_by": member.supervised_by.select_related("supervisor"),
            "supervises": member.supervisions.select_related("therapist"),
            "clients": _caseload(request, member).aggregate(
                active=Count("pk", filter=Q(status=Client.Status.ACTIVE)), all=Count("pk")
            ),
        },
    )


def _email_set(
    request: HttpRequest, member: User, form: InvitationEmailForm
) -> HttpResponse | None:
    """The colleague page's address part: saved, back to the page; refused, None (the
    page is drawn again, the address as typed)."""
    if not form.is_valid():
        return None
    had_address = bool(member.email)
    try:
        changed = staff.staff_email_set(
            actor=request.user, member=member, email=form.cleaned_data["email"]
        )
    except ValidationError as error:
        member.refresh_from_db()
        if staff.is_invited(member):
            form.add_service_error(error)
        else:  # a post the page no longer offers (they signed in meanwhile, or crafted)
            messages.error(request, " ".join(error.messages))
        return None
    if not changed:
        messages.info(request, f"{member}'s e-mail address was already {member.email}.")
    elif had_address:
        messages.success(
            request,
            f"{member}'s e-mail address is now {member.email}. A link sent to the old one no "
            "longer works: send the invitation again.",
        )
    else:
        messages.success(
            request, f"{member}'s e-mail address is now {member.email}: send the invitation."
        )
    return _back(member)


ENDED_ALREADY = "That supervision link had ended already."


@login_required
@require_POST
def supervision_end(request: HttpRequest, supervision_id: int) -> HttpResponse:
    _require_admin(request)
    links = Supervision.objects.visible_to(request.user).select_related("supervisor", "therapist")
    supervision = links.filter(pk=supervision_id).first()
    if supervision is None:
        # "End" clicked twice: the first click ended it. Back to the page the button was on
        # (a link never seen, or another clinic's, is not found: both are just gone).
        back_to = BackToColleagueForm(
            request.POST, colleagues=User.objects.visible_to(request.user)
        ).colleague()
        if back_to is None:
            raise Http404("Not found.")
        messages.info(request, ENDED_ALREADY)
        return _back(back_to)
    if staff.supervision_remove(actor=request.user, supervision=supervision):
        messages.success(
            request, f"{supervision.supervisor} no longer supervises {supervision.therapist}."
        )
    else:
        messages.info(request, ENDED_ALREADY)
    back = request.POST.get("from") == "therapist"
    return _back(supervision.therapist if back else supervision.supervisor)


def _receivers(request: HttpRequest, *, besides: User) -> QuerySet[User]:
    """The therapists a client may move to: the clinic's active ones, `besides` excepted."""
    return User.objects.assignable_by(request.user).exclude(pk=besides.pk)


@login_required
def move_clients(request: HttpRequest, member_id: int) -> HttpResponse:
    """Move every client of a colleague (a leaver) to another therapist: choose, confirm
    the list, moved. Exactly the clients confirmed move."""
    member = _colleague(request, member_id)
    caseload = _caseload(request, member).order_by("status", "label", "pk")
    form = MoveForm(
        request.POST if request.method == "POST" else None,
        therapists=_receivers(request, besides=member),
        clients=caseload,
    )
    if request.method == "POST" and form.is_valid():
        if not form.cleaned_data["confirmed"]:
            return render(
                request, "staff/move_clients_confirm.html", _move_context(form, member, caseload)
            )
        try:
            moved = moves.caseload_move(
                actor=request.user,
                leaver=member,
                therapist=form.cleaned_data["therapist"],
                client_ids=[client.pk for client in form.cleaned_data["clients"]],
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            receiver = form.cleaned_data["therapist"]
            messages.success(request, f"{moved} client{pluralize(moved)} moved to {receiver}.")
            return _back(member)
    return render(
        request, "staff/move_clients.html", {"form": form, "member": member, "caseload": caseload}
    )


def _move_context(form: MoveForm, member: User, caseload: QuerySet[Client]) -> dict[str, Any]:
    moving = list(caseload)
    return {
        "form": form,
        "member": member,
        "moving": moving,
        "receiver": form.cleaned_data["therapist"],
    }


@login_required
def deactivate(request: HttpRequest, member_id: int) -> HttpResponse:
    """Confirm, then deactivate a colleague whose clients have been moved."""
    member = _colleague(request, member_id)
    if request.method == "POST":
        try:
            staff.staff_deactivate(actor=request.user, member=member)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{member} is deactivated: they can no longer log in.")
        return _back(member)
    context = {"member": member, "clients": _caseload(request, member).count()}
    return render(request, "staff/deactivate.html", context)


@login_required
@require_POST
def reactivate(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _colleague(request, member_id)
    try:
        staff.staff_reactivate(actor=request.user, member=member)
    except ValidationError as error:
        messages.info(request, " ".join(error.messages))
    else:
        messages.success(request, f"{member} is active again.")
    return _back(member)


# A link we made that no longer opens is gone (410): used, expired or replaced. One we
# cannot tell from a mistyped or forged one is not found (404).
LINK_STATUS = {
    staff_invitations.LinkState.USED: 410,
    staff_invitations.LinkState.EXPIRED: 410,
    staff_invitations.LinkState.REPLACED: 410,
    staff_invitations.LinkState.UNKNOWN: 404,
}


class WelcomeView(auth_views.PasswordResetConfirmView):
    """A new colleague's invitation: they choose their password, then log in. A link that
    no longer opens says why and what to do: used (log in), expired or replaced (ask for
    it again), or unknown; never whose it was."""

    token_generator = staff_invitations.invitation_tokens
    template_name = "staff/welcome.html"
    success_url = reverse_lazy("password_reset_complete")
    post_reset_login = False

    def get_user(self, uidb64: str) -> User | None:
        user = super().get_user(uidb64)
        # A deactivated colleague's old invitation opens nothing.
        return user if user is not None and user.is_active else None

    def _link_state(self) -> staff_invitations.LinkState:
        token = self.kwargs["token"]
        if token == self.reset_url_token:  # the page the link redirected to
            token = self.request.session.get(INTERNAL_RESET_SESSION_TOKEN)
        return staff_invitations.invitation_tokens.link_state(self.user, token)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if not self.validlink:
            context["link"] = self._link_state().value
            context["invitation_days"] = settings.ALLIANCE_STAFF_INVITATION_DAYS
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        if not self.validlink:
            kwargs["status"] = LINK_STATUS[staff_invitations.LinkState(context["link"])]
        return super().render_to_response(context, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        token = self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        if not staff_invitations.invitation_accept(
            member=self.user, token=token, password=form.cleaned_data["new_password1"]
        ):
            # Used, replaced or ended since the page opened: the page says which.
            self.user = self.get_user(self.kwargs["uidb64"])
            self.validlink = False
            return self.render_to_response(self.get_context_data())
        # The token stays (now used), so going Back to the form says the invitation was used.
        return redirect(self.get_success_url())
