"""One reading of pydantic validation errors, for every message that names a field.

Config files, trust policies, provider configs, audit-sink options and call arguments are
all validated by pydantic; whichever failed, the error names the first failing field as a
dotted path under ``prefix`` and lists every failure on one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = ["describe_validation_error", "did_you_mean", "error_location", "no_model_named"]

# pydantic puts the union member that failed into an error's location (``literal['a','b']``,
# ``tuple[str, ...]``, ``function-after[...]``, ``str``): that names a type, not a field.
_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "bytes", "none", "dict", "list", "tuple", "set", "frozenset"})


def error_location(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """An error's location as the dotted field path a user wrote, without union tags."""
    return ".".join(str(part) for part in loc if not (isinstance(part, str) and ("[" in part or part in _SCALAR_TAGS)))


def describe_validation_error(error: ValidationError, *, prefix: str = "") -> tuple[str, str]:
    """(the first failing field, dotted under ``prefix``; every failure on one line)."""
    parts = []
    first_field = ""
    items = error.errors()
    # A sequence whose items failed is also reported "too short" (pydantic counts the
    # valid ones): the items' errors say what is wrong.
    failed_inside = {tuple(item["loc"][:-1]) for item in items if item["loc"]}
    items = [i for i in items if not (i["type"] == "too_short" and tuple(i["loc"]) in failed_inside)]
    for item in items:
        location = error_location(item["loc"])
        dotted = f"{prefix}.{location}" if prefix and location else prefix or location
        first_field = first_field or dotted
        message = str(item["msg"]).removeprefix("Value error, ")
        part = f"{dotted or '<root>'}: {message}"
        if part not in parts:  # union members can fail the same way
            parts.append(part)
    return first_field, "; ".join(parts)


def did_you_mean(name: str, known: Collection[str]) -> str:
    """``"did you mean 'x'? "`` for the nearest of ``known`` names, or ``""``."""
    near = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""


def no_model_named(alias: str, configured: Collection[str]) -> str:
    """The one message for an alias that is neither a model nor a route, with the nearest."""
    names = sorted(configured)
    return f"{did_you_mean(alias, names)}no model named '{alias}' (configured: {', '.join(names) or 'none'})"
