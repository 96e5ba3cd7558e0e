"""Alliance settings: one module, read from the environment.

The defaults are the embedded mode (SQLite, eager tasks, DEBUG on) so that a
fresh checkout runs with nothing else installed. Production sets DEBUG=false and
must then provide SECRET_KEY and ALLOWED_HOSTS, or start-up fails loudly.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.utils.module_loading import import_string

from alliance.env import env_bool, env_date, env_float, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=True)

_DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-never-use-in-production"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = _DEVELOPMENT_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is false.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "drf_spectacular",
    # Our apps, in layer order: a lower app never imports a higher one.
    "clients",
    "sessions.apps.TherapySessionsConfig",
    "measures",
    "reports",
    "accounts",
    "api",
    "demo",
]

MIDDLEWARE = [
    # Outermost: whatever answers at a client's link (token in the address), privately.
    "alliance.middleware.LinkAddressesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "alliance.middleware.SecurityHeadersMiddleware",
    # Refuses what no page here can use (NUL bytes, other charsets, big bodies) before
    # anything reads it; its answers still get the headers above.
    "alliance.middleware.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, so it marks every page built here (not the static files) no-store.
    "alliance.middleware.PrivatePagesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's LocaleMiddleware at the client's link only; English everywhere else.
    "alliance.middleware.ClientLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Keeps the request's address and page for the audit entries it causes.
    "clients.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleSessionMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers for a locked-out log-in.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "alliance.urls"
WSGI_APPLICATION = "alliance.wsgi.application"
ASGI_APPLICATION = "alliance.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "alliance.context_processors.home",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# PostgreSQL's JIT compiler is for long analytic queries: on the dashboard's aggregate
# (estimated costly, run in ~0.1 s) it spent 0.17 s compiling before the first row, on
# every request. The pages are short queries, so it is off for the app's connections.
POSTGRES_OPTIONS = ["-c jit=off"]
# In the web tier (alliance/wsgi.py says so), a statement may run this long before
# PostgreSQL cancels it and the page answers 503, "try again shortly": under gunicorn's
# 30 s, so a query gone wrong (planned on statistics not yet updated, say) frees its
# worker and its core rather than running on for a request already abandoned. Workers,
# migrations and commands run as long as their work needs. 0 turns it off.
DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS = env_int("DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS", 25)
# PostgreSQL refuses a connection whose statement_timeout is out of its range (0 to
# 2147483647 ms): every page of the web tier answered 503 and /health/ "unreachable",
# with the database up.
if not 0 <= DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS <= 2_147_483:
    raise ImproperlyConfigured(
        "DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS must be from 0 (no limit) to 2147483."
    )
if env_bool("ALLIANCE_WEB_TIER", False) and DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS:
    POSTGRES_OPTIONS.append(f"-c statement_timeout={DATABASE_WEB_STATEMENT_TIMEOUT_SECONDS}s")


# How long opening a connection to PostgreSQL may take before it counts as unreachable
# (libpq's connect_timeout: 2 or more; 0 waits for ever). A database host gone from the
# network (a failover, a crashed machine) neither takes nor refuses a connection: without
# it a page waited for the operating system's TCP timeout, past gunicorn's 30 s, which
# killed the worker and sent no page at all; now it answers the clean 503 after this long.
# (libpq reads a negative one as 0: wait for ever.)
DATABASE_CONNECT_TIMEOUT_SECONDS = env_int("DATABASE_CONNECT_TIMEOUT_SECONDS", 5, minimum=0)


def database(url: str) -> dict[str, Any]:
    """A connection from a URL, kept for a minute and checked before reuse (0: closed after
    each request; a negative age Django would have read as 0)."""
    config = dj_database_url.parse(
        url,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
    if config["ENGINE"] == "django.db.backends.postgresql":
        options = config.setdefault("OPTIONS", {})
        options["options"] = " ".join(POSTGRES_OPTIONS)
        # A connect_timeout given in the URL (`?connect_timeout=15`) wins.
        options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT_SECONDS)
    return config


# SQLite in the project folder unless DATABASE_URL points elsewhere.
DATABASES = {"default": database(env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
# A read replica, if there is one: the dashboard, the CSV exports and the sweep's histories
# read from it (alliance/replica.py); every write, and every other read, goes to "default".
# In tests the alias mirrors the test database (Django's TEST MIRROR), so the suite runs
# with DATABASE_REPLICA_URL set as without it.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {**database(DATABASE_REPLICA_URL), "TEST": {"MIRROR": "default"}}
ALLIANCE_REPLICA_DATABASE = "replica" if DATABASE_REPLICA_URL else None
# How long the sweep waits for a lagging replica to catch up before reading the primary.
DATABASE_REPLICA_WAIT_SECONDS = env_int("DATABASE_REPLICA_WAIT_SECONDS", 30, minimum=0)
DATABASE_ROUTERS = ["alliance.replica.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- People ---------------------------------------------------------------
AUTH_USER_MODEL = "clients.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "reports:caseload"
LOGOUT_REDIRECT_URL = "login"
# django-axes sees every password check first, so a locked-out user and address pair
# is refused before their password is even tried.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.ThrottledBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in: throttling, two-factor, sessions (see SECURITY.md) -----------
# After this many wrong passwords in a row for one username from one address, that
# pair is locked out until the time below passes or a clinic admin unlocks it. A limit of 0
# or less refused everyone's right password at the first try; a pause of 0 minutes or less
# locked nobody out, however many passwords were guessed.
AXES_FAILURE_LIMIT = env_int("ALLIANCE_LOGIN_FAILURES_ALLOWED", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("ALLIANCE_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "alliance.net.client_address"
AXES_USERNAME_FORM_FIELD = "username"
# A username is counted in one case, whatever case it was typed in (accounts/backends.py).
AXES_USERNAME_CALLABLE = "accounts.backends.throttled_username"
AXES_ENABLE_ADMIN = False  # accounts/admin.py registers its screens, without form data
# Staff who must confirm a code from an authenticator app after their password:
# "admins" (clinic admins and superusers; others may opt in) or "all".
ALLIANCE_TWO_FACTOR = env_str("ALLIANCE_TWO_FACTOR", "admins")
if ALLIANCE_TWO_FACTOR not in ("admins", "all"):
    raise ImproperlyConfigured("ALLIANCE_TWO_FACTOR must be admins or all.")
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Alliance")
# A signed-in session ends after this many idle minutes, and its cookie ends with the browser
# (0 or less signed everyone out at their next page).
ALLIANCE_IDLE_MINUTES = env_int("ALLIANCE_IDLE_MINUTES", 30, minimum=1)
SESSION_COOKIE_AGE = ALLIANCE_IDLE_MINUTES * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Changing one's e-mail or two-factor needs the password again if the last one is older (0
# or less asked for it again and again, for ever: no admin could set up two-factor).
ALLIANCE_REAUTHENTICATE_MINUTES = env_int("ALLIANCE_REAUTHENTICATE_MINUTES", 10, minimum=1)
# How long an e-mailed password-reset link stays valid (0 or less: dead on arrival).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_HOURS", 24, minimum=1) * 60 * 60

# --- Languages and time ---------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------
# Front-end packages come from npm (package.json) and are served from our own
# origin: the distribution folders are mounted as static directories.
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Messages can name a client's label; keep them server-side, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Cache ----------------------------------------------------------------
# Rate limits live here. One process: memory. Several web processes or hosts:
# point CACHE_URL at Redis so they share one count.
CACHE_URL = env_str("CACHE_URL")
# Django's Redis cache (one address, or several with commas) reads its address only when first
# used, and every limit here lets requests through while the cache fails: a mistyped address
# (`redis:/cache`, `cache:6379`) turned off every rate limit, with a warning per request. Not
# echoed: an address may hold a password.
if CACHE_URL and not all(
    re.match(r"(redis|rediss|unix)://", address.strip()) for address in re.split("[;,]", CACHE_URL)
):
    raise ImproperlyConfigured(
        "CACHE_URL must be a Redis address starting redis://, rediss:// or unix:// "
        "(each of them, if several)."
    )
# How long a cache call may wait for Redis (to connect, then for each answer) before it
# counts as down. It holds only counts, answered in well under a millisecond on the same
# network; redis-py's own wait, 5 s, held every rating link and every API request that long
# while a Redis (or the proxy in front of it) took connections and answered nothing.
CACHE_TIMEOUT_SECONDS = 0.5


def cache(url: str) -> dict[str, Any]:
    """The cache at `url` (Redis), or this process's memory when there is none."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": {
            "socket_connect_timeout": CACHE_TIMEOUT_SECONDS,
            "socket_timeout": CACHE_TIMEOUT_SECONDS,
        },
    }


