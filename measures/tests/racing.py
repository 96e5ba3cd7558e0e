"""Two writers meeting on PostgreSQL, for the tests of lock order: one runs on a
connection of its own, paused once it has reached a chosen statement, while the test
sends the other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

PAUSE_SECONDS = 0.5  # long enough for the other writer to reach its own locks


def takes_a_lock(sql: str) -> bool:
    return "FOR UPDATE" in sql or sql.startswith("UPDATE")


def on_a_connection_of_its_own(work: Callable[[], None]) -> threading.Thread:
    """`work` started in a thread, which Django gives a database connection of its own
    (closed when the work ends): another request, committing as it goes."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def errors_kept(work: Callable[[], Any], problems: list[Exception]) -> Callable[[], None]:
    """`work`, any error it raises kept in `problems` (a thread's own would be lost)."""

    def run() -> None:
        try:
            work()
        except Exception as error:  # any, reported by the caller
            problems.append(error)

    return run


def paused_once(
    work: Callable[[], Any], at: Callable[[str], bool], problems: list[Exception]
) -> tuple[threading.Event, Callable[[], None]]:
    """`work` to run pausing once, just after its first statement for which `at` holds
    (the event is set then), any error it raises kept in `problems`."""
    reached = threading.Event()

    def pause(execute: Any, sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        if at(sql) and not reached.is_set():
            reached.set()
            time.sleep(PAUSE_SECONDS)  # the other writer goes now
        return result

    def run() -> None:
        with connection.execute_wrapper(pause):
            work()

    return reached, errors_kept(run, problems)


def is_active_written(sql: str) -> bool:
    """A colleague's deactivation (or change of roles) writing their row."""
    return sql.startswith("UPDATE") and '"is_active"' in sql


@contextmanager
def meanwhile(work: Callable[[], Any], at: Callable[[str], bool]) -> Iterator[None]:
    """Another request's `work`, on a connection of its own, written up to its first
    statement for which `at` holds and not yet committed: the body runs then (the work
    commits while it waits on the locks); the work must end without error."""
    problems: list[Exception] = []
    reached, run = paused_once(work, at, problems)
    thread = on_a_connection_of_its_own(run)
    try:
        assert reached.wait(10)
        yield
    finally:
        thread.join()
    assert problems == []


def is_grouped_count(sql: str) -> bool:
    """One of a page's counts, grouped by therapist or rule."""
    return "GROUP BY" in sql


@contextmanager
def committed_after_first(
    work: Callable[[], Any], at: Callable[[str], bool]
) -> Iterator[list[str]]:
    """Inside, just after the first statement for which `at` holds, another request's
    `work` runs on a connection of its own and commits, then the body goes on: a write
    landing between a page's reads. Yields the statement it landed after (a list, empty
    if it never ran); the work must end without error."""
    landed: list[str] = []
    problems: list[Exception] = []

    def after_it(execute: Any, sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        if not landed and at(sql):
            on_a_connection_of_its_own(errors_kept(work, problems)).join()
            landed.append(sql)
        return result

    with connection.execute_wrapper(after_it):
        yield landed
    assert problems == []
