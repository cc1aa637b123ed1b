"""Reading a listing item by item: what a caller may do with an item that fails validation.

A listing of money lines must not lose every line because one of them cannot be read: a caller
that passes ``on_invalid`` gets that item (as Amili sent it) and the error, and the listing goes
on. Without ``on_invalid`` the error is raised, as for any other read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

InvalidItem = Callable[[Any, ValidationError], None]


def validated(model: type[M], item: Any, on_invalid: InvalidItem | None) -> M | None:
    """``item`` as ``model``; None when it fails and ``on_invalid`` took it."""
    if on_invalid is None:
        return model.model_validate(item)
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        on_invalid(item, exc)
        return None
