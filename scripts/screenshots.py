"""Take the README's screenshots from the demo data in a real Chromium.

    make screenshots

Seeds a throw-away SQLite database, serves it with runserver on a spare port,
signs in as the demo users and saves PNGs under docs/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

from playwright.sync_api import Page, sync_playwright

PROJECT = Path(__file__).resolve().parent.parent
DOCS = PROJECT / "docs"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env, check=True)


def wait_for(url: str) -> None:
    for _ in range(100):
        try:
            urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("alliance-demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def pass_two_factor(page: Page) -> None:
    """A clinic admin's first sign-in sets up two-factor: type the shown key's code, as an
    authenticator app would."""
    if "/two-factor/setup/" not in page.url:
        return
    from base64 import b32decode

    from django_otp.oath import totp

    key = page.locator("#secret").inner_text().replace(" ", "")
    code = totp(b32decode(key + "=" * (-len(key) % 8)))
    page.get_by_role("textbox", name="Code").fill(f"{code:06d}")
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("link", name="I have kept them").click()
    page.wait_for_load_state()


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder}/demo.sqlite3", "DEBUG": "true"}
        env.pop("CELERY_BROKER_URL", None)
        manage("migrate", "-v0", env=env)
        manage("seed_demo", env=env)
        token = open_rating_link(env)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/accounts/login/")
            take(base, token)
        finally:
            server.terminate()
            server.wait(timeout=10)


def open_rating_link(env: dict[str, str]) -> str:
    """A rating link for a demo session the client has not rated yet."""
    code = (
        "from sessions.models import Session; from sessions.invitations import invitation_create; "
        "s = Session.objects.filter(attendance='attended').exclude(ratings__rater='client')"
        ".order_by('-starts_at').first(); print(invitation_create(session=s)[1])"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=PROJECT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


def take(base: str, token: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        log_in(page, base, "therapist1")
        page.screenshot(path=DOCS / "caseload.png", full_page=True)
        # The demo's drifting client is the one with the lowest latest score.
        page.locator("table.caseload tbody tr", has=page.locator(".score-below")).first.locator(
            "a"
        ).first.click()
        page.wait_for_load_state()
        page.wait_for_timeout(300)
        page.screenshot(path=DOCS / "client.png", full_page=True)
        supervisor = browser.new_page(viewport={"width": 1200, "height": 800})
        log_in(supervisor, base, "supervisor")
        supervisor.goto(f"{base}/dashboard/?sort=open_concerns&dir=desc")
        supervisor.screenshot(path=DOCS / "dashboard.png", full_page=True)
        # The drifting client's concern: one slide told as one story.
        page.locator("section[aria-labelledby=concerns-heading] a").first.click()
        page.wait_for_load_state()
        page.screenshot(path=DOCS / "concern.png", full_page=True)
        therapist_queue = page
        therapist_queue.goto(f"{base}/review/")
        therapist_queue.screenshot(path=DOCS / "review-queue.png")
        admin = browser.new_page(viewport={"width": 1200, "height": 800})
        log_in(admin, base, "clinicadmin")
        pass_two_factor(admin)
        admin.goto(f"{base}/thresholds/")
        admin.get_by_role("button", name="Calibrate now").click()
        admin.wait_for_load_state()
        admin.wait_for_timeout(500)  # the charts draw
        admin.screenshot(path=DOCS / "thresholds.png", full_page=True)
        phone = browser.new_page(viewport={"width": 360, "height": 740})
        for language in ("en", "es"):
            phone.goto(f"{base}/r/{token}/?lang={language}")
            phone.screenshot(path=DOCS / f"client-form-{language}.png", full_page=True)
        browser.close()
    print(f"Saved screenshots in {DOCS}")


if __name__ == "__main__":
    main()
