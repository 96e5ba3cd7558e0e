"""The 0–10 scale, drawn in Python: `{% scale_field field low_label high_label %}`.

A client's form holds ten scales of eleven buttons. Drawn by a template include looping
over the field's buttons it cost three quarters of the page's time (some 900 template
lookups a page) and made the form the slowest part of an evening's answers; here it is
one pass over the choices, with the same markup.
"""

from __future__ import annotations

from django import template
from django.forms import BoundField
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def scale_field(
    field: BoundField, low_label: str = "0 = not at all", high_label: str = "10 = completely"
) -> SafeString:
    """A fieldset whose legend is the item, a labelled radio button per value with nothing
    chosen unless the client chose it, the two ends named; required unless optional."""
    chosen = field.value()
    chosen = "" if chosen is None else str(chosen)
    required = " required" if field.field.required else ""
    name, prefix = escape(field.html_name), escape(field.auto_id)
    # Every part escaped here, once: the buttons are joined as plain strings.
    buttons = mark_safe(
        "\n".join(
            f'<input class="btn-check" type="radio" name="{name}" id="{prefix}_{index}" '
            f'value="{escape(value)}"{" checked" if str(value) == chosen else ""}{required}>'
            f'<label class="btn btn-outline-primary" for="{prefix}_{index}">{escape(text)}</label>'
            for index, (value, text) in enumerate(field.field.choices)
        )
    )
    help_text = format_html("<br><span>{}</span>", field.help_text) if field.help_text else ""
    if field.errors:
        errors = format_html(
            '<div class="text-danger small mb-1" id="{}_errors">{}</div>',
            prefix,
            format_html_join("", "{} ", ((error,) for error in field.errors)),
        )
        return format_html(
            '<fieldset class="mb-4 is-invalid" id="{}" aria-describedby="{}_errors">'
            '<legend class="fs-6 mb-1"><span class="fw-semibold">{}</span>{}</legend>{}'
            '<div class="scale" role="radiogroup">{}</div>'
            '<div class="scale-ends text-body-secondary"><span>{}</span><span>{}</span></div>'
            "</fieldset>",
            prefix, prefix, field.label, help_text, errors, buttons, low_label, high_label,
        )  # fmt: skip
    return format_html(
        '<fieldset class="mb-4" id="{}">'
        '<legend class="fs-6 mb-1"><span class="fw-semibold">{}</span>{}</legend>'
        '<div class="scale" role="radiogroup">{}</div>'
        '<div class="scale-ends text-body-secondary"><span>{}</span><span>{}</span></div>'
        "</fieldset>",
        prefix, field.label, help_text, buttons, low_label, high_label,
    )  # fmt: skip