CACHES = {"default": cache(CACHE_URL)}

# --- E-mail ---------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Django loads the backend only when an e-mail is sent: a typo in its path started fine and
# then answered every staff invitation with a 500, and failed every reminder and digest.
try:
    import_string(EMAIL_BACKEND)
except ImportError as error:
    raise ImproperlyConfigured(
        f"EMAIL_BACKEND must name an e-mail backend, such as "
        f"django.core.mail.backends.smtp.EmailBackend, not {EMAIL_BACKEND!r} ({error})."
    ) from None
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
# A port past 65535 failed every e-mail as it was sent (0 quietly meant 25).
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Alliance <alliance@localhost>")
# Read only as each e-mail is sent: an address Django cannot write ("alliance@") failed every
# invitation, reminder and digest, one it passes on unread ("Alliance alliance.example.org")
# the mail server refuses.
try:
    validate_email(parseaddr(DEFAULT_FROM_EMAIL)[1])
except ValidationError:
    raise ImproperlyConfigured(
        "DEFAULT_FROM_EMAIL must be an e-mail address, alone or as Name <address>, such as "
        f"Alliance <alliance@clinic.example>, not {DEFAULT_FROM_EMAIL!r}."
    ) from None
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------
# With no broker configured, tasks run eagerly in-process so the app works on a
# laptop with nothing else installed.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    # Named host: Kombu warns "No hostname was supplied" for a bare memory:// whenever
    # it describes the connection (every eagerly run task's on-commit queueing).
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# For the tasks that set none of their own (reminders, e-mailed rating links, sign-in
# clean-up): a negative limit stopped each of them as it began, 0 none of them ever; a soft
# limit not below the hard one never warned a task before it was killed.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT})."
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that is down must not hold up a page. Queuing a task (a rating's evaluation,
# on commit) gives up within about a second when the broker refuses, or a few seconds when
# it does not answer at all; the caller logs it and the sweep catches up. Every publish
# first connects with the broker transport's own retry options, whether or not publishing
# itself retries (celery/celery#6046); without them Kombu retries for six seconds.
# Workers connect with broker_connection_max_retries (unchanged), not with these.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_TASK_PUBLISH_RETRY_POLICY,
    "socket_connect_timeout": 2,  # Redis: a broker host that drops the connection attempt
    # Redis: a broker that takes the connection and then says nothing (stalled, or a proxy
    # in front of one that is down); without it a publish waited for ever and a page with
    # it. Above the workers' wait for work (BRPOP, one second).
    "socket_timeout": 3,
    # Redis hands a task taken by a worker that died (main process and all) to another
    # worker after this many seconds; its default, an hour, left a killed sweep's chunk
    # waiting that long. It must exceed the longest task that should not run twice at once
    # (a sweep's chunk: 5 minutes) and the longest retry countdown (10 minutes). Only the
    # retention erase may run longer (limit 35 minutes); it skips clients already erased.
    # 0 or less handed every task a worker had taken to another at the next look, while the
    # first still ran it.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 15 * 60, minimum=1),
    # How often (seconds) a worker looks for such tasks: every 10 × 10 s by default. (Kombu
    # reads an interval of 0 or less as 10, and a throttle of 0 as 1.)
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10, minimum=1),
    "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10, minimum=1),
}
# One queue unless an operator (or a test) names another, shared by producers and workers.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE") or "celery"
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2  # the same for a Redis result backend, if one is set
CELERY_TIMEZONE = TIME_ZONE

