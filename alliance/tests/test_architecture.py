"""The layout holds: apps import only the layers below them, no module imports itself in a
circle, and the apps below the read side never name its URLs.

Layering (README "Architecture"): clients ← sessions ← measures ← reports. `accounts`
(signing in) and `demo` (seeding) stand beside them and nothing imports them. `alliance`
is the project: its settings, URL conf and task app wire everything together, and its
other modules (fields, forms, links, middleware…) are a base every app may use.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ("clients", "sessions", "measures", "reports")
APPS = (*CHAIN, "accounts", "api", "demo", "alliance")
# What each app may import, besides itself and the project's base modules.
ALLOWED = {
    "clients": set(),
    "sessions": {"clients"},
    "measures": {"clients", "sessions"},
    "reports": {"clients", "sessions", "measures"},
    "accounts": {"clients"},
    # The API reads what the pages read, and knows its tokens from accounts.
    "api": {"clients", "sessions", "measures", "accounts"},
    "demo": {"clients", "sessions", "measures"},
}
# The project's wiring: these modules may import any app.
WIRING = {"alliance/settings.py", "alliance/urls.py", "alliance/celery.py"}


def source_files(app: str) -> Iterator[Path]:
    """The app's own code: no tests, no migrations."""
    for path in sorted((ROOT / app).rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if "tests" not in parts and "migrations" not in parts:
            yield path


def imported_modules(path: Path) -> Iterator[str]:
    """Every module `path` imports, at any depth of the file (a function-level import is
    an import all the same), except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_each_app_imports_only_the_layers_below_it(app: str) -> None:
    wrong = []
    for path in source_files(app):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in APPS and top not in {app, "alliance"} and top not in ALLOWED[app]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_projects_base_modules_import_no_app() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in source_files("alliance")
        if str(path.relative_to(ROOT)) not in WIRING
        for module in imported_modules(path)
        if module.split(".")[0] in APPS and module.split(".")[0] != "alliance"
    ]
    assert not wrong, "\n".join(wrong)


def import_graph() -> dict[str, set[str]]:
    """Module → the project's modules it imports (a name imported from a package counts as
    the package's `__init__`, unless the name is itself a module)."""
    files = {module_name(path): path for app in APPS for path in source_files(app)}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set()
        for module in imported_modules(path):
            while module and module not in files:
                module = module.rpartition(".")[0]
            if module and module != name:
                targets.add(module)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_in_a_circle() -> None:
    graph = import_graph()
    assert "reports.views.dashboard" in graph  # the walk reads the apps' code
    assert not cycles(graph)


URL_NAME = re.compile(r"""["'](clients|sessions|measures|reports):[a-z-]+["']""")


def named_urls_in(path: Path) -> set[str]:
    """The apps whose URL names `path` writes out ("measures:client-rating" → measures)."""
    return {match.group(1) for match in URL_NAME.finditer(path.read_text())}


@pytest.mark.parametrize("app", CHAIN[:-1])
def test_no_app_names_a_higher_apps_urls(app: str) -> None:
    """A lower app sends people up through `get_absolute_url` and `alliance.links`
    (`home_url` in templates), never by a higher app's URL name."""
    higher = set(CHAIN[CHAIN.index(app) + 1 :])
    templates = [path for path in (ROOT / "templates" / app).rglob("*") if path.is_file()]
    wrong = [
        f"{path.relative_to(ROOT)} names {sorted(named_urls_in(path) & higher)}"
        for path in [*source_files(app), *templates]
        if named_urls_in(path) & higher
    ]
    assert not wrong, "\n".join(wrong)


def test_signing_in_names_no_read_side_url() -> None:
    """Sign-in pages send people home through `alliance.links`, whatever home is."""
    pages = [
        path
        for folder in ("accounts", "registration")
        for path in (ROOT / "templates" / folder).rglob("*")
        if path.is_file()
    ]
    wrong = [
        str(path.relative_to(ROOT))
        for path in [*source_files("accounts"), *pages]
        if "reports" in named_urls_in(path)
    ]
    assert not wrong
