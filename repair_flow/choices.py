"""Choice labels without translating every choice (issue 18).

Django's `get_<field>_display()` builds a dict of the field's choices on each
call, and hashing each lazy label translates it: a case status of 18 choices
costs 18 gettext calls to show one. An applicant's list of 50 cases asks ~100
times, ~1,700 translations a page. `install()` gives every model field with
choices a `get_<field>_display()` that looks the value up in a dict built
once per field and translates only the label it returns, in the language of
the request, as Django's does. A model that defines its own method keeps it.
"""

from functools import partialmethod

from django.apps import apps
from django.utils.encoding import force_str


def choice_display(field):
    """`get_<field>_display` for `field`: its label, translated when read."""
    labels = None

    def display(instance):
        nonlocal labels
        if labels is None:
            labels = dict(field.flatchoices)
        value = getattr(instance, field.attname)
        try:
            label = labels.get(value, value)
        except TypeError:  # an unhashable value (a list): no label has it
            label = value
        return force_str(label, strings_only=True)

    display.__name__ = f"get_{field.name}_display"
    return display


def install() -> None:
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            name = f"get_{field.name}_display"
            # Django's own: a partialmethod it set when the field had choices.
            if field.choices is not None and isinstance(model.__dict__.get(name), partialmethod):
                setattr(model, name, choice_display(field))
