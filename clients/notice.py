"""The privacy notice on the client's rating form: who sees the answers.

It must be true to the access rules (`clients/scoping.py`): the therapist sees their
client's answers; a supervisor of the therapist and the clinic's admins may see them
too; nobody outside the clinic does. A clinic may write its own wording for each
language (blank keeps the default below); `clinic_notice_update` bumps the clinic's
`notice_version` whenever the wording changes (and `clinic_rename` when a language shows
the default, which names the clinic), and each client rating records the version it was
shown (`Rating.notice_version`).
"""

from __future__ import annotations

from django.utils.translation import gettext

from clients.models import Clinic

# The field holding a clinic's own wording, per language of the client's form.
NOTICE_FIELDS = {"en": "notice_en", "es": "notice_es"}


def default_notice(clinic_name: str) -> str:
    """The default wording, in the active language. It names both overseeing roles as
    "may see" rather than checking whether this therapist has a supervisor today: a
    supervision can begin after the client has answered, and their answers stay."""
    return gettext(
        "Your therapist sees your answers. At %(clinic)s, your therapist's supervisor "
        "and the clinic's administrators may see them too. They are not shared with "
        "anyone outside %(clinic)s."
    ) % {"clinic": clinic_name}


def clinic_notice(clinic: Clinic, language: str) -> str:
    """The notice a client of `clinic` reads in `language` (the active language must be
    `language` too, for the default's translation)."""
    own = getattr(clinic, NOTICE_FIELDS.get(language, "notice_en"), "")
    return own.strip() or default_notice(clinic.name)


def shows_default_notice(clinic: Clinic) -> bool:
    """Whether a language of the client's form shows the default wording, which names the
    clinic (a clinic's own wording is its own, whatever the clinic is called)."""
    return any(not getattr(clinic, field).strip() for field in NOTICE_FIELDS.values())


def is_known_version(clinic: Clinic, version: int) -> bool:
    """Whether the clinic has ever shown this version: the first is 1, the latest its own."""
    return 1 <= version <= clinic.notice_version