# --- Clinical thresholds (see README "How flags are raised") --------------
# Every alliance score and dimension is from 0 to 10: a cut-off above it (36, the Session
# Rating Scale's out of 40) flagged every rating, one below it none.
ALLIANCE_CUTOFF = env_float("ALLIANCE_CUTOFF", 9.0, minimum=0, maximum=10)
# "lt": a score below the cut-off is flagged; "le": at or below it.
ALLIANCE_CUTOFF_OPERATOR = env_str("ALLIANCE_CUTOFF_OPERATOR", "lt")
if ALLIANCE_CUTOFF_OPERATOR not in ("lt", "le"):
    raise ImproperlyConfigured("ALLIANCE_CUTOFF_OPERATOR must be lt or le.")
# Reliable change: 1.96 × SD × √(2 × (1 − r)); with these defaults, 1.5 points.
ALLIANCE_SD = env_float("ALLIANCE_SD", 1.0)
ALLIANCE_RELIABILITY = env_float("ALLIANCE_RELIABILITY", 0.70)
# √(2 × (1 − r)) has no value for r above 1 (every evaluation, and the reading page, failed
# with a math error) and is 0 at 1, which calibration divides by; an SD of 0 or less makes
# every fall, however small, a reliable drop. The ranges are a clinic's own thresholds'
# (measures/models/thresholds.py), which take the installation's place.
if not 0 <= ALLIANCE_RELIABILITY < 1:
    raise ImproperlyConfigured("ALLIANCE_RELIABILITY must be 0 or more and below 1.")
