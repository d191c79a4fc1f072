"""``byom routes`` and ``byom versions`` (registered through ``byom_cli_commands``).

``byom routes`` builds each route as the Client does (so a target outside the trust policy
is reported as the configuration error it is) and prints its targets with their versions,
each target's share of the traffic now (the canary ramp applied), the fallback order and
each circuit's state. A circuit is process state: a fresh ``byom`` process shows them
closed; a long-running service reads ``client.model(route).status()``.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["routes", "versions"]


def _config(ctx: click.Context) -> str:
    state = ctx.find_root().obj
    return str(getattr(state, "config", None) or "byom.toml")


def _echo_json(value: Any) -> None:
    from ..cli._output import echo_json

    echo_json(value, indent=2)


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@click.command("routes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def routes(ctx: click.Context, as_json: bool) -> None:
    """List the routes of byom.toml: targets and versions, weights now, circuits."""
    from .._client import Client
    from .._config import load_config_file
    from ._model import RoutedModel

    config = _config(ctx)
    names = sorted(load_config_file(config).get("routes") or {})
    found: list[dict[str, Any]] = []
    if names:
        with Client.from_config(config, only=names) as client:
            for name in names:
                model = client.model(name)
                assert isinstance(model, RoutedModel)
                found.append(model.status())
    if as_json:
        _echo_json({"config": config, "routes": found})
        return
    if not found:
        click.echo(f"no [routes] in {config}")
        return
    from rich.table import Table

    out = _console()
    for status in found:
        title = f"route {status['route']}" + (f" (sticky by {status['sticky']})" if status["sticky"] else "")
        table = Table(title=title)
        for column in ("target", "role", "version", "share now", "circuit"):
            table.add_column(column, overflow="fold")
        for target in status["targets"]:
            circuit = target["circuit"]
            state = circuit["state"] + (f" ({circuit['reopens_in']:g}s)" if circuit["state"] == "open" else "")
            table.add_row(target["alias"], target["role"], target["version"] or "-", f"{target['percent']:g} %", state)
        out.print(table)
        details = [f"fallback: {' → '.join(status['fallback']) or 'none'} on {', '.join(status['fallback_on'])}"]
        if status["canary"] is not None:
            canary = status["canary"]
            upcoming = canary["next"]
            nxt = f", next {upcoming['percent']:g} % at {upcoming['at']}" if upcoming else ", ramp complete"
            details.append(f"canary {canary['target']}: {canary['percent']:g} % now{nxt}")
        if status["shadow"] is not None:
            details.append(f"shadow: {status['shadow']['percent']:g} % copied to {status['shadow']['target']}")
        for line in details:
            out.print(f"  {line}")


@click.command("versions")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def versions(ctx: click.Context, as_json: bool) -> None:
    """List every model alias with the version it pins and the routes that use it."""
    from .._client import Client
    from .._config import load_config_file
    from .._errors import ByomError
    from ._build import route_aliases

    config = _config(ctx)
    data = load_config_file(config)
    used: dict[str, list[str]] = {}
    for name, table in (data.get("routes") or {}).items():
        for alias in sorted(route_aliases(name, table, source=config)):
            used.setdefault(alias, []).append(name)
    rows: list[dict[str, Any]] = []
    for alias in sorted(data.get("models") or {}):
        row: dict[str, Any] = {"alias": alias, "routes": used.get(alias, []), "error": None}
        try:
            with Client.from_config(config, only=[alias]) as client:
                info = client.model(alias).info
                row.update(provider=info.provider, model_id=info.id, version=info.version)
        except ByomError as exc:
            row.update(provider=None, model_id=None, version=None, error=str(exc))
        rows.append(row)
    if as_json:
        _echo_json({"config": config, "models": rows})
        return
    from rich.table import Table

    table = Table(title=f"model versions in {config}")
    for column in ("alias", "provider", "model id", "version", "routes"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["alias"],
            row["provider"] or "-",
            row["model_id"] or f"[red]{row['error']}[/red]",
            row["version"] or "-",
            ", ".join(row["routes"]) or "-",
        )
    _console().print(table)
