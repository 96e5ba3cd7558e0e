"""Forms for the clinic admin's staff pages. They parse input; `accounts.staff` writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db.models import QuerySet

from accounts.staff import invited_already, username_as_stored
from alliance.fields import NameField, RecordChoiceField
from alliance.forms import ServiceForm
from clients.colleagues import ColleagueChoiceField
from clients.models import User, username_taken


class RolesForm(ServiceForm):
    """The roles a colleague holds; one person may hold several."""

    is_therapist = forms.BooleanField(
        label="Therapist",
        required=False,
        help_text="Sees and rates their own clients' sessions.",
    )
    is_supervisor = forms.BooleanField(
        label="Supervisor",
        required=False,
        help_text="Reads the caseloads of the therapists they supervise, on the team dashboard.",
    )
    is_clinic_admin = forms.BooleanField(
        label="Clinic admin",
        required=False,
        help_text="Manages the clinic's people, clients, settings and audit trail.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not any(
            cleaned.get(name) for name in ("is_therapist", "is_supervisor", "is_clinic_admin")
        ):
            raise forms.ValidationError("Choose at least one role.")
        return cleaned

    def roles(self) -> dict[str, bool]:
        return {name: bool(self.cleaned_data[name]) for name in RolesForm.base_fields}


class InviteForm(RolesForm):
    """A new colleague: who they are, how they sign in, and what they do here."""

    first_name = NameField(label="First name", max_length=150)
    last_name = NameField(label="Last name", max_length=150)
    email = forms.EmailField(
        label="E-mail",
        help_text="The invitation goes here: a link to choose their own password.",
    )
    username = NameField(
        label="Username",
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="What they type to log in: letters, digits and @ . + - _ only.",
    )
    field_order = ["first_name", "last_name", "email", "username"]

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean_username(self) -> str:
        # Here as well as in the service, so a taken username is said beside any other
        # mistake in the form, not on the next try. Taken by the very colleague this
        # invites (the form sent twice), it is the service's to say so.
        username = username_as_stored(self.cleaned_data["username"])
        email = self.cleaned_data.get("email", "")  # the field before this one
        taken = User.objects.username_clash(username)
        if taken is not None and not (
            email and invited_already(actor=self.actor, username=username, email=email)
        ):
            raise forms.ValidationError(username_taken(taken, username))
        return username

    def details(self) -> dict[str, Any]:
        names = ("first_name", "last_name", "email", "username")
        return {name: self.cleaned_data[name] for name in names} | self.roles()


class InvitationEmailForm(ServiceForm):
    """The address of a colleague still to accept their invitation, set or corrected."""

    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        help_text="Where the invitation goes. Once they have chosen a password, the address "
        "is theirs to change.",
    )


class ColleagueChoiceForm(ServiceForm):
    """One colleague chosen from those the page offers (a supervisor, a therapist)."""

    def __init__(self, *args: Any, choices: QuerySet[User], label: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["colleague"] = ColleagueChoiceField(
            queryset=choices, label=label, empty_label="Choose a colleague"
        )


class BackToColleagueForm(ServiceForm):
    """The colleague whose page a button was on (a hidden field), to go back to."""

    def __init__(self, *args: Any, colleagues: QuerySet[User], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["member"] = RecordChoiceField(queryset=colleagues)

    def colleague(self) -> User | None:
        return self.cleaned_data["member"] if self.is_valid() else None
