"""``byom``: list plugins and models, generate, embed, chat and test models from a byom.toml.

Every command takes ``--json`` (plugin commands that lack it get it here), errors print
one line (or one JSON object with ``--json``) and exit with the codes of
:mod:`byom_sdk.cli._output`; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from ._output import EXIT_INTERRUPTED, echo_json, error_payload, exit_code_for, one_line

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["State", "cli", "main"]


class State:
    """What the group's options say, handed to every command."""

    def __init__(self, config: str, debug: bool) -> None:
        self.config = config
        self.debug = debug

    def client(self, alias: str | None = None) -> Client:
        """The Client for this config; with ``alias``, only that model is validated."""
        from .._client import Client

        return Client.from_config(self.config, only=None if alias is None else [alias])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    default=lambda: os.environ.get("BYOM_CONFIG") or "byom.toml",  # set but empty: as if unset
    show_default="byom.toml or $BYOM_CONFIG",
    help="The byom.toml to read models and the trust policy from.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, config: str, debug: bool) -> None:
    """byom: call any bring-your-own model through one contract.

    Every command takes --json. Exit codes: 0 ok, 1 failed, 2 bad input, 3 configuration,
    4 refused by the trust policy, 5 missing optional dependency, 130 interrupted.
    """
    if not config:
        # Path("") would be read as ".", reported as a folder the user never named.
        raise click.BadParameter("the config path is empty", param_hint="'--config'")
    ctx.obj = State(config, debug)


def _register() -> None:
    from ._commands import chat_command, embed_command, generate_command, plugins_command
    from ._conformance import conformance_command
    from ._models import models_command

    for command in (
        plugins_command,
        models_command,
        generate_command,
        embed_command,
        chat_command,
        conformance_command,
    ):
        cli.add_command(command)


_register()


# -- plugin commands --------------------------------------------------------------------------


def _has_json(command: click.Command) -> bool:
    return any("--json" in getattr(param, "opts", ()) for param in command.params)


class _JsonLines(io.TextIOBase):
    """Stands in for stdout: each complete line the command prints becomes one JSON object
    on the real stdout at once (a long-running command streams, it is not buffered)."""

    def __init__(self, name: str | None, target: Any) -> None:
        self._name = name
        self._target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        with contextlib.redirect_stdout(self._target):
            echo_json({"command": self._name, "output": line})
        self._target.flush()

    def finish(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = ""


def _with_json(command: click.Command) -> None:
    """Give a plugin command that lacks ``--json`` one: each line it prints becomes
    ``{"command", "output"}``, then ``{"command", "ok": true}``; its errors the JSON error."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_json(sub)
        return
    if _has_json(command) or command.callback is None:
        return
    callback = command.callback
    name = command.name

    @functools.wraps(callback)
    def wrapped(*args: Any, byom_json: bool = False, **kwargs: Any) -> Any:
        if not byom_json:
            return callback(*args, **kwargs)
        lines = _JsonLines(name, sys.stdout)
        with contextlib.redirect_stdout(lines):
            try:
                result = callback(*args, **kwargs)
            finally:
                lines.finish()
        echo_json({"command": name, "ok": True})
        return result

    command.params.append(
        click.Option(["--json", "byom_json"], is_flag=True, help="Print the output (or the error) as JSON lines.")
    )
    command.callback = wrapped


def _add_plugin_commands(group: click.Group) -> None:
    import warnings

    from .._plugins import PluginLoadWarning, get_registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # `byom plugins` reports them
        for _plugin, command in get_registry().cli_commands():
            if isinstance(command, click.Command) and command.name and command.name not in group.commands:
                _with_json(command)
                group.add_command(command)


# -- entry point ------------------------------------------------------------------------------


def _report(error: BaseException, *, as_json: bool) -> int:
    from .._errors import ByomError

    code = exit_code_for(error)
    if as_json:
        echo_json(error_payload(error))
    elif isinstance(error, click.ClickException):
        error.show()
    elif code == EXIT_INTERRUPTED:
        click.echo("interrupted", err=True)
    else:
        prefix = "error" if isinstance(error, ByomError) else f"error ({type(error).__name__})"
        click.echo(f"{prefix}: {one_line(error)}", err=True)
        if not isinstance(error, ByomError):
            click.echo("run with --debug for the traceback", err=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``byom`` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    as_json = "--json" in args
    try:
        _add_plugin_commands(cli)
        result = cli.main(args=args, prog_name="byom", standalone_mode=False)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    except (click.ClickException, click.exceptions.Abort, KeyboardInterrupt) as error:
        return _report(error, as_json=as_json)
    except Exception as error:
        if debug:
            raise
        return _report(error, as_json=as_json)
    return result if isinstance(result, int) else 0
