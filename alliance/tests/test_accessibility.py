"""WCAG 2.2 A/AA, checked by machine on every page: axe-core (from npm) run in Chromium over
every page each role opens (the app's, not the Django admin's, whose markup is Django's),
and the client's form on a 360 px phone in both languages. A serious or critical
violation fails; each is reported with the rule, the page and the element.

The pages come from the URL conf itself (`urlconf_walk`), so a page added later is checked
too. Each is first fetched through Django's test client as the role: only an HTML page
answered 200 is opened in the browser (a redirect, a refusal or a CSV is not a page).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from alliance.tests.urlconf_walk import OWN, World, browser_for, named_urls, url_for
from sessions import invitations
from sessions.tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
STANDARDS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
FAILING = {"serious", "critical"}
ROLES = ("anonymous", "therapist", "supervisor", "clinic_admin")
PHONE = {"width": 360, "height": 740}
# Pages whose GET changes something each time (a new key), or that only a form's answer
# shows: nothing to check on a bare GET.
SKIPPED = {"logout", "two-factor-setup"}


def axe_violations(page: Any) -> list[str]:
    """Run axe-core on the page as it is; its serious and critical violations, described.
    (Evaluated through the browser's protocol, so the page's strict CSP, which refuses
    inline script, does not stop it.)"""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci` (make install does)")
    page.evaluate(AXE.read_text())
    results = page.evaluate(
        "async (tags) => (await axe.run(document, { runOnly: { type: 'tag', values: tags } }))"
        ".violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }))",
        STANDARDS,
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
        for v in results
        if v["impact"] in FAILING
    ]


def app_pages() -> list[str]:
    return sorted(
        name for name in named_urls() if not name.startswith("admin") and name not in SKIPPED
    )


def pages_of(role: str, world: World) -> list[str]:
    """The app's pages `role` is answered 200 with HTML, as paths."""
    browser = browser_for(role, world)
    found = []
    for name in app_pages():
        try:
            path = url_for(name, OWN, world)
        except Exception:
            continue
        response = browser.get(path)
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            found.append(path)
    return found


def signed_in_context(
    browser: Any, live_server: Any, role: str, world: World, **options: Any
) -> Any:
    """A browser context carrying `role`'s signed-in session (past the second factor)."""
    context = browser.new_context(**options)
    user = world.users[role]
    if user is not None:
        client = browser_for(role, world)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
    return context


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_opens_meets_wcag_aa(
    live_server: Any, browser: Any, world: World, role: str
) -> None:
    paths = pages_of(role, world)
    assert len(paths) >= (2 if role == "anonymous" else 8), paths  # the walk found the pages
    page = signed_in_context(browser, live_server, role, world).new_page()
    problems = []
    for path in paths:
        page.goto(f"{live_server.url}{path}", wait_until="load")
        problems += [f"{path}: {problem}" for problem in axe_violations(page)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_clients_form_on_a_phone_meets_wcag_aa(
    live_server: Any, browser: Any, world: World, language: str
) -> None:
    client = world.own.client
    client.language = language
    client.save(update_fields=["language"])
    _, token = invitations.invitation_create(session=SessionFactory(client=client))
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(f"{live_server.url}{invitations.rating_path(token)}", wait_until="load")
    assert page.locator("html").get_attribute("lang") == language
    assert axe_violations(page) == []
    # And as refused, with its messages: nothing answered.
    page.get_by_role(
        "button", name="Send my answers" if language == "en" else "Enviar mis respuestas"
    ).click()
    page.wait_for_load_state("load")
    assert axe_violations(page) == []


def test_the_check_fails_a_page_that_breaks_the_rules(
    live_server: Any, browser: Any, world: World
) -> None:
    """The check itself: an image without a text alternative and a button without a name
    on an otherwise clean page are reported."""
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/", wait_until="load")
    assert axe_violations(page) == []
    page.evaluate(
        "() => { const main = document.querySelector('main') || document.body;"
        " main.append(Object.assign(document.createElement('img'), { src: '/favicon.ico' }));"
        " main.append(document.createElement('button')); }"
    )
    found = axe_violations(page)
    assert any("image-alt" in problem for problem in found), found
    assert any("button-name" in problem for problem in found), found


# The widths the navigation must fit without the page scrolling sideways: a phone, and
# each of Bootstrap's breakpoints with a window between two of them.
WIDTHS = (360, 768, 992, 1100, 1200, 1400)


@pytest.mark.parametrize("role", ["therapist", "supervisor", "clinic_admin"])
def test_the_navigation_fits_every_width(
    live_server: Any, browser: Any, world: World, role: str
) -> None:
    """WCAG 1.4.10 (reflow): no sideways scrolling. The clinic admin here holds every role,
    the longest menu a person can have (the demo's clinic admin is so); at 1,024 px its
    menu ran 120 px past the window, "Account" and "Log out" out of sight."""
    from django.urls import reverse

    user = world.users[role]
    if role == "clinic_admin":
        user.is_therapist = user.is_supervisor = True
        user.save(update_fields=["is_therapist", "is_supervisor"])
    page = signed_in_context(browser, live_server, role, world).new_page()
    wide = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{live_server.url}{reverse('account')}", wait_until="load")
        scrolled = page.evaluate("document.documentElement.scrollWidth")
        if scrolled > width:
            wide.append((width, scrolled))
        log_out = page.get_by_role("button", name="Log out")
        toggler = page.get_by_role("button", name="Toggle navigation")
        assert log_out.is_visible() or toggler.is_visible(), width
    assert wide == []
