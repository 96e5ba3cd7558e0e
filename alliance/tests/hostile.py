"""Hostile input for the property-based tests, and the checks they all make.

The strategies draw what a crafted request can carry and a browser's form rarely
does: oversized text, NUL and other control characters, other scripts and their
digits, markup and script, numbers far out of range, impossible dates, fields left
out or sent twice. The checks are the promises every page keeps:

- never a server error (the test client re-raises a view's exception, and a 500
  returned any other way fails `assert_no_server_error`);
- a refused submission stores nothing (`row_counts` before and after);
- stored text comes back escaped on the page that shows it (`assert_shown_escaped`).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.apps import apps
from django.core.cache import cache
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import normalize_newlines
from hypothesis import currently_in_test_context, event, example
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from alliance.fields import DIRECTION_CONTROLS
from alliance.tests import hypothesis_profile  # noqa: F401  (loads the profile)

# --- Text ------------------------------------------------------------------

# Lone surrogates cannot be sent as UTF-8 by anyone; every other code point can.
ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
CONTROL_CHARACTER = st.characters(categories=("Cc",))
MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "<!--",
    "javascript:alert(1)",
    "{{ request.user }}{% debug %}",
    '=HYPERLINK("http://example.com")',
    "'; DROP TABLE clients_client; --",
    "&lt;b&gt; &amp; &#x27;",
    "\u202eevil\u202c",
    "a\u200db\ufeffc\u00ad",
    "%00%0d%0aSet-Cookie: x=1",
]
# Some scripts, joiners and symbols people write names and notes in.
SCRIPT_RANGES = [
    (0x0590, 0x05FF),  # Hebrew
    (0x0600, 0x06FF),  # Arabic
    (0x0900, 0x097F),  # Devanagari
    (0x0E00, 0x0E7F),  # Thai
    (0x0300, 0x036F),  # combining marks, on their own
    (0x4E00, 0x4FFF),  # CJK
    (0xFF00, 0xFFEF),  # full-width forms
    (0x1D400, 0x1D7FF),  # mathematical letters and digits
    (0x1F300, 0x1F6FF),  # emoji
]
OVERSIZE_CHARACTERS = ["x", "é", "€", "😀", "<", "\n", "\x00"]
# Past a field's maximum, past Django's own limits, past the request size cap.
OVERSIZE_LENGTHS = [41, 65, 2001, 4001, 40_000, 70_000]


def in_script(low: int, high: int, max_size: int) -> st.SearchStrategy[str]:
    alphabet = st.characters(min_codepoint=low, max_codepoint=high, exclude_categories=("Cs",))
    return st.text(alphabet, min_size=1, max_size=max_size)


def any_script(max_size: int) -> st.SearchStrategy[str]:
    return st.one_of(*(in_script(low, high, max_size) for low, high in SCRIPT_RANGES))


def with_markup(max_size: int) -> st.SearchStrategy[str]:
    """Markup or script, alone or inside other text."""
    part = st.text(ANY_CHARACTER, max_size=max(1, max_size // 4))
    return st.one_of(
        st.sampled_from(MARKUP),
        st.builds(lambda a, m, b: f"{a}{m}{b}", part, st.sampled_from(MARKUP), part),
    )


oversized = st.builds(
    lambda character, length: character * length,
    st.sampled_from(OVERSIZE_CHARACTERS),
    st.sampled_from(OVERSIZE_LENGTHS),
)


def hostile_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Any text a request can carry, most of it unwelcome."""
    return st.one_of(
        st.text(ANY_CHARACTER, max_size=max_size),
        st.text(CONTROL_CHARACTER | st.characters(max_codepoint=127), min_size=1, max_size=20),
        with_markup(max_size),
        any_script(max_size),
        oversized,
    )


