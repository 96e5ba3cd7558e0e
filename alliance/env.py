"""Strict readers for settings that come from the environment.

A typo in a production variable should stop the process at start-up, not
silently fall back to a development default.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

N = TypeVar("N", int, float)


def env_str(name: str, default: str = "") -> str:
    """The variable's text; set but blank (`DATABASE_URL= make run`) counts as unset, as it
    does for the other readers: no setting here means anything by an empty string."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    """Read "true" or "false" (any case); anything else is a configuration error."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """A whole number, from `minimum` and to `maximum` (both included) where given: a value
    out of its range starts fine and misbehaves later (0 idle minutes signs everyone out at
    their next page), so it is refused here, naming the range."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        if not raw.strip().isascii():  # int() reads every script's digits
            raise ValueError
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    return _within(name, raw, value, minimum, maximum)


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """A finite number, in its range (as `env_int`): `float()` also reads "nan" and "inf",
    and a cut-off of nan compares false with every score, so nothing would ever be flagged,
    without a word."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        if not raw.strip().isascii():
            raise ValueError
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None
    return _within(name, raw, value, minimum, maximum)


def _within(name: str, raw: str, value: N, minimum: N | None, maximum: N | None) -> N:
    if (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
        return value
    if maximum is None:
        allowed = f"{minimum} or more"
    elif minimum is None:
        allowed = f"{maximum} or less"
    else:
        allowed = f"from {minimum} to {maximum}"
    raise ImproperlyConfigured(f"{name} must be {allowed}, not {raw.strip()!r}.")


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blanks are dropped."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_date(name: str, default: dt.date) -> dt.date:
    """A calendar date written YYYY-MM-DD in the digits 0–9; anything else is a
    configuration error."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw.strip()):
            raise ValueError
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a date as YYYY-MM-DD, not {raw!r}.") from None


def env_rate(name: str, default: str) -> str:
    """A request rate as Django REST framework reads it, e.g. "600/hour": a whole number
    from 1, "/", and a period it knows by its first letter (second, minute, hour, day).
    REST framework parses the rate on every request, so a typo ("600 per hour") would
    otherwise have answered every API request with a 500."""
    raw = env_str(name, default).strip()
    match = re.fullmatch(r"([0-9]+)/([smhd][a-z]*)", raw)
    if match is None or int(match[1]) < 1:
        raise ImproperlyConfigured(
            f"{name} must be a number of requests per second, minute, hour or day, "
            f"such as 600/hour, not {raw!r}."
        )
    return raw