if not 0 < ALLIANCE_SD <= 10:
    raise ImproperlyConfigured("ALLIANCE_SD must be more than 0 and at most 10.")
# The defaults below are tuned on the signal benchmark (bench/signal.py); README says why.
# Out of their ranges the rules said nothing wrong but quietly did something else: a
# dimension drop of 0 (or a discrepancy of 0) fired at every steady rating, a run of 0
# missed sessions never fired, a trend of 1 rating or a mean of 0 earlier ones was read as
# 2 and 1.
ALLIANCE_MIN_EARLIER_RATINGS = env_int("ALLIANCE_MIN_EARLIER_RATINGS", 4, minimum=1)
ALLIANCE_OWN_SD_MULTIPLIER = env_float("ALLIANCE_OWN_SD_MULTIPLIER", 2.0, minimum=0)
ALLIANCE_DIMENSION_DROP = env_int("ALLIANCE_DIMENSION_DROP", 4, minimum=1, maximum=10)
ALLIANCE_TREND_LENGTH = env_int("ALLIANCE_TREND_LENGTH", 3, minimum=2)
ALLIANCE_TREND_MIN_FALL = env_float("ALLIANCE_TREND_MIN_FALL", 2.0, minimum=0, maximum=10)
# 0: the run need not end below the client's usual level.
ALLIANCE_TREND_BELOW_USUAL = env_float("ALLIANCE_TREND_BELOW_USUAL", 1.0, minimum=0, maximum=10)
ALLIANCE_DISCREPANCY = env_float("ALLIANCE_DISCREPANCY", 1.5)
if not 0 < ALLIANCE_DISCREPANCY <= 10:
    raise ImproperlyConfigured("ALLIANCE_DISCREPANCY must be more than 0 and at most 10.")