def welcome_text(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    """Text a form should take and store as it came: any script, markup, emoji; no
    control characters, no direction overrides and no space at either end (forms strip
    it)."""
    alphabet = st.characters(exclude_categories=("Cs", "Cc"))
    return (
        st.one_of(
            st.text(alphabet, min_size=min_size, max_size=max_size),
            with_markup(max_size).filter(lambda text: min_size <= len(text) <= max_size),
            any_script(max_size).filter(lambda text: len(text) >= min_size),
        )
        .map(str.strip)
        .filter(lambda text: len(text) >= min_size and not _has_control(text))
        # Direction overrides turn long text around: every service refuses them.
        .filter(lambda text: DIRECTION_CONTROLS.isdisjoint(text))
    )


def welcome_line(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    """A label or a name a form should take: `welcome_text` without the characters no
    label holds (`alliance.fields.validate_visible_line`: format characters such as
    zero-width spaces and direction overrides, line separators), with something visible."""
    return (
        welcome_text(min_size, max_size)
        .map(_without_invisible)
        .filter(lambda text: min_size <= len(text) and (not text or _has_visible(text)))
    )


def _without_invisible(text: str) -> str:
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Zl", "Zp"))
    return kept.strip()


def _has_visible(text: str) -> bool:
    return any(unicodedata.category(c)[0] in "LNPS" and not c.isspace() for c in text) and not (
        set(text) <= set("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5 ")
    )


def _has_control(text: str) -> bool:
    return any(unicodedata.category(character) == "Cc" for character in text)


# --- Numbers and dates -------------------------------------------------------

OTHER_DIGITS = {
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "persian": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "bengali": "০১২৩৪৫৬৭৮৯",
    "full-width": "０１２３４５６７８９",
    "mathematical": "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",
}
ODD_NUMBERS = [
    "", " ", "²", "½", "Ⅻ", "1e3", "0x32", "0b11", "50.0", "50.5", "-0", "+50", "1_000",
    "NaN", "Infinity", "-inf", " 50 ", "5\u00a00", "9" * 5000, "50\x00", "٥0", "0٥",
]  # fmt: skip


def in_other_digits(text: str, script: str) -> str:
    return text.translate(str.maketrans("0123456789", OTHER_DIGITS[script]))


def other_digits(numbers: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(in_other_digits, numbers, st.sampled_from(sorted(OTHER_DIGITS)))


def hostile_number(low: int = -5, high: int = 700) -> st.SearchStrategy[str]:
    """Numbers near a field's range and far beyond it, in any digits, and non-numbers."""
    near = st.integers(low, high).map(str)
    return st.one_of(
        near,
        other_digits(near),
        other_digits(near),
        st.integers(-(10**30), 10**30).map(str),
        st.floats().map(str),
        st.sampled_from(ODD_NUMBERS),
        hostile_text(20),
    )


def local_minute(moment: dt.datetime) -> str:
    """As `<input type="datetime-local">` sends it."""
    return moment.replace(tzinfo=None).isoformat(timespec="minutes")


ODD_DATES = [
    "0000-01-01T00:00", "0001-01-01T00:00", "9999-12-31T23:59", "1900-01-01T10:00",
    "1999-12-31T23:59", "2024-02-30T10:00", "2025-13-01T10:00", "2025-03-01T24:00",
    # The clocks go forward (an hour that never happens) and back (one that happens twice).
    "2025-03-30T01:30", "2025-10-26T01:30",
    "2025-03-01T10:00+14:00", "2025-03-01T10:00Z", "2025-03-01T10:00:00.999999",
    "99999-01-01T00:00", "-2025-01-01T00:00", "2025-W09-6", "20250301T1000",
    "1970-01-01T00:00", "2038-01-19T03:14", "tomorrow", "2025-03-01",
]  # fmt: skip


def recent_moment() -> st.SearchStrategy[dt.datetime]:
    """A wall-clock minute in the last two years (a session a therapist might log)."""
    now = timezone.localtime().replace(second=0, microsecond=0, tzinfo=None)
    earliest, latest = now - dt.timedelta(days=730), now - dt.timedelta(hours=2)
    return st.datetimes(min_value=earliest, max_value=latest)


def hostile_datetime() -> st.SearchStrategy[str]:
    near = recent_moment().map(local_minute)
    return st.one_of(
        near,
        st.datetimes().map(local_minute),
        other_digits(near),
        st.sampled_from(ODD_DATES),
        hostile_text(30),
    )


def hostile_date() -> st.SearchStrategy[str]:
    near = recent_moment().map(lambda moment: moment.date().isoformat())
    return st.one_of(
        near,
        st.dates().map(dt.date.isoformat),
        other_digits(near),
        st.sampled_from([date[:10] for date in ODD_DATES] + ["20250301", "01/03/2025"]),
        hostile_text(20),
    )


def hostile_choice(valid: list[str]) -> st.SearchStrategy[str]:
    """A choice's value, or something near it (another case, padded, another script)."""
    return st.one_of(
        st.sampled_from(valid),
        st.sampled_from(valid).map(str.upper),
        st.sampled_from(valid).map(lambda value: f" {value}\t"),
        hostile_text(20),
    )


# Cases every form's test runs explicitly (see `with_examples`); None leaves the field out,
# a list sends it several times.
NUMBER_CASES: list[Any] = [
    "٥", "５", "۵", "𝟓", "²", "5\x00", "-1", "0", "99999999999999999999", "9" * 5000, "1e1",
    "", None, ["5", "٥"], ["٥", "5"],
]  # fmt: skip
TEXT_CASES: list[Any] = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "\x00", "a\x00b", "\x1b[2J",
    "\u202eevil", "x" * 70_000, "😀" * 70_000, None, ["first", "<b>second</b>"],
]  # fmt: skip
DATETIME_CASES: list[Any] = [
    "٢٠٢٥-٠٣-٠١T١٠:٠٠", "2025-03-01T1٠:00", "0001-01-01T00:00", "0001-01-02T00:00",
    "1900-01-01T10:00", "1999-12-31T23:59", "9999-12-31T23:59", "9999-12-30T10:00",
    "0000-01-01T00:00", "2025-03-30T01:30", "2025-03-01T10:00+14:00", "2025-03-01T10:00\x00",
    None, ["2025-03-01T10:00", "1900-01-01T10:00"],
]  # fmt: skip
DATE_CASES: list[Any] = [
    "٢٠٢٥-٠٣-٠١", "0001-01-01", "0001-01-02", "1900-01-01", "9999-12-31", "9999-12-30",
    "0000-01-01", "2024-02-30", "20250301", "2025-03-01\x00", "", None,
]  # fmt: skip


# --- Submissions ---------------------------------------------------------------

MISSING, REPEATED, HOSTILE = "missing", "repeated", "hostile"
# Fields no form here has, in case one is ever bound to a model by accident.
SMUGGLED_FIELDS = [
    "id", "pk", "clinic", "clinic_id", "therapist", "therapist_id", "client", "status",
    "number", "rater", "submitted_by", "used_at", "is_staff", "is_superuser",
]  # fmt: skip


@st.composite
def submission(
    draw: st.DrawFn,
    valid: dict[str, st.SearchStrategy[str]],
    hostile: dict[str, st.SearchStrategy[str]],
) -> dict[str, str | list[str]]:
    """A valid submission with up to two fields made hostile (a bad value, left out, or
    sent two or three times: Django reads the last), sometimes with smuggled fields."""
    data: dict[str, str | list[str]] = {name: draw(values) for name, values in valid.items()}
    for name in draw(st.sets(st.sampled_from(sorted(hostile)), max_size=2)):
        how = draw(st.sampled_from([HOSTILE, MISSING, REPEATED]))
        if how == MISSING:
            data.pop(name, None)
        elif how == REPEATED:
            either = hostile[name] | valid.get(name, hostile[name])
            data[name] = draw(st.lists(either, min_size=2, max_size=3))
        else:
            data[name] = draw(hostile[name])
    smuggled = st.dictionaries(st.sampled_from(SMUGGLED_FIELDS), hostile_number(1, 50), max_size=2)
    return {**draw(smuggled), **data}


Test = TypeVar("Test", bound=Callable[..., Any])


def with_examples(
    valid: dict[str, str], cases: dict[str, list[Any]], **arguments: Any
) -> Callable[[Test], Test]:
    """Run each case as an explicit example (a valid submission with that one field made
    hostile, `None` leaving it out) before Hypothesis draws its own: the cases no run may
    miss, whatever the draw."""

    def decorate(test: Test) -> Test:
        for name, values in cases.items():
            for value in values:
                data = {key: typed for key, typed in valid.items() if key != name}
                if value is not None:
                    data[name] = value
                test = example(data=data, **arguments)(test)
        return test

    return decorate


def last(value: str | list[str] | None) -> str | None:
    """What Django reads of a field sent several times: the last value."""
    return value[-1] if isinstance(value, list) else value


ENCODINGS = ["urlencoded", "multipart"]


def post(client: HttpClient, url: str, data: dict[str, Any], encoding: str = "urlencoded") -> Any:
    """POST as a browser does (URL-encoded), or as multipart form data."""
    if encoding == "multipart":
        response = client.post(url, data)
    else:
        body = urlencode(data, doseq=True)
        response = client.post(url, body, content_type="application/x-www-form-urlencoded")
    assert_no_server_error(response)
    if currently_in_test_context():
        event(f"POST answered {response.status_code}")
    return response


def get(client: HttpClient, url: str, query: dict[str, Any] | None = None) -> Any:
    response = client.get(url, query or {})
    assert_no_server_error(response)
    return response


# --- Checks ----------------------------------------------------------------------

# A clean refusal: the form again, bad request, forbidden, not found, wrong method,
# too large, too many requests; or a redirect.
CLEAN_STATUSES = {200, 302, 400, 403, 404, 405, 413, 429}


def assert_no_server_error(response: Any) -> None:
    request = response.request
    where = f"{request.get('REQUEST_METHOD')} {request.get('PATH_INFO')}"
    assert response.status_code < 500, f"{response.status_code} for {where}"
    assert response.status_code in CLEAN_STATUSES, f"{response.status_code} for {where}"


PROJECT_APPS = ("clients", "therapy_sessions", "measures")


# The audit trail grows with every read and accepted write by design; what it holds (and
# that a refused write adds nothing to it) is tested in clients/tests/test_audit*.py.
NOT_COUNTED = {"clients.AuditEntry"}


def row_counts() -> dict[str, int]:
    """Rows of every model of ours but the audit trail, to compare before and after a
    refused submission or a read."""
    return {
        model._meta.label: model._default_manager.count()
        for label in PROJECT_APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.label not in NOT_COUNTED
    }


def added_rows(before: dict[str, int]) -> dict[str, int]:
    after = row_counts()
    return {label: after[label] - count for label, count in before.items() if after[label] != count}


def stored_whole_or_not_at_all(
    client: HttpClient, url: str, data: dict[str, Any], encoding: str, *, adds: dict[str, int]
) -> bool:
    """POST `data`: a refusal stores nothing, an acceptance (302) adds exactly `adds`.
    Says whether it was accepted."""
    before = row_counts()
    response = post(client, url, data, encoding)
    if response.status_code != 302:
        assert row_counts() == before
        return False
    assert added_rows(before) == adds
    return True


def assert_shown_escaped(html: str, text: str, *, linebreaks: bool = False) -> None:
    """`text` is on the page exactly as Django escapes it, and never as raw markup."""
    if not text:
        return
    shown = escape(normalize_newlines(text) if linebreaks else text)
    if linebreaks:
        shown = shown.replace("\n", "<br>")
    assert shown in html, f"{text[:80]!r} not shown escaped"
    for payload in MARKUP:
        if "<" in payload and payload in text:
            assert payload not in html, f"{payload!r} shown unescaped"


# The cast is made once per class, before the function-scoped fixtures (conftest's fast
# hashing among them) apply: without this, each member of staff costs a real key stretch.
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class HostileInputTestCase(TestCase):
    """Each example runs in its own transaction, rolled back after it, with a fresh
    test client and an empty cache (rate limits must not leak between examples)."""

    def setup_example(self) -> None:
        super().setup_example()
        cache.clear()
