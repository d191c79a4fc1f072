"""One reading of pydantic validation errors, for every message that names a field.

Config files, trust policies, provider configs, audit-sink options and call arguments are
all validated by pydantic; whichever failed, the error names the first failing field as a
dotted path under ``prefix`` and lists every failure on one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = ["describe_validation_error"]


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
        location = ".".join(str(p) for p in item["loc"])
        dotted = f"{prefix}.{location}" if prefix and location else prefix or location
        first_field = first_field or dotted
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{dotted or '<root>'}: {message}")
    return first_field, "; ".join(parts)