ALLIANCE_MISSED_IN_A_ROW = env_int("ALLIANCE_MISSED_IN_A_ROW", 2, minimum=1)
ALLIANCE_UNRATED_IN_A_ROW = env_int("ALLIANCE_UNRATED_IN_A_ROW", 4, minimum=1)
# Context rules are shown (on the chart, the caseload, inside a concern) but never open a
# concern by themselves; every other rule alerts. See README "Signals and concerns".
ALLIANCE_CONTEXT_RULES = env_list("ALLIANCE_CONTEXT_RULES", ["below_cutoff"])
_RULES = {
    "below_cutoff",
    "reliable_drop",
    "dimension_drop",
    "declining_trend",
    "rupture_unresolved",
    "rater_discrepancy",
    "disengagement",
}
if not set(ALLIANCE_CONTEXT_RULES) <= _RULES:
    unknown = ", ".join(sorted(set(ALLIANCE_CONTEXT_RULES) - _RULES))
    raise ImproperlyConfigured(f"ALLIANCE_CONTEXT_RULES names unknown rules: {unknown}.")
# Outcome beside the alliance (README "On track or not"): how many of the clinic's clients
# an expected course must rest on, per starting band and answer, before it is used; and
# how many answers it follows: from the second (the first is where each client starts; a
# negative length cut the latest answers off every course).
ALLIANCE_OUTCOME_MIN_CLIENTS = env_int("ALLIANCE_OUTCOME_MIN_CLIENTS", 20, minimum=1)
ALLIANCE_OUTCOME_COURSE_LENGTH = env_int("ALLIANCE_OUTCOME_COURSE_LENGTH", 20, minimum=2)
# Whether a small rupture ("a little"), partly talked through, opens a concern.
ALLIANCE_MINOR_RUPTURE_ALERTS = env_bool("ALLIANCE_MINOR_RUPTURE_ALERTS", default=False)
# Notifications: the therapist's daily digest, and escalation of concerns left unacknowledged
# (after 0 days or fewer, every concern went to the supervisors a quarter of an hour after
# the therapist's digest named it). Hours are of the day, 0 to 23: Celery's crontab refused
# others with a message naming neither the variable nor the job.
ALLIANCE_DIGEST_HOUR = env_int("ALLIANCE_DIGEST_HOUR", 7, minimum=0, maximum=23)
ALLIANCE_ESCALATE_AFTER_DAYS = env_int("ALLIANCE_ESCALATE_AFTER_DAYS", 7, minimum=1)
# The periodic sweep (nightly by default).
ALLIANCE_SWEEP_HOUR = env_int("ALLIANCE_SWEEP_HOUR", 2, minimum=0, maximum=23)
# How many clients each of the sweep's tasks evaluates: chunks spread over the workers
# (0 fails every plan; fewer plans chunks of nobody).
ALLIANCE_SWEEP_CHUNK_CLIENTS = env_int("ALLIANCE_SWEEP_CHUNK_CLIENTS", 500, minimum=1)
# Each sweep looks this far back before the last one began: a rating stamped just before
# that sweep started but committed just after it was invisible to it (and if its own
# evaluation could not be queued, nothing else would judge it). Longer than any request
# or import that writes ratings stays open; re-judging a client twice changes nothing.
# (Negative would look past the last sweep's start, not before.)
ALLIANCE_SWEEP_OVERLAP_SECONDS = env_int("ALLIANCE_SWEEP_OVERLAP_SECONDS", 10 * 60, minimum=0)
# The record of each sweep and catch-up (a row every 10 minutes, and each chunk's client
# ids) is kept this long, then forgotten by the nightly sweep; the latest finished one is
# kept whatever its age, since it bounds the next (0 would forget the sweeps and catch-ups
# still running).
ALLIANCE_SWEEP_KEEP_DAYS = env_int("ALLIANCE_SWEEP_KEEP_DAYS", 90, minimum=1)
# Client rating links: lifetime, reminder delay, and the address used in e-mails. A link of
# 0 days was dead when e-mailed. The one reminder replaces the link: due at once (0 hours
# or fewer) it sent a second e-mail minutes after the first, whose link then no longer
# worked; due once the link has expired it was never sent.
ALLIANCE_INVITATION_LIFETIME_DAYS = env_int("ALLIANCE_INVITATION_LIFETIME_DAYS", 4, minimum=1)
ALLIANCE_INVITATION_REMINDER_AFTER_HOURS = env_int(
    "ALLIANCE_INVITATION_REMINDER_AFTER_HOURS", 48, minimum=1
)
if ALLIANCE_INVITATION_REMINDER_AFTER_HOURS >= ALLIANCE_INVITATION_LIFETIME_DAYS * 24:
    raise ImproperlyConfigured(
        "ALLIANCE_INVITATION_REMINDER_AFTER_HOURS must be below the links' lifetime, "
        f"ALLIANCE_INVITATION_LIFETIME_DAYS in hours ({ALLIANCE_INVITATION_LIFETIME_DAYS * 24})."
    )
