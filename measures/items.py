"""The wording of the rating items: one plain sentence each, about this session.

The client's wording is written for the client (and translated); the
therapist's says the same from the other chair, so the two can be compared.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

DIMENSION_NAMES = {
    "trust": _("Trust and safety"),
    "empathy": _("Empathy"),
    "collaboration": _("Goals and tasks"),
    "boundaries": _("Boundaries"),
    "growth": _("Gentle challenge"),
    "respect": _("Respect"),
}

CLIENT_ITEMS = {
    "trust": _("I felt safe being open with my therapist."),
    "empathy": _("I felt heard and understood."),
    "collaboration": _("We worked on what matters to me, in a way that fits me."),
    "boundaries": _("I knew what to expect; the session felt respectful and well held."),
    "growth": _("I was helped to look at things in a new way."),
    "respect": _("My identity and background were welcome."),
}

THERAPIST_ITEMS = {
    "trust": "The client seemed safe being open with me.",
    "empathy": "The client seemed to feel heard and understood.",
    "collaboration": "We worked on what matters to the client, in a way that fits them.",
    "boundaries": "The session was predictable, respectful and well held.",
    "growth": "I helped the client look at things in a new way.",
    "respect": "The client's identity and background were welcome.",
}

THERAPIST_RUPTURE_QUESTION = (
    "Did you notice a rupture — a moment of tension, misunderstanding or withdrawal?"
)
CLIENT_RUPTURE_QUESTION = _(
    "Was there a moment today when you felt misunderstood, uncomfortable or at odds with "
    "your therapist?"
)
RUPTURE_RESOLVED_QUESTION = _("Was it talked through?")
