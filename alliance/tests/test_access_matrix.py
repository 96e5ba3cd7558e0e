"""The access matrix: every named URL × nine roles × GET and POST, against a table of answers.

The URL names come from the URL conf itself (the admin's included ones too), so a URL
added without a row in `EXPECTED`, or a row left behind by a removed URL, fails here.

Each row says what each role must get, from the rules — `clients/scoping.py`, the
views' decorators and the admin classes' permission methods — never from what the app
happens to answer today. Object arguments are filled with therapist A's records ("A's")
and, for every URL that takes one, with another clinic's ("another clinic's"): a record
outside your scope is a 404, as if it did not exist. The admin answers "does not exist"
with a redirect to its index and a message; that is its 404 here (`ADMIN_NOT_FOUND`).

A row is one line: `name: {variant: (GET, POST)}`, each a role → outcome mapping built
with the helpers below (`SEES_CLIENT`, `TREATING_ONLY`, `done(...)`…). The admin's
per-model rows come from `ADMIN_MODELS`, which names each registered model's permission
class.

POSTs carry an empty body (the test client skips the CSRF check): enough to show who
may write. Each request runs in a savepoint that is rolled back, so every cell sees
the same records. No cell may answer 500.

Every member of staff here has `is_staff`, as in the demo: the strictest case for the
admin, which then relies on its scoping alone. Without `is_staff` the admin sends them
to its log-in page, like the anonymous column.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client as Browser
from django.urls import NoReverseMatch, reverse

from alliance.tests.urlconf_walk import (
    OTHER,
    OWN,
    UNKNOWN,
    World,
    admin_url_models,
    browser_for,
    named_urls,
    url_for,
)

pytestmark = pytest.mark.django_db

# --- Outcomes ----------------------------------------------------------------------------

OK = "200"
DENIED = "403"
NOT_FOUND = "404"
NOT_ALLOWED = "405"
UNAUTHORIZED = "401"
LOGIN = "302 to the log-in page"
ADMIN_LOGIN = "302 to the admin's log-in page"
ADMIN_INDEX = "302 to the admin's index"
# The admin's "doesn't exist, perhaps it was deleted": its answer for a record out of scope.
ADMIN_NOT_FOUND = ADMIN_INDEX
REDIRECT = "302 elsewhere"  # done (a write, a log-in), or sent on to the right page
SUCCESS = {OK, REDIRECT}

# --- Roles -------------------------------------------------------------------------------

ROLES = (
    "anonymous",
    "link_holder",  # an anonymous browser that has opened a rating link for A's session
    "therapist",  # A: owns the client
    "colleague",  # B: same clinic, not A's supervisor
    "supervisor",  # supervises A: reads A's caseload; writes only comments on concerns
    "idle_supervisor",  # same clinic, holds the supervisor role, supervises nobody
    "clinic_admin",
    "other_admin",  # the admin of another clinic
    "superuser",  # runs the installation; belongs to no clinic
)
ANONYMOUS = ("anonymous", "link_holder")
SIGNED_IN = ROLES[2:]

Expect = dict[str, str]


def everyone(outcome: str) -> Expect:
    return dict.fromkeys(ROLES, outcome)


def signed_in(default: str, **roles: str) -> Expect:
    """An app page: anonymous browsers go to log in; signed-in roles get `default` unless named."""
    return dict.fromkeys(ANONYMOUS, LOGIN) | dict.fromkeys(SIGNED_IN, default) | roles


def in_admin(default: str, **roles: str) -> Expect:
    """An admin page: the same, but the admin has its own log-in page."""
    return dict.fromkeys(ANONYMOUS, ADMIN_LOGIN) | dict.fromkeys(SIGNED_IN, default) | roles


def done(row: Expect) -> Expect:
    """The same row for a write that answers with a redirect once done."""
    return {role: REDIRECT if outcome == OK else outcome for role, outcome in row.items()}


# --- The app's rows ----------------------------------------------------------------------

ANY_STAFF = signed_in(OK)
GET_ONLY = signed_in(NOT_ALLOWED)  # a POST to a read-only page
POST_ONLY = signed_in(NOT_ALLOWED)  # a GET to a write
# A's client (or their session, concern…): readable by whoever's caseload holds it.
SEES_CLIENT = signed_in(NOT_FOUND, therapist=OK, supervisor=OK, clinic_admin=OK)
# Changed by A or the clinic admin; the supervisor reads but may not write (403).
MANAGES_CLIENT = signed_in(NOT_FOUND, therapist=OK, supervisor=DENIED, clinic_admin=OK)
# Only A, who treats the client (sessions, ratings, links, reviews); other readers 403.
TREATING_ONLY = signed_in(NOT_FOUND, therapist=OK, supervisor=DENIED, clinic_admin=DENIED)
# Another clinic's record: nobody here sees it; only that clinic's admin.
OTHER_CLINICS = signed_in(NOT_FOUND, other_admin=OK)
# Another clinic's record for its treating therapist only: its admin reads it, 403.
OTHER_CLINICS_TREATING = signed_in(NOT_FOUND, other_admin=DENIED)
OVERSEERS = signed_in(DENIED, supervisor=OK, idle_supervisor=OK, clinic_admin=OK, other_admin=OK)
CLINIC_ADMINS = signed_in(DENIED, clinic_admin=OK, other_admin=OK)
# The client's rights (export, erase): the client's clinic admin; other readers 403.
CLIENTS_CLINIC_ADMIN = signed_in(NOT_FOUND, therapist=DENIED, supervisor=DENIED, clinic_admin=OK)
# A colleague (A, or another clinic's therapist) on the staff pages: the clinic's admins
# manage its people; another clinic's colleague does not exist for them.
STAFF_OWN = signed_in(DENIED, clinic_admin=OK, other_admin=NOT_FOUND)
STAFF_OTHER = signed_in(DENIED, clinic_admin=NOT_FOUND, other_admin=OK)
# The log-in page: the form for anonymous browsers, straight on for anyone signed in.
LOG_IN_PAGE = everyone(REDIRECT) | dict.fromkeys(ANONYMOUS, OK)

# name → {variant: (GET, POST)}. The superuser belongs to no clinic, so the app's scoping
# shows them no records (404) and no clinic roles (403); they work in the admin.
EXPECTED: dict[str, dict[str, tuple[Expect, Expect]]] = {
    "login": {OWN: (LOG_IN_PAGE, LOG_IN_PAGE)},
    "logout": {OWN: (everyone(NOT_ALLOWED), everyone(LOGIN))},
    # The admin's log-in form is ours: one page, with the throttle and the second factor.
    "admin-login": {OWN: (everyone(LOGIN), everyone(LOGIN))},
    "admin-password-change": {OWN: (everyone(REDIRECT), everyone(REDIRECT))},
    "password_change": {OWN: (ANY_STAFF, ANY_STAFF)},
    "password_change_done": {OWN: (ANY_STAFF, GET_ONLY)},
    # Forgotten passwords: the same pages for anyone; an unknown link says it no longer works.
    "password_reset": {OWN: (everyone(OK), everyone(OK))},
    "password_reset_done": {OWN: (everyone(OK), everyone(NOT_ALLOWED))},
    "password_reset_confirm": {OWN: (everyone(OK), everyone(OK))},
    "password_reset_complete": {OWN: (everyone(OK), everyone(NOT_ALLOWED))},
    # One's own account. A fresh sign-in counts as the password just given, so the pages
    # that ask for it again open at once; an empty e-mail address is a valid choice.
    "account": {OWN: (ANY_STAFF, GET_ONLY)},
    "account-email": {OWN: (ANY_STAFF, done(ANY_STAFF))},
    "reauthenticate": {OWN: (ANY_STAFF, ANY_STAFF)},
    # Personal access tokens: made by anyone signed in (an empty name makes none and says
    # so; its address opened again goes to the list); revoked by their owner alone, anyone
    # else's a 404.
    "token-create": {OWN: (signed_in(REDIRECT), signed_in(REDIRECT))},  # GET: to the list
    "token-revoke": {
        OWN: (POST_ONLY, signed_in(NOT_FOUND, therapist=REDIRECT)),
        OTHER: (POST_ONLY, signed_in(NOT_FOUND)),
    },
    # The API takes a token, never the session's cookie: 401 to every browser here (the
    # tokens' own rows are in api/tests/test_api.py). Its schema holds no data.
    **{
        f"api:{resource}-{kind}": {OWN: (everyone(UNAUTHORIZED), everyone(UNAUTHORIZED))}
        for resource in ("client", "session", "rating", "outcome-answer", "concern")
        for kind in ("list", "detail")
    },
    "api:client-fhir": {OWN: (everyone(UNAUTHORIZED), everyone(UNAUTHORIZED))},
    "api:schema": {OWN: (everyone(OK), everyone(NOT_ALLOWED))},
    # Nobody here owes a second factor (force_login gives it to those who must), so the
    # code page sends them on; set-up shows a new key to anyone; recovery codes are shown
    # once, after they are made; turning off is refused (with a message) where required.
    "two-factor-verify": {OWN: (signed_in(REDIRECT), signed_in(REDIRECT))},
    "two-factor-setup": {OWN: (ANY_STAFF, ANY_STAFF)},
    "two-factor-recovery-codes": {OWN: (signed_in(REDIRECT), signed_in(REDIRECT))},
    "two-factor-off": {OWN: (POST_ONLY, signed_in(REDIRECT))},
    # clients
    "clients:client-create": {
        OWN: (signed_in(DENIED, therapist=OK, colleague=OK, clinic_admin=OK, other_admin=OK),) * 2
    },
    "clients:client-edit": {
        OWN: (MANAGES_CLIENT, MANAGES_CLIENT),
        OTHER: (OTHER_CLINICS, OTHER_CLINICS),
    },
    "clients:client-discharge": {
        OWN: (MANAGES_CLIENT, done(MANAGES_CLIENT)),
        OTHER: (OTHER_CLINICS, done(OTHER_CLINICS)),
    },
    # moving a client: the client's clinic admin; an empty POST shows the form's error
    "clients:client-move": {
        OWN: (CLIENTS_CLINIC_ADMIN, CLIENTS_CLINIC_ADMIN),
        OTHER: (OTHER_CLINICS, OTHER_CLINICS),
    },
    "clients:client-reopen": {
        OWN: (MANAGES_CLIENT, done(MANAGES_CLIENT)),
        OTHER: (OTHER_CLINICS, done(OTHER_CLINICS)),
    },
    # the clinic's settings (the client form's privacy notice): its clinic admins; an
    # empty form keeps the default wording and is saved
    "clients:clinic-settings": {OWN: (CLINIC_ADMINS, done(CLINIC_ADMINS))},
    # the clinic's people: its clinic admins. An empty POST shows a form's errors (200) or
    # is refused with a message and sent back (A already chose a password, is active and
    # still has clients); ending A's supervision is done.
    "staff:list": {OWN: (CLINIC_ADMINS, GET_ONLY)},
    "staff:invite": {OWN: (CLINIC_ADMINS, CLINIC_ADMINS)},
    "staff:colleague": {OWN: (STAFF_OWN, STAFF_OWN), OTHER: (STAFF_OTHER, STAFF_OTHER)},
    "staff:move-clients": {OWN: (STAFF_OWN, STAFF_OWN), OTHER: (STAFF_OTHER, STAFF_OTHER)},
    "staff:deactivate": {
        OWN: (STAFF_OWN, done(STAFF_OWN)),
        OTHER: (STAFF_OTHER, done(STAFF_OTHER)),
    },
    "staff:invitation": {
        OWN: (POST_ONLY, done(STAFF_OWN)),
        OTHER: (POST_ONLY, done(STAFF_OTHER)),
    },
    "staff:reactivate": {
        OWN: (POST_ONLY, done(STAFF_OWN)),
        OTHER: (POST_ONLY, done(STAFF_OTHER)),
    },
    "staff:supervision-end": {
        OWN: (POST_ONLY, done(STAFF_OWN)),
        OTHER: (POST_ONLY, done(STAFF_OTHER)),
    },
    # A new colleague's invitation: anyone holding the link; one we did not make says it
    # does not work, as not found (a used, expired or replaced one is gone, 410:
    # accounts/tests/test_staff_pages.py).
    "staff:welcome": {OWN: (everyone(NOT_FOUND), everyone(NOT_FOUND))},
    # sessions
    "sessions:session-log": {
        OWN: (TREATING_ONLY, TREATING_ONLY),
        OTHER: (OTHER_CLINICS_TREATING, OTHER_CLINICS_TREATING),
    },
    "sessions:session-edit": {
        OWN: (TREATING_ONLY, TREATING_ONLY),
        OTHER: (OTHER_CLINICS_TREATING, OTHER_CLINICS_TREATING),
    },
    "sessions:session-void": {
        # An empty POST gives no reason: the form answers with its error (200).
        OWN: (TREATING_ONLY, TREATING_ONLY),
        OTHER: (OTHER_CLINICS_TREATING, OTHER_CLINICS_TREATING),
    },
    # measures: pages any member of staff has (scoped to what they see)
    "reports:caseload": {OWN: (ANY_STAFF, ANY_STAFF)},
    "measures:review-queue": {OWN: (ANY_STAFF, GET_ONLY)},
    "reports:client-detail": {
        OWN: (SEES_CLIENT, SEES_CLIENT),
        OTHER: (OTHER_CLINICS, OTHER_CLINICS),
    },
    # The chart shown to the client in the room: their own therapist sits with them;
    # the record's other readers are not in the room (403).
    "reports:review-with-client": {
        OWN: (TREATING_ONLY, GET_ONLY),
        OTHER: (OTHER_CLINICS_TREATING, GET_ONLY),
    },
    "reports:client-ratings-csv": {
        OWN: (SEES_CLIENT, GET_ONLY),
        OTHER: (OTHER_CLINICS, GET_ONLY),
    },
    "reports:client-outcomes-csv": {
        OWN: (SEES_CLIENT, GET_ONLY),
        OTHER: (OTHER_CLINICS, GET_ONLY),
    },
    "reports:session-detail": {
        OWN: (SEES_CLIENT, SEES_CLIENT),
        OTHER: (OTHER_CLINICS, OTHER_CLINICS),
    },
    "measures:therapist-rating": {
        OWN: (TREATING_ONLY, TREATING_ONLY),
        OTHER: (OTHER_CLINICS_TREATING, OTHER_CLINICS_TREATING),
    },
    "measures:invitation-create": {
        OWN: (POST_ONLY, TREATING_ONLY),  # 200: the new link, shown once
        OTHER: (POST_ONLY, OTHER_CLINICS_TREATING),
    },
    "measures:invitation-email": {
        OWN: (POST_ONLY, done(TREATING_ONLY)),
        OTHER: (POST_ONLY, OTHER_CLINICS_TREATING),
    },
    # The client's form: the link is the credential, whoever holds it; no account needed.
    "measures:client-rating": {
        OWN: (everyone(OK), everyone(OK)),
        UNKNOWN: (everyone(NOT_FOUND), everyone(NOT_FOUND)),
    },
    # Thanks, at the link's token: the plain page for any token (the client's own chart,
    # too, for the link just answered when their therapist turned it on); read only.
    "measures:client-rating-thanks": {
        OWN: (everyone(OK), everyone(NOT_ALLOWED)),
        UNKNOWN: (everyone(OK), everyone(NOT_ALLOWED)),
    },
    "measures:client-rating-thanks-plain": {OWN: (everyone(OK), everyone(NOT_ALLOWED))},
    # For a load balancer or a monitor: open to anyone, read only, no record in it.
    "measures:health": {OWN: (everyone(OK), everyone(NOT_ALLOWED))},
    "measures:health-detection": {OWN: (everyone(OK), everyone(NOT_ALLOWED))},
    # concerns: read by whoever sees the client, moved on by A alone, commented on by A
    # and A's supervisor
    "measures:concern-detail": {
        OWN: (SEES_CLIENT, GET_ONLY),
        OTHER: (OTHER_CLINICS, GET_ONLY),
    },
    "measures:concern-acknowledge": {
        OWN: (POST_ONLY, done(TREATING_ONLY)),
        OTHER: (POST_ONLY, OTHER_CLINICS_TREATING),
    },
    "measures:concern-resolve": {
        OWN: (POST_ONLY, TREATING_ONLY),  # 200: the page, asking for the repair note
        OTHER: (POST_ONLY, OTHER_CLINICS_TREATING),
    },
    "measures:concern-dismiss": {
        OWN: (POST_ONLY, TREATING_ONLY),  # 200: the page, asking for the reason
        OTHER: (POST_ONLY, OTHER_CLINICS_TREATING),
    },
    "measures:concern-comment": {
        OWN: (POST_ONLY, signed_in(NOT_FOUND, therapist=OK, supervisor=OK, clinic_admin=DENIED)),
        OTHER: (POST_ONLY, OTHER_CLINICS_TREATING),
    },
    "measures:flag-detail": {
        OWN: (done(SEES_CLIENT), GET_ONLY),  # on to its concern
        OTHER: (done(OTHER_CLINICS), GET_ONLY),
    },
    # oversight: supervisors and clinic admins
    "reports:dashboard": {OWN: (OVERSEERS, GET_ONLY)},
    "reports:dashboard-csv": {OWN: (OVERSEERS, GET_ONLY)},
    "reports:precision": {OWN: (OVERSEERS, GET_ONLY)},
    "reports:therapist-caseload": {
        OWN: (
            signed_in(DENIED, supervisor=OK, idle_supervisor=NOT_FOUND, clinic_admin=OK)
            | {"other_admin": NOT_FOUND},
            GET_ONLY,
        ),
        OTHER: (
            signed_in(DENIED, supervisor=NOT_FOUND, idle_supervisor=NOT_FOUND)
            | {"clinic_admin": NOT_FOUND, "other_admin": OK},
            GET_ONLY,
        ),
    },
    # how well a therapist reads their clients: their own page (therapists only), and the
    # same page for the therapists one oversees, as the drill-down above
    "reports:reading": {OWN: (signed_in(DENIED, therapist=OK, colleague=OK), GET_ONLY)},
    "reports:therapist-reading": {
        OWN: (
            signed_in(DENIED, supervisor=OK, idle_supervisor=NOT_FOUND, clinic_admin=OK)
            | {"other_admin": NOT_FOUND},
            GET_ONLY,
        ),
        OTHER: (
            signed_in(DENIED, supervisor=NOT_FOUND, idle_supervisor=NOT_FOUND)
            | {"clinic_admin": NOT_FOUND, "other_admin": OK},
            GET_ONLY,
        ),
    },
    # the client's rights: an empty POST downloads the export (200), or asks again for
    # the label before an erasure (200, a form error)
    "measures:client-export": {
        OWN: (CLIENTS_CLINIC_ADMIN, CLIENTS_CLINIC_ADMIN),
        OTHER: (OTHER_CLINICS, OTHER_CLINICS),
    },
    "measures:client-fhir": {
        OWN: (CLIENTS_CLINIC_ADMIN, GET_ONLY),
        OTHER: (OTHER_CLINICS, GET_ONLY),
    },
    "measures:client-erase": {
        OWN: (CLIENTS_CLINIC_ADMIN, CLIENTS_CLINIC_ADMIN),
        OTHER: (OTHER_CLINICS, OTHER_CLINICS),
    },
    # the clinic's audit trail and its export: its clinic admins
    "reports:audit": {OWN: (CLINIC_ADMINS, GET_ONLY)},
    "reports:audit-csv": {OWN: (CLINIC_ADMINS, GET_ONLY)},
    # the clinic's thresholds: its clinic admins
    "measures:thresholds": {OWN: (CLINIC_ADMINS, GET_ONLY)},
    "measures:thresholds-calibrate": {OWN: (POST_ONLY, done(CLINIC_ADMINS))},
    "measures:thresholds-reset": {OWN: (POST_ONLY, done(CLINIC_ADMINS))},
    # a calibration's progress: its clinic's admins; another clinic's does not exist
    "measures:thresholds-progress": {
        OWN: (signed_in(DENIED, clinic_admin=OK, other_admin=NOT_FOUND), GET_ONLY),
        OTHER: (signed_in(DENIED, clinic_admin=NOT_FOUND, other_admin=OK), GET_ONLY),
    },
    "measures:thresholds-apply": {
        OWN: (POST_ONLY, signed_in(DENIED, clinic_admin=REDIRECT, other_admin=NOT_FOUND)),
        OTHER: (POST_ONLY, signed_in(DENIED, clinic_admin=NOT_FOUND, other_admin=REDIRECT)),
    },
    # the clinic's outcome instruments: its clinic admins; an empty form is shown again
    # with its errors (200); another clinic's instrument does not exist for them
    "measures:instruments": {OWN: (CLINIC_ADMINS, CLINIC_ADMINS)},
    "measures:instrument-use": {
        OWN: (POST_ONLY, signed_in(DENIED, clinic_admin=REDIRECT, other_admin=NOT_FOUND)),
        OTHER: (POST_ONLY, signed_in(DENIED, clinic_admin=NOT_FOUND, other_admin=REDIRECT)),
    },
    "measures:instrument-retire": {
        OWN: (POST_ONLY, signed_in(DENIED, clinic_admin=REDIRECT, other_admin=NOT_FOUND)),
        OTHER: (POST_ONLY, signed_in(DENIED, clinic_admin=NOT_FOUND, other_admin=REDIRECT)),
    },
}

# --- The admin's rows --------------------------------------------------------------------

ADMIN_STAFF = in_admin(OK)
SUPERUSER = in_admin(DENIED, superuser=OK)
NOBODY = in_admin(DENIED)
# A's record (client, session, concern… or A, or A's supervision) for whoever sees it.
ADMIN_SEES_A = in_admin(ADMIN_NOT_FOUND, therapist=OK, supervisor=OK, clinic_admin=OK, superuser=OK)
ADMIN_SEES_OTHER = in_admin(ADMIN_NOT_FOUND, other_admin=OK, superuser=OK)
# Written by the clinic admin (their clinic's records) and superusers; everyone else 403.
ADMIN_WRITES_A = in_admin(DENIED, clinic_admin=OK, other_admin=ADMIN_NOT_FOUND, superuser=OK)
ADMIN_WRITES_OTHER = in_admin(DENIED, clinic_admin=ADMIN_NOT_FOUND, other_admin=OK, superuser=OK)
CLINIC_ADMINS_ADD = in_admin(DENIED, clinic_admin=OK, other_admin=OK, superuser=OK)
# Their own clinic, for every member of its staff.
ADMIN_OWN_CLINIC = in_admin(OK, other_admin=ADMIN_NOT_FOUND)

# Per permission class: admin view → {variant: (GET, POST)}.
# People, supervision and clients: scoped reads; the clinic admin and superusers write.
CLINIC_ADMIN_EDITS = {
    "changelist": {OWN: (ADMIN_STAFF, ADMIN_STAFF)},
    "add": {OWN: (CLINIC_ADMINS_ADD, CLINIC_ADMINS_ADD)},
    "change": {OWN: (ADMIN_SEES_A, ADMIN_WRITES_A), OTHER: (ADMIN_SEES_OTHER, ADMIN_WRITES_OTHER)},
    "delete": {OWN: (ADMIN_WRITES_A,) * 2, OTHER: (ADMIN_WRITES_OTHER,) * 2},
    "history": {OWN: (ADMIN_SEES_A,) * 2, OTHER: (ADMIN_SEES_OTHER,) * 2},
}
# People: scoped reads; the clinic admin and superusers add and change; nobody deletes
# (a colleague who leaves is made inactive).
PEOPLE = CLINIC_ADMIN_EDITS | {
    "delete": {OWN: (NOBODY, NOBODY), OTHER: (NOBODY, NOBODY)},
}
# Supervision links: added and ended (deleted), never edited.
SUPERVISION_LINKS = CLINIC_ADMIN_EDITS | {
    "change": {OWN: (ADMIN_SEES_A, NOBODY), OTHER: (ADMIN_SEES_OTHER, NOBODY)},
}
# Clients: written by the clinic's admin through the client services, which act for a
# clinic's staff (a superuser reads); never deleted.
CLIENTS = CLINIC_ADMIN_EDITS | {
    "add": {OWN: (in_admin(DENIED, clinic_admin=OK, other_admin=OK),) * 2},
    "change": {
        OWN: (ADMIN_SEES_A, in_admin(DENIED, clinic_admin=OK, other_admin=ADMIN_NOT_FOUND)),
        OTHER: (ADMIN_SEES_OTHER, in_admin(DENIED, clinic_admin=ADMIN_NOT_FOUND, other_admin=OK)),
    },
    "delete": {OWN: (NOBODY, NOBODY), OTHER: (NOBODY, NOBODY)},
}
# Sessions, rating links, ratings, signals and concerns: scoped reads; nobody writes (the
# app's services number sessions, keep ratings once and each concern's history).
READ_ONLY = {
    "changelist": {OWN: (ADMIN_STAFF, ADMIN_STAFF)},
    "add": {OWN: (NOBODY, NOBODY)},
    "change": {OWN: (ADMIN_SEES_A, NOBODY), OTHER: (ADMIN_SEES_OTHER, NOBODY)},
    "delete": {OWN: (NOBODY, NOBODY), OTHER: (NOBODY, NOBODY)},
    "history": {OWN: (ADMIN_SEES_A,) * 2, OTHER: (ADMIN_SEES_OTHER,) * 2},
}
# Sweeps and thresholds: read by superusers alone, written by nobody.
# Nobody else reaches their rows at all: a record's history, which Django looks up before
# asking who may see it, answers as for a record that does not exist.
SUPERUSER_HISTORY = in_admin(ADMIN_NOT_FOUND, superuser=OK)
SUPERUSER_READS = {
    "changelist": {OWN: (SUPERUSER, SUPERUSER)},
    "add": {OWN: (NOBODY, NOBODY)},
    "change": {OWN: (SUPERUSER, NOBODY), OTHER: (SUPERUSER, NOBODY)},
    "delete": {OWN: (NOBODY, NOBODY), OTHER: (NOBODY, NOBODY)},
    "history": {OWN: (SUPERUSER_HISTORY,) * 2, OTHER: (SUPERUSER_HISTORY,) * 2},
}
# The clinic itself: its staff read it, superusers add it (clinic_create), its clinic
# admin and superusers rename it (clinic_rename); nobody deletes it.
CLINIC_RECORD = {
    "changelist": {OWN: (ADMIN_STAFF, ADMIN_STAFF)},
    "add": {OWN: (SUPERUSER, SUPERUSER)},
    "change": {
        OWN: (ADMIN_OWN_CLINIC, ADMIN_WRITES_A),
        OTHER: (ADMIN_SEES_OTHER, ADMIN_WRITES_OTHER),
    },
    "delete": {OWN: (NOBODY, NOBODY), OTHER: (NOBODY, NOBODY)},
    "history": {OWN: (ADMIN_OWN_CLINIC,) * 2, OTHER: (ADMIN_SEES_OTHER,) * 2},
}
# django-axes' sign-in records: superusers read them and may delete (unlock); nobody edits.
SIGN_IN_RECORDS = {
    "changelist": {OWN: (SUPERUSER, SUPERUSER)},
    "add": {OWN: (NOBODY, NOBODY)},
    "change": {OWN: (SUPERUSER, NOBODY)},
    "delete": {OWN: (SUPERUSER, SUPERUSER)},  # POST without confirming: the question again
    "history": {OWN: (SUPERUSER, SUPERUSER)},
}
# The logs of sign-ins and failures: superusers read them; nobody edits or deletes them.
SIGN_IN_LOGS = SIGN_IN_RECORDS | {"delete": {OWN: (NOBODY, NOBODY)}}

ADMIN_MODELS = {
    "clients.clinic": CLINIC_RECORD,
    "clients.user": PEOPLE,
    "clients.supervision": SUPERVISION_LINKS,
    "clients.client": CLIENTS,
    "therapy_sessions.session": READ_ONLY,
    "therapy_sessions.ratinginvitation": READ_ONLY,
    "measures.rating": READ_ONLY,
    "measures.flag": READ_ONLY,
    "measures.concern": READ_ONLY,
    "measures.sweep": SUPERUSER_READS,
    "measures.clinicthresholds": SUPERUSER_READS,
    "measures.calibration": SUPERUSER_READS,
    "measures.thresholdchange": SUPERUSER_READS,
    "axes.accessattempt": SIGN_IN_RECORDS,
    "axes.accesslog": SIGN_IN_LOGS,
    "axes.accessfailurelog": SIGN_IN_LOGS,
}
# Records that belong to no clinic: there is no other clinic's to try.
NO_CLINIC = {
    "measures.sweep",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}


def admin_model_rows() -> dict[str, dict[str, tuple[Expect, Expect]]]:
    """A row per admin view of each model, from its permission class."""
    rows = {}
    for label, views in ADMIN_MODELS.items():
        for view, variants in views.items():
            if label in NO_CLINIC:
                variants = {OWN: variants[OWN]}
            rows[f"admin:{label.replace('.', '_')}_{view}"] = variants
    return rows


EXPECTED |= admin_model_rows()

EXPECTED |= {
    "admin:index": {OWN: (ADMIN_STAFF, ADMIN_STAFF)},
    "admin:app_list": {OWN: (ADMIN_STAFF, ADMIN_STAFF)},  # the clients app
    "admin:login": {OWN: (everyone(LOGIN), everyone(LOGIN))},  # on to our log-in page
    # Anonymous browsers are sent to the admin's index (and so to its log-in page).
    "admin:logout": {
        OWN: (
            dict.fromkeys(ANONYMOUS, ADMIN_INDEX) | dict.fromkeys(SIGNED_IN, NOT_ALLOWED),
            dict.fromkeys(ANONYMOUS, ADMIN_INDEX) | dict.fromkeys(SIGNED_IN, LOGIN),
        )
    },
    # One's own password: on to our page, whose old-password check the throttle counts
    # (which then asks anonymous browsers to log in).
    "admin:password_change": {OWN: (everyone(REDIRECT), everyone(REDIRECT))},
    "admin:password_change_done": {OWN: (ADMIN_STAFF, in_admin(NOT_ALLOWED))},
    "admin:jsi18n": {OWN: (ADMIN_STAFF, in_admin(NOT_ALLOWED))},
    # Suggestions for the client form's therapist field: users, as UserAdmin scopes them.
    "admin:autocomplete": {OWN: (ADMIN_STAFF, in_admin(NOT_ALLOWED))},
    # "View on site" for a concern: on to its page for whoever sees it; for anyone else the
    # same 404 as for a concern that does not exist.
    "admin:view_on_site": {
        OWN: (
            done(in_admin(NOT_FOUND, therapist=OK, supervisor=OK, clinic_admin=OK, superuser=OK)),
        )
        * 2,
        OTHER: (done(in_admin(NOT_FOUND, other_admin=OK, superuser=OK)),) * 2,
    },
}

# --- Asking ------------------------------------------------------------------------------


def path_of(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def outcome(response: HttpResponse) -> str:
    if response.status_code in (301, 302, 303, 307, 308):
        path = urlsplit(response["Location"]).path
        if path == resolve_url(settings.LOGIN_URL):
            return LOGIN
        if path == path_of("admin:login"):
            return ADMIN_LOGIN
        if path == path_of("admin:index"):
            return ADMIN_INDEX
        return REDIRECT
    return str(response.status_code)


def answer(browser: Browser, method: str, url: str) -> str:
    """What `browser` gets for `method url` (an empty POST), with nothing kept afterwards."""
    cache.clear()  # rate limits count per test; here every cell starts afresh
    with transaction.atomic():
        try:
            response = browser.get(url) if method == "GET" else browser.post(url, {})
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
        except Exception as error:  # e.g. a download failing half-way: a 500 all the same
            return f"500 ({error!r})"
        finally:
            transaction.set_rollback(True)
    return outcome(response)


def cells(name: str) -> Iterator[tuple[str, str, str, str]]:
    """(variant, method, role, expected) for every cell of a row, role by role."""
    for role in ROLES:
        for variant, (on_get, on_post) in EXPECTED[name].items():
            yield variant, "GET", role, on_get[role]
            yield variant, "POST", role, on_post[role]


def mismatches(name: str, world: World) -> list[str]:
    """Ask every cell of `name`'s row; say which answered otherwise."""
    urls = {variant: url_for(name, variant, world) for variant in EXPECTED[name]}
    browsers: dict[str, Browser] = {}
    found = []
    for variant, method, role, expected in cells(name):
        if role not in browsers:
            browsers[role] = browser_for(role, world)
        actual = answer(browsers[role], method, urls[variant])
        if actual != expected:
            found.append(mismatch((name, variant, method, role), expected, actual))
    return found


