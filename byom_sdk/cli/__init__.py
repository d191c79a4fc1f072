"""The ``byom`` command line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._main import cli, main

__all__ = ["cli", "main", "run"]

#: exit status for Ctrl-C (as :data:`byom_sdk.cli._output.EXIT_INTERRUPTED`, which cannot be
#: imported here without importing click).
_INTERRUPTED = 130


def __getattr__(name: str) -> Any:
    # Imported on first use, so `run` can catch a Ctrl-C that lands while click and the
    # commands are being imported (a tenth of a second at every start) instead of printing
    # a traceback.
    if name in ("cli", "main"):
        from . import _main

        return getattr(_main, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    """Console-script entry point."""
    try:
        from ._main import main as entry
    except KeyboardInterrupt:
        import sys

        sys.stderr.write("interrupted\n")
        raise SystemExit(_INTERRUPTED) from None
    raise SystemExit(entry())
