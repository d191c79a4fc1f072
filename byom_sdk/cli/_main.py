"""``byom``: list plugins and models, generate, embed and chat from a byom.toml.

Errors print one line and exit non-zero; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["cli", "main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _State:
    def __init__(self, config: str, debug: bool) -> None:
        self.config = config
        self.debug = debug

    def client(self, alias: str | None = None) -> Client:
        """The Client for this config; with ``alias``, only that model is validated."""
        from .._client import Client

        return Client.from_config(self.config, only=None if alias is None else [alias])


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    default=lambda: os.environ.get("BYOM_CONFIG", "byom.toml"),
    show_default="byom.toml or $BYOM_CONFIG",
    help="The byom.toml to read models and the trust policy from.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, config: str, debug: bool) -> None:
    """byom: call any bring-your-own model through one contract."""
    ctx.obj = _State(config, debug)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(as_json: bool) -> None:
    """List plugins, their versions and what they provide, and plugins that failed."""
    import warnings

    from .._plugins import PluginLoadWarning, get_registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # failures are listed below instead
        summary = get_registry().describe()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    from rich.table import Table

    api = summary["plugin_api"]
    table = Table(title=f"byom-sdk {summary['core_version']} plugins (API {api['min']}..{api['current']})")
    for column in ("plugin", "distribution", "provides"):
        table.add_column(column, overflow="fold")
    kinds = (
        ("providers", "provider"),
        ("tokenizers", "tokenizer"),
        ("detectors", "detector"),
        ("audit_sinks", "audit sink"),
        ("middleware", "middleware"),
        ("commands", "command"),
    )
    for plugin in summary["plugins"]:
        provides = "; ".join(f"{label}: {', '.join(plugin[key])}" for key, label in kinds if plugin[key])
        table.add_row(
            plugin["name"],
            f"{plugin['distribution'] or '-'} {plugin['version'] or ''}".strip(),
            provides or "-",
        )
    console = _console()
    console.print(table)
    for failure in summary["failures"]:
        dist = f" ({failure['distribution']} {failure['version']})" if failure["distribution"] else ""
        console.print(f"[red]failed[/red] {failure['name']}{dist} at {failure['stage']}: {failure['error']}")


@cli.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def models_command(state: _State, as_json: bool) -> None:
    """List the model aliases in byom.toml: provider, and whether each one is usable."""
    from .._client import Client
    from .._config import load_config_file
    from .._errors import ByomError, ConfigError

    data = load_config_file(state.config)
    rows: list[dict[str, Any]] = []
    for alias, raw in sorted(data.get("models", {}).items()):
        provider = raw.get("provider", "?") if isinstance(raw, dict) else "?"
        row: dict[str, Any] = {"alias": alias, "provider": provider, "description": "", "status": "ok", "error": None}
        try:
            with Client.from_config(state.config, only=[alias]) as client:
                entry = client.entry(alias)
                row["description"] = entry.description if entry else ""
        except ConfigError as exc:
            missing = exc.field == "provider" and isinstance(raw, dict) and "provider" in raw
            row["status"] = "provider not installed" if missing else "invalid config"
            row["error"] = str(exc)
        except ByomError as exc:
            row["status"], row["error"] = "invalid config", str(exc)
        row["available"] = row["status"] == "ok"
        rows.append(row)
    if as_json:
        click.echo(json.dumps({"config": state.config, "models": rows}, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"models in {state.config}")
    for column in ("alias", "provider", "status", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        status = row["status"] if row["available"] else f"[red]{row['status']}[/red]"
        table.add_row(row["alias"], str(row["provider"]), status, row["description"])
    console = _console()
    console.print(table)
    for row in rows:
        if row["error"]:
            console.print(f"[red]{row['alias']}[/red]: {row['error']}")


@cli.command("generate")
@click.argument("alias")
@click.argument("prompt")
@click.option("--stream", is_flag=True, help="Print text as it arrives.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None)
@click.option("--temperature", type=float, default=None)
@click.option("--system", default=None, help="A system message to send first.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON.")
@click.pass_obj
def generate_command(
    state: _State,
    alias: str,
    prompt: str,
    stream: bool,
    max_tokens: int | None,
    temperature: float | None,
    system: str | None,
    as_json: bool,
) -> None:
    """Generate a reply from model ALIAS for PROMPT."""
    from .._types import FinishEvent, TextDelta

    with state.client(alias) as client:
        model = client.model(alias)
        messages: list[dict[str, str]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        if stream:
            for event in model.stream(messages, max_tokens=max_tokens, temperature=temperature):
                if isinstance(event, TextDelta):
                    click.echo(event.text, nl=False)
                elif isinstance(event, FinishEvent):
                    click.echo()
            return
        response = model.generate(messages, max_tokens=max_tokens, temperature=temperature)
        if as_json:
            click.echo(response.model_dump_json(indent=2))
        else:
            click.echo(response.text)


@cli.command("embed")
@click.argument("alias")
@click.argument("texts", nargs=-1, required=True)
@click.pass_obj
def embed_command(state: _State, alias: str, texts: Sequence[str]) -> None:
    """Embed TEXTS with model ALIAS and print the vectors as JSON."""
    with state.client(alias) as client:
        response = client.model(alias).embed(list(texts))
    click.echo(
        json.dumps(
            {
                "model": response.model,
                "dimension": response.dimension,
                "normalized": response.normalized,
                "vectors": [list(v) for v in response.vectors],
            }
        )
    )


@cli.command("chat")
@click.argument("alias")
@click.option("--system", default=None, help="A system message for the conversation.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None)
@click.pass_obj
def chat_command(state: _State, alias: str, system: str | None, max_tokens: int | None) -> None:
    """Chat with model ALIAS interactively (empty line or Ctrl-D to quit)."""
    import uuid

    from .._types import TextDelta

    conversation = uuid.uuid4().hex
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    with state.client(alias) as client:
        model = client.model(alias)
        while True:
            try:
                line = input("you> ")
            except EOFError:
                click.echo()
                return
            if not line.strip():
                return
            history.append({"role": "user", "content": line})
            click.echo(f"{alias}> ", nl=False)
            reply = []
            for event in model.stream(history, max_tokens=max_tokens, metadata={"conversation_id": conversation}):
                if isinstance(event, TextDelta):
                    reply.append(event.text)
                    click.echo(event.text, nl=False)
            click.echo()
            history.append({"role": "assistant", "content": "".join(reply)})


@cli.command("conformance")
@click.argument("alias")
@click.option(
    "--report",
    "report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON conformance report here.",
)
@click.option("--preview", is_flag=True, help="Also run checks in the preview group.")
@click.pass_obj
def conformance_command(state: _State, alias: str, report: Path | None, preview: bool) -> None:
    """Run the conformance suite against model ALIAS from byom.toml."""
    from ..testing.conformance import run_conformance

    with state.client(alias) as client:
        client.provider_model(alias).close()  # fail fast, in one line, on a bad alias or config
        code = run_conformance(lambda: client.provider_model(alias), report_path=report, preview=preview, name=alias)
    if code != 0:
        raise SystemExit(code)


def _add_plugin_commands(group: click.Group) -> None:
    import warnings

    from .._plugins import PluginLoadWarning, get_registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # `byom plugins` reports them
        for _plugin, command in get_registry().cli_commands():
            if isinstance(command, click.Command) and command.name and command.name not in group.commands:
                group.add_command(command)


def _one_line(error: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        from .._config import describe_validation_error

        _field, message = describe_validation_error(error)
        return f"invalid input: {message}"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``byom`` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        _add_plugin_commands(cli)
        cli.main(args=args, prog_name="byom", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as error:
        error.show()
        return EXIT_USAGE
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    except Exception as error:
        if debug:
            raise
        from .._errors import ByomError

        prefix = "error" if isinstance(error, ByomError) else f"error ({type(error).__name__})"
        click.echo(f"{prefix}: {_one_line(error)}", err=True)
        if not isinstance(error, ByomError):
            click.echo("run with --debug for the traceback", err=True)
        return EXIT_ERROR
    return 0