def mismatch(cell: tuple[str, str, str, str], expected: str, actual: str) -> str:
    name, variant, method, role = cell
    line = f"{name} [{variant}] {method} as {role}: expected {expected}, got {actual}"
    if actual.startswith("500"):
        return line + "  <- SERVER ERROR"
    if actual in SUCCESS and expected not in SUCCESS:
        return line + "  <- LEAK: a refusal became a success"
    return line


# --- The table against the URL conf ------------------------------------------------------


def test_every_named_url_has_a_row() -> None:
    missing = sorted(set(named_urls()) - set(EXPECTED))
    assert not missing, f"URL added without a row in EXPECTED: {missing}"


def test_every_row_names_a_url_that_still_exists() -> None:
    gone = sorted(set(EXPECTED) - set(named_urls()))
    assert not gone, f"Rows for URLs that no longer exist: {gone}"


def test_every_registered_model_admin_has_a_permission_class() -> None:
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert not registered - set(ADMIN_MODELS), "ModelAdmins missing from ADMIN_MODELS"
    assert not set(ADMIN_MODELS) - registered, "ADMIN_MODELS names models no longer registered"


def test_every_row_answers_for_every_role() -> None:
    outcomes = {OK, DENIED, NOT_FOUND, NOT_ALLOWED, UNAUTHORIZED, LOGIN, ADMIN_LOGIN, ADMIN_INDEX}
    outcomes.add(REDIRECT)
    for name, variants in EXPECTED.items():
        assert variants, name
        for variant, row in variants.items():
            assert variant in (OWN, OTHER, UNKNOWN), (name, variant)
            for expect in row:
                assert set(expect) == set(ROLES), (name, variant)
                assert set(expect.values()) <= outcomes, (name, variant)


