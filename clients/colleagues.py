"""How a list of colleagues names them: by name (their username if they have none), and
after a name two of the list share, their username, "José Ortega (jortega)". Two colleagues
of one clinic may share a name; in a list a clinic admin or supervisor reads or picks from
(the dashboard's rows, the precision page, the choice of a therapist or supervisor) they
would otherwise be one person twice. The names are worked out from the list already read,
so naming costs no query. One colleague named alone (a heading, an e-mail) keeps `str(user)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from django.forms.models import ModelChoiceIterator, ModelChoiceIteratorValue

from alliance.fields import RecordChoiceField
from clients.models import User


def colleague_names(colleagues: Iterable[User]) -> dict[int, str]:
    """Each colleague of the list by id, named as the list names them (module docstring)."""
    names = {colleague.pk: (str(colleague), colleague.username) for colleague in colleagues}
    shared = Counter(name for name, _username in names.values())
    return {
        pk: f"{name} ({username})" if shared[name] > 1 else name
        for pk, (name, username) in names.items()
    }


def name_colleagues(colleagues: Iterable[User]) -> dict[int, str]:
    """`colleague_names`, each also set on its colleague as `colleague_name` (for a template
    or a CSV row); returns the names by id, for others of the list read elsewhere."""
    colleagues = list(colleagues)
    names = colleague_names(colleagues)
    for colleague in colleagues:
        colleague.colleague_name = names[colleague.pk]
    return names


class _ColleagueChoiceIterator(ModelChoiceIterator):
    """The choices, read in one query as ModelChoiceIterator reads them, each labelled by
    `colleague_names` over them all."""

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        colleagues = list(self.queryset)
        names = colleague_names(colleagues)
        for colleague in colleagues:
            value = ModelChoiceIteratorValue(self.field.prepare_value(colleague), colleague)
            yield (value, names[colleague.pk])


class ColleagueChoiceField(RecordChoiceField):
    """One colleague chosen by id from a list that names them as `colleague_names` does."""

    iterator = _ColleagueChoiceIterator
