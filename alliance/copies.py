"""Copies a row keeps of numbers other rows hold, which their own writers keep current."""

from __future__ import annotations

from collections.abc import Collection

from django.db import models


def fields_an_edit_writes(instance: models.Model, copies: Collection[str]) -> list[str]:
    """The fields saving an already stored `instance` should write: every field but its
    `copies` and those not loaded. Saving a row read before a copy was written (a form
    open while its copy changed) must not write the copy back as it was then; fields not
    loaded stay unwritten, as Django's own save leaves them."""
    deferred = instance.get_deferred_fields()
    return [
        field.name
        for field in instance._meta.concrete_fields
        if not field.primary_key and field.name not in copies and field.attname not in deferred
    ]
