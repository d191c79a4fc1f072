"""Registers ``byom batch`` with the CLI (entry point ``byom = batch`` of byom-sdk).

Loading this module imports nothing but the hook marker; the command, rich and the
runners load when it runs.
"""

from __future__ import annotations

from typing import Any

from .._hookspecs import hookimpl


@hookimpl
def byom_cli_commands() -> list[Any]:
    from ._cli import batch

    return [batch]
