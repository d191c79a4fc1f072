"""The ``byom`` command line."""

from __future__ import annotations

from ._main import cli, main

__all__ = ["cli", "main", "run"]


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