# The read-only API (api/): personal access tokens only, JSON only, 100 records a page, and
# a rate per token's owner (counted in CACHE_URL's cache: set it when several web processes
# serve).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.AccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # An unknown ?format= is a 406 that names the formats, not DRF's 404 (a missing record).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.KnownFormats",
    # By id, not page number: constant time at any depth (api/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "api.pagination.AfterIdPagination",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.OwnerRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env_rate("ALLIANCE_API_RATE", "600/hour")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Alliance API",
    "DESCRIPTION": "Read-only: clients, sessions, ratings, outcome answers and concerns, "
    "as the token's owner sees them. Send `Authorization: Bearer <token>` (made on your "
    "account page).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}
# A new colleague's invitation (the link to choose their first password) lasts this long.
ALLIANCE_STAFF_INVITATION_DAYS = env_int("ALLIANCE_STAFF_INVITATION_DAYS", 7, minimum=1)
# After answering, a client whose therapist turned on "show the client their own chart"
# sees it on their link for this long (the link's address stays in the phone's history).
# (0 showed it to nobody, and a client going Back from the thanks heard their link was
# used up rather than that their answers were in.)
ALLIANCE_OWN_CHART_MINUTES = env_int("ALLIANCE_OWN_CHART_MINUTES", 60, minimum=1)
ALLIANCE_BASE_URL = env_str("ALLIANCE_BASE_URL", "http://127.0.0.1:8000")
# The links in e-mails start with it. Without its scheme ("alliance.example.org") a client's
# rating link was no link in their mail, and a colleague's invitation and every password
# reset pointed at "https:///…", no host at all; a path ("…/alliance") went into some links
# and not others (none is served under a path).
_base = urlsplit(ALLIANCE_BASE_URL)
if (
    _base.scheme not in ("http", "https")
    or not _base.hostname
    or _base.path not in ("", "/")
    or _base.query
    or _base.fragment
):
    raise ImproperlyConfigured(
        "ALLIANCE_BASE_URL must be the site's address: http:// or https:// and the host, with "
        f"no path, such as https://alliance.example.org, not {ALLIANCE_BASE_URL!r}."
    )