def test_every_url_for_a_record_is_also_tried_with_another_clinics() -> None:
    """The 404 for outsiders is proved on every page that names a record."""
    records = {"client_id", "session_id", "concern_id", "flag_id", "calibration_id"}
    records |= {"therapist_id", "object_id", "id"}
    models_by_url = admin_url_models()
    untried = [
        name
        for name, params in named_urls().items()
        if records & set(params)
        and models_by_url.get(name) not in NO_CLINIC
        and OTHER not in EXPECTED.get(name, {OTHER: None})
    ]
    assert not untried, f"No row for another clinic's record: {untried}"


def test_nobody_reaches_another_clinics_record_in_the_table() -> None:
    """Guards the table itself: no row may write down a leak across clinics as expected."""
    here = {"therapist", "colleague", "supervisor", "idle_supervisor", "clinic_admin"}
    leaks = []
    for name, variants in EXPECTED.items():
        if OTHER not in variants:
            continue
        for method, expect in zip(("GET", "POST"), variants[OTHER], strict=True):
            leaks += [(name, method, role) for role in here if expect[role] in SUCCESS]
        for method, expect in zip(("GET", "POST"), variants[OWN], strict=True):
            if expect["other_admin"] in SUCCESS:
                leaks.append((name, method, "other_admin"))
    assert not leaks


# --- The matrix --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_role_gets_the_expected_answer(name: str, world: World, status_only: None) -> None:
    if name not in named_urls():
        pytest.fail(f"{name} is no longer in the URL conf; remove its row")
    found = mismatches(name, world)
    assert not found, "\n".join(found)
