"""The app served as deployed, for tests that need a real socket: gunicorn (`alliance.wsgi`)
with production settings, static files collected as a deploy does."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_environment(**settings: str) -> dict[str, str]:
    """This process's environment as production sets it (no DEBUG), with `settings`."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    return {**kept, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", **settings}


@contextlib.contextmanager
def gunicorn(environment: dict[str, str], *options: str) -> Iterator[int]:
    """Collect the static files into the environment's STATIC_ROOT, serve on a free port
    with `options` (workers, threads, logs), and yield the port once it answers; the
    server is stopped on leaving."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=PROJECT,
        env=environment,
        check=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [str(GUNICORN), "alliance.wsgi", "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         *options],
        cwd=PROJECT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