# Failed rating-link look-ups allowed per client address in a window, before a pause. 0
# paused every client's link before its first look-up; a window of 0 or less is a count the
# cache forgets at once, so guessing went unlimited.
ALLIANCE_LINK_FAILURES_ALLOWED = env_int("ALLIANCE_LINK_FAILURES_ALLOWED", 10, minimum=1)
ALLIANCE_LINK_FAILURE_WINDOW_SECONDS = env_int(
    "ALLIANCE_LINK_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1
)
# How many proxies in front of Alliance append the address they saw to X-Forwarded-For
# (0: none, the connection's address is the client's). Each counts rate limits and
# lock-outs per real client address; trusting more hops than exist lets a client choose
# its own address, fewer puts everyone behind the proxy under one address.
ALLIANCE_TRUSTED_PROXY_HOPS = env_int("ALLIANCE_TRUSTED_PROXY_HOPS", 0, minimum=0)
if env_str("USE_X_FORWARDED_FOR"):
    raise ImproperlyConfigured(
        "USE_X_FORWARDED_FOR is replaced by ALLIANCE_TRUSTED_PROXY_HOPS: the number of "
        "proxies in front of Alliance that append to X-Forwarded-For (1 for one proxy)."
    )
# The first date a session (or a dashboard period) may fall on: older dates are typing
# slips ("0025" for "2025"); the last is a year from today.
ALLIANCE_EARLIEST_SESSION_DATE = env_date("ALLIANCE_EARLIEST_SESSION_DATE", dt.date(2000, 1, 1))
# How long a therapist may revise their own rating before it becomes the record (0 locked
# every rating as it was given, the page saying it "can be changed for 0 days").
ALLIANCE_THERAPIST_RATING_EDIT_HOURS = env_int(
    "ALLIANCE_THERAPIST_RATING_EDIT_HOURS", 24, minimum=1
)

