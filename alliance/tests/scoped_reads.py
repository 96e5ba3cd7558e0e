"""An auditor of the SQL a request runs: did it reach its records through the scoped querysets?

`clients/scoping.py` marks the SQL query of every `visible_to(user)` / `editable_by(user)`
queryset (`query.scoped`), and Django carries the mark to every queryset chained from it.
While `audit()` is open, every SELECT on a model that has such querysets (a *scoped
model*: clients, sessions, ratings, concerns, colleagues, a clinic's thresholds…) is
looked at, with the records the request's URL names:

- **the URL's record first through the scopes.** A query not marked as scoped that
  looks up a record named in the URL (by its primary key, or by a foreign key to it)
  before any scoped query has looked it up is a page that trusted the address: an
  outsider could read or change another clinic's record by changing a number.
- **no table read whole.** A query not marked as scoped must be narrowed by a key: a
  record already in hand (`session.ratings.all()`, `Rating ... WHERE session_id = 7`, a
  clinic's own calibration `WHERE clinic_id = 3`) or a subquery that is scoped or narrowed
  in its turn (`therapist__in=User.objects.overseen_by(user)`). Otherwise it reads across
  every clinic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.sql import compiler
from django.db.models.sql.query import Query
from django.db.models.sql.where import AND, WhereNode


def is_scoped_model(model: type[models.Model]) -> bool:
    """A model whose records are reached through `visible_to(user)`."""
    return hasattr(model._default_manager.get_queryset(), "visible_to")


def is_marked(query: Query) -> bool:
    """The query (or, for a count or aggregate, the query it wraps) came from a scope."""
    if getattr(query, "scoped", False):
        return True
    inner = getattr(query, "inner_query", None)
    return inner is not None and is_marked(inner)


def _restrictions(node: WhereNode) -> Iterator[Lookup | Any]:
    """The conditions every row must meet: those ANDed at the top, not under OR or NOT."""
    if node.connector != AND or node.negated:
        return
    for child in node.children:
        if isinstance(child, WhereNode):
            yield from _restrictions(child)
        else:
            yield child


def _ids(value: Any) -> set[int]:
    values = value if isinstance(value, list | tuple | set | frozenset) else [value]
    found = set()
    for one in values:
        one = getattr(one, "pk", one)
        if isinstance(one, int):
            found.add(one)
    return found


@dataclass(frozen=True)
class Keyed:
    """One key restriction: rows of `model` with these ids, or those of a subquery."""

    model: type[models.Model]
    ids: frozenset[int]
    subquery: Query | None = None

    @property
    def narrows(self) -> bool:
        """To given records (even none: `IN ()` reads nothing), or to those of a subquery
        that is scoped or narrowed in its turn (`client_id IN (SELECT id … WHERE clinic_id
        = 3)`)."""
        if self.subquery is None:
            return True
        return is_marked(self.subquery) or any(key.narrows for key in keys_of(self.subquery))


def keys_of(query: Query) -> list[Keyed]:
    """Each restriction of `query` by a primary or foreign key, with the model it names."""
    query = getattr(query, "inner_query", None) or query
    found = []
    for condition in _restrictions(query.where):
        if not isinstance(condition, Lookup) or not isinstance(condition.lhs, Col):
            if isinstance(getattr(condition, "query", None), Query):  # Exists(…), Subquery(…)
                found.append(Keyed(query.model, frozenset(), condition.query))
            continue
        target = condition.lhs.target
        if target.primary_key:
            named = target.model
        elif target.is_relation:
            named = target.related_model
        else:
            continue
        if isinstance(condition.rhs, Query):
            found.append(Keyed(named, frozenset(), condition.rhs))
        else:
            found.append(Keyed(named, frozenset(_ids(condition.rhs))))
    return found


@dataclass
class Audit:
    """What one request ran: its URL's records, and each problem found (empty is good)."""

    named: set[tuple[type[models.Model], int]]
    viewer_id: int | None
    looked_up: set[tuple[type[models.Model], int]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def see(self, query: Query, sql: Callable[[], str]) -> None:
        model = query.model
        if model is None or not is_scoped_model(model):
            return
        keys = keys_of(query)
        if is_marked(query):
            self.looked_up |= {(key.model, pk) for key in keys for pk in key.ids}
            return
        unchecked = {
            (key.model, pk)
            for key in keys
            for pk in key.ids
            if (key.model, pk) in self.named - self.looked_up
            # Reading oneself (the signed-in user) needs no scope.
            and not (key.model._meta.label == "clients.User" and pk == self.viewer_id)
        }
        for named_model, pk in sorted(unchecked, key=str):
            self.problems.append(
                f"{model.__name__} read by the URL's {named_model.__name__} {pk} before any "
                f"scoped query looked it up: {sql()}"
            )
        if not any(key.narrows for key in keys):
            self.problems.append(
                f"{model.__name__} read without a scope or a key to narrow it: {sql()}"
            )


def _reads_rows(executing: compiler.SQLCompiler) -> bool:
    """False for a query Django answers without asking the database (`.none()`, `IN ()`)."""
    try:
        executing.as_sql()
    except EmptyResultSet:
        return False
    return True


@contextlib.contextmanager
def audit(
    named: Iterable[tuple[type[models.Model], int]], viewer_id: int | None
) -> Iterator[Audit]:
    """Look at every SELECT run inside the block (see the module's docstring)."""
    found = Audit(named=set(named), viewer_id=viewer_id)
    original = compiler.SQLCompiler.execute_sql

    def execute_sql(self: compiler.SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        writes = (
            compiler.SQLInsertCompiler,
            compiler.SQLUpdateCompiler,
            compiler.SQLDeleteCompiler,
        )
        if not isinstance(self, writes) and _reads_rows(self):
            found.see(self.query, lambda: self.as_sql()[0][:600])
        return original(self, *args, **kwargs)

    compiler.SQLCompiler.execute_sql = execute_sql  # type: ignore[method-assign]
    try:
        yield found
    finally:
        compiler.SQLCompiler.execute_sql = original  # type: ignore[method-assign]
