from typing import Any

from django.db import models


def save_changes(obj: models.Model, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the fields whose value differs and save only those, so a concurrent change to any
    other field of the row (a password changed meanwhile) survives. Returns {field: [before, after]}.

    A name that is not a field of the model raises TypeError instead of being ignored."""
    names = {f.attname for f in obj._meta.concrete_fields} | {f.name for f in obj._meta.concrete_fields}
    if unknown := set(values) - names:
        raise TypeError(f"{type(obj).__name__} has no field {', '.join(sorted(unknown))}")
    changes = {field: [getattr(obj, field), value] for field, value in values.items() if getattr(obj, field) != value}
    if changes:
        for field, (_, value) in changes.items():
            setattr(obj, field, value)
        auto_now = [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
        obj.save(update_fields=[*changes, *auto_now])
    return changes