# --- Schedules (Celery beat) ------------------------------------------------
# Every interval is 1 second or more: beat takes 0 or less as due on every tick, and queued
# the job without pause.
ALLIANCE_CATCH_UP_SECONDS = env_int("ALLIANCE_CATCH_UP_SECONDS", 10 * 60, minimum=1)
# With a worker and beat expected (a broker set), detection that has not finished a sweep or
# catch-up for this long is late: the pages that list concerns say so (an empty queue is
# then no sign that all is well) and /health/detection/ answers 503. Six catch-ups missed.
# Not as short as one catch-up's interval: detection working as it should was late between
# every two, and the monitor was paged each time.
ALLIANCE_DETECTION_LATE_MINUTES = env_int(
    "ALLIANCE_DETECTION_LATE_MINUTES", max(60, 6 * ALLIANCE_CATCH_UP_SECONDS // 60)
)
if ALLIANCE_DETECTION_LATE_MINUTES * 60 <= ALLIANCE_CATCH_UP_SECONDS:
    raise ImproperlyConfigured(
        "ALLIANCE_DETECTION_LATE_MINUTES must be longer than the catch-up's interval, "
        f"ALLIANCE_CATCH_UP_SECONDS ({ALLIANCE_CATCH_UP_SECONDS} s): "
        f"{ALLIANCE_CATCH_UP_SECONDS // 60 + 1} or more."
    )
CELERY_BEAT_SCHEDULE = {
    "send-rating-reminders": {
        "task": "sessions.tasks.send_rating_reminders",
        "schedule": env_int("ALLIANCE_REMINDER_SWEEP_SECONDS", 15 * 60, minimum=1),
    },
    "sweep-for-alliance-drops": {
        "task": "measures.tasks.sweep",
        "schedule": crontab(hour=ALLIANCE_SWEEP_HOUR, minute=30),
    },
    # Ratings whose evaluation could not be queued (broker down) are judged minutes after it
    # returns; a run that finds nothing changed costs a few queries.
    "catch-up-evaluations": {
        "task": "measures.tasks.catch_up",
        "schedule": ALLIANCE_CATCH_UP_SECONDS,
    },
    "send-concern-digests": {
        "task": "measures.tasks.send_concern_digests",
        "schedule": crontab(hour=ALLIANCE_DIGEST_HOUR, minute=0),
    },
    "clear-expired-sessions": {
        "task": "accounts.tasks.clear_expired_sessions",
        "schedule": crontab(minute=45),
    },
    "escalate-unacknowledged-concerns": {
        "task": "measures.tasks.escalate_unacknowledged_concerns",
        "schedule": crontab(hour=ALLIANCE_DIGEST_HOUR, minute=15),
    },
    # The client's rights: discharged clients past their clinic's retention period.
    "erase-past-retention": {
        "task": "measures.tasks.erase_past_retention",
        "schedule": crontab(hour=ALLIANCE_SWEEP_HOUR, minute=50),
    },
}

# --- Security -------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No page here takes files, and no form is bigger than a few kilobytes: anything larger
# is refused (413) before it is read. Files inside a small body are refused too. Not below
# 64 KiB: a concern's note of 4,000 characters takes up to 48 KB as a browser sends it (a
# character of 4 bytes, each written %XX), and 0 or less refused every form, the log-in too.
ALLIANCE_MAX_REQUEST_BYTES = env_int("ALLIANCE_MAX_REQUEST_BYTES", 256 * 1024, minimum=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ALLIANCE_MAX_REQUEST_BYTES
FILE_UPLOAD_HANDLERS = ["alliance.middleware.RefuseFilesHandler"]
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    # A load balancer or monitor asks for /health/… over plain HTTP and takes a redirect for
    # a failure.
    SECURE_REDIRECT_EXEMPT = [r"^health/(detection/)?$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # A negative max-age is a header browsers ignore, and Django's deploy check counts it as
    # set: HSTS was off without a word. 0 sends none (and the deploy check says so).
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a one-way commitment a deployer makes on purpose (it
        # outlives this app on every subdomain), so it is opt-in, not a warning.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Content-Security-Policy: everything from our own origin, no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Nothing here uses the camera, the microphone, location, payments or other devices.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), usb=(), browsing-topics=()"
)

# --- Benchmarks -----------------------------------------------------------
# bench/submissions.py serves a bare view that inserts one row (/bench/floor/<token>/), the
# floor the client form is measured against, and the form's statements sent by hand
# (/bench/form/<token>/); bench/run.py a page of the layout alone and each page replayed by
# hand. Never on in production: they write ratings and rows without the app's checks. So
# they are refused on any database but a benchmark's own (its name holds "bench", as
# bench/common.py requires of the databases it seeds).
ALLIANCE_BENCH_FLOOR_VIEW = env_bool("ALLIANCE_BENCH_FLOOR_VIEW", default=False)
if ALLIANCE_BENCH_FLOOR_VIEW and "bench" not in str(DATABASES["default"]["NAME"]):
    raise ImproperlyConfigured(
        "ALLIANCE_BENCH_FLOOR_VIEW serves the benchmarks' views, which write without the "
        "app's checks: it is refused on a database whose name does not hold 'bench'."
    )

# --- Memory ---------------------------------------------------------------
# Server and worker processes freeze what they loaded at start-up out of Python's full
# garbage collections (alliance/memory.py). The test suite turns it off for the workers it
# starts inside its own process.
ALLIANCE_FREEZE_LOADED = env_bool("ALLIANCE_FREEZE_LOADED", default=True)

# --- Logging --------------------------------------------------------------
# Any case, as the other variables' words. Python's logging knows only the upper-case names,
# and refused others at start-up as "Unable to configure root logger", naming no variable.
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").strip().upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {env_str('LOG_LEVEL')!r}."
    )
# Plain lines on stderr. Nothing here logs request bodies or client details.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
    "filters": {
        "quiet_health_checks": {"()": "alliance.logging.QuietHealthChecks"},
        "plain_refusals": {"()": "alliance.logging.PlainRefusals"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # django-axes narrates every sign-in at INFO; the attempts are in its tables already.
        "axes": {"level": "WARNING"},
        # A health check's 503 is its answer to a poller, not news; a refusal's 403 needs no
        # traceback (alliance/logging.py).
        "django.request": {"filters": ["quiet_health_checks", "plain_refusals"]},
    },
}
