"""The served app and the Celery worker keep what they loaded at start-up out of the garbage
collector's full collections (alliance/memory.py): each would otherwise walk some 100,000
objects.

Each case that freezes starts a Python process of its own, as gunicorn, an ASGI server or a
worker would: the test process's own collector is left as it is (ALLIANCE_FREEZE_LOADED is
off in the suite, conftest.py, for the workers some tests start in this process).
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from celery import signals

PROJECT = Path(__file__).resolve().parents[2]
LOADED = """
import gc, sys
import {entry_point}
print(gc.get_freeze_count(), len(gc.get_objects()), "reports.views.caseload" in sys.modules)
"""
# Django set up as a worker or command does, before each snippet below.
SET_UP = """
import gc, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.settings")
import django
django.setup()
"""
# A worker's process as Celery starts it: the app loaded, then the signal its pool sends.
WORKER = (
    SET_UP
    + """
from celery import signals
from alliance.celery import app
before = gc.get_freeze_count()
signals.{signal}.send(sender=None)
print(before, gc.get_freeze_count(), len(gc.get_objects()))
"""
)
# A cycle nothing reaches any more, made before the freeze: the collection before it frees
# it, rather than the freeze keeping it for the life of the process. (The collector's own
# runs are held off, so that only that collection could free it.)
UNREACHABLE = (
    SET_UP
    + """
import weakref
from alliance.memory import keep_loaded_out_of_collections

class Node:
    pass

gc.disable()
node = Node()
node.itself = node
gone = weakref.ref(node)
del node
keep_loaded_out_of_collections()
print(gone() is None)
"""
)


def python(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


@pytest.mark.parametrize("entry_point", ["alliance.wsgi", "alliance.asgi"])
def test_the_served_app_is_loaded_and_frozen_at_start_up(entry_point: str) -> None:
    frozen, tracked, views_loaded = python(LOADED.format(entry_point=entry_point))
    # Every URL module and view is imported before the first request, and frozen with
    # the rest: what is left for a full collection is a small part of what was loaded.
    assert views_loaded == "True"
    assert int(frozen) > 50_000
    assert int(tracked) < int(frozen) // 20


@pytest.mark.parametrize("signal", ["worker_process_init", "worker_ready"])
def test_a_worker_process_freezes_what_it_loaded_as_it_starts(signal: str) -> None:
    before, frozen, tracked = (int(count) for count in python(WORKER.format(signal=signal)))
    assert before == 0
    assert frozen > 50_000
    assert tracked < frozen // 20


def test_nothing_already_unreachable_is_frozen_for_good() -> None:
    assert python(UNREACHABLE) == ["True"]


def test_with_the_freeze_turned_off_a_worker_signal_freezes_nothing(settings: Any) -> None:
    """What the suite relies on for the workers it starts in its own process."""
    import alliance.celery  # noqa: F401 - connects the handlers

    settings.ALLIANCE_FREEZE_LOADED = False
    before = gc.get_freeze_count()
    signals.worker_process_init.send(sender=None)
    assert gc.get_freeze_count() == before
