"""Registers ``byom routes`` and ``byom versions`` with the CLI (builtin plugin
``byom-sdk:routing``).

Loading this module imports nothing but the hook marker: the registry loads it whenever a
Client first uses plugins, and click is needed only when the CLI asks for its commands.
"""

from __future__ import annotations

from typing import Any

from .._hookspecs import hookimpl


@hookimpl
def byom_cli_commands() -> list[Any]:
    from ._cli import routes, versions

    return [routes, versions]
