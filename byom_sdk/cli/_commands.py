"""``byom plugins``, ``generate``, ``embed`` and ``chat``."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import click

from ._main import State
from ._output import echo_json

__all__ = ["chat_command", "embed_command", "generate_command", "plugins_command"]

_KINDS = (
    ("providers", "provider"),
    ("tokenizers", "tokenizer"),
    ("detectors", "detector"),
    ("audit_sinks", "audit sink"),
    ("middleware", "middleware"),
    ("batch_runners", "batch runner"),
    ("commands", "command"),
)


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(as_json: bool) -> None:
    """List plugins, their versions and what they provide, and plugins that failed."""
    import warnings

    from .._plugins import PluginLoadWarning, get_registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # failures are listed below instead
        summary = get_registry().describe()
    if as_json:
        echo_json(summary, indent=2)
        return
    from rich.table import Table

    api = summary["plugin_api"]
    table = Table(title=f"byom-sdk {summary['core_version']} plugins (API {api['min']}..{api['current']})")
    for column in ("plugin", "distribution", "provides"):
        table.add_column(column, overflow="fold")
    for plugin in summary["plugins"]:
        provides = "; ".join(f"{label}: {', '.join(plugin[key])}" for key, label in _KINDS if plugin[key])
        table.add_row(
            plugin["name"],
            f"{plugin['distribution'] or '-'} {plugin['version'] or ''}".strip(),
            provides or "-",
        )
    out = console()
    out.print(table)
    for failure in summary["failures"]:
        dist = f" ({failure['distribution']} {failure['version']})" if failure["distribution"] else ""
        out.print(f"[red]failed[/red] {failure['name']}{dist} at {failure['stage']}: {failure['error']}")


def _messages(prompt: str, system: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    return messages


@click.command("generate")
@click.argument("alias")
@click.argument("prompt")
@click.option("--stream", is_flag=True, help="Print text as it arrives (JSON lines with --json).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None)
@click.option("--temperature", type=float, default=None)
@click.option("--system", default=None, help="A system message to send first.")
@click.option("--json", "as_json", is_flag=True, help="Print the response as JSON; with --stream, one event per line.")
@click.pass_obj
def generate_command(
    state: State,
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
        messages = _messages(prompt, system)
        if stream:
            for event in model.stream(messages, max_tokens=max_tokens, temperature=temperature):
                if as_json:
                    echo_json(event.model_dump(mode="json"))
                elif isinstance(event, TextDelta):
                    click.echo(event.text, nl=False)
                elif isinstance(event, FinishEvent):
                    click.echo()
            return
        response = model.generate(messages, max_tokens=max_tokens, temperature=temperature)
        if as_json:
            echo_json(response.model_dump(mode="json"), indent=2)
        else:
            click.echo(response.text)


@click.command("embed")
@click.argument("alias")
@click.argument("texts", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the default output is JSON already).")
@click.pass_obj
def embed_command(state: State, alias: str, texts: Sequence[str], as_json: bool) -> None:
    """Embed TEXTS with model ALIAS and print the vectors as JSON."""
    with state.client(alias) as client:
        response = client.model(alias).embed(list(texts))
    echo_json(
        {
            "model": response.model,
            "dimension": response.dimension,
            "normalized": response.normalized,
            "vectors": [list(v) for v in response.vectors],
            "usage": response.usage.model_dump(mode="json") if response.usage is not None else None,
        }
    )


def _lines(as_json: bool) -> Iterator[str]:
    """The user's lines: prompted on a terminal, read plainly from stdin under --json (a
    prompt would corrupt the JSON lines on stdout)."""
    while True:
        try:
            line = sys.stdin.readline().rstrip("\n") if as_json else input("you> ")
        except EOFError:
            return
        if as_json and not line:
            return
        yield line


@click.command("chat")
@click.argument("alias")
@click.option("--system", default=None, help="A system message for the conversation.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True, help="Read lines from stdin; print one JSON object per reply.")
@click.pass_obj
def chat_command(state: State, alias: str, system: str | None, max_tokens: int | None, as_json: bool) -> None:
    """Chat with model ALIAS interactively (empty line or Ctrl-D to quit)."""
    from .._types import FinishEvent, TextDelta, UsageEvent

    conversation = uuid.uuid4().hex
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    with state.client(alias) as client:
        model = client.model(alias)
        for turn, line in enumerate(_lines(as_json), start=1):
            if not line.strip():
                return
            history.append({"role": "user", "content": line})
            if not as_json:
                click.echo(f"{alias}> ", nl=False)
            reply: list[str] = []
            finish: Any = None
            usage: Any = None
            for event in model.stream(history, max_tokens=max_tokens, metadata={"conversation_id": conversation}):
                if isinstance(event, TextDelta):
                    reply.append(event.text)
                    if not as_json:
                        click.echo(event.text, nl=False)
                elif isinstance(event, UsageEvent):
                    usage = event.usage.model_dump(mode="json")
                elif isinstance(event, FinishEvent):
                    finish = event.finish_reason
            text = "".join(reply)
            if as_json:
                echo_json({"turn": turn, "text": text, "finish_reason": finish, "usage": usage})
            else:
                click.echo()
            history.append({"role": "assistant", "content": text})
        if not as_json:
            click.echo()
