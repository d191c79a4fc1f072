"""Registers ``byom serve`` with the CLI (entry point ``byom = serve`` of byom-sdk).

Loading this module imports nothing but the hook marker: the plugin registry loads it on
every Client's first use, and starlette / uvicorn are needed only when the command runs.
"""

from __future__ import annotations

from typing import Any

from byom_sdk import hookimpl


@hookimpl
def byom_cli_commands() -> list[Any]:
    from ._cli import serve

    return [serve]
