"""``byom models [--check]``: every alias of byom.toml and whether it is usable.

Without ``--check`` each alias's config is validated (provider installed, keys valid).
``--check`` also checks that every file the config names exists and parses, that the
model builds as a call builds it (provider, tokenizer, the per-model trust policy), and
that a loopback endpoint answers (a remote one is never
contacted: the check must not send anything past the trust boundary). Exit 1 when any
alias is not usable.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from ._main import State
from ._output import EXIT_ERROR, echo_json

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .._client import Client
    from .._errors import ConfigError
    from .._types import Boundary

__all__ = ["models_command", "provider_config"]

#: seconds a loopback endpoint has to accept a connection or answer a GET.
ENDPOINT_TIMEOUT = 2.0


def provider_config(client: Client, alias: str, config_file: str) -> BaseModel:
    """The alias's provider config, validated as the Client validated it."""
    entry = client.entry(alias)
    if entry is None:
        raise click.ClickException(f"model '{alias}' has no provider config")
    spec = client.registry.provider(entry.provider)
    context = {"config_dir": Path(config_file).resolve().parent, "alias": alias}
    return spec.config_schema.model_validate(entry.options, context=context)


def _paths(value: Any, prefix: str = "") -> Iterator[tuple[str, Path]]:
    if isinstance(value, Path):
        yield prefix, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _paths(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _paths(item, f"{prefix}[{index}]")


def _parse(path: Path) -> None:
    """Raise ValueError when a file of a known format does not parse."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        json.loads(path.read_text(encoding="utf-8"))
    elif suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - exercised on 3.10 only
            import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
        tomllib.loads(path.read_text(encoding="utf-8"))
    elif suffix == ".gguf":
        with path.open("rb") as handle:
            if handle.read(4) != b"GGUF":
                raise ValueError("not a GGUF file (bad magic)")
    elif suffix == ".safetensors":
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if not 0 < size < 100_000_000:
                raise ValueError("not a safetensors file (bad header size)")
            json.loads(handle.read(size))
    elif path.stat().st_size == 0:
        raise ValueError("empty file")


def _check_files(named: list[tuple[str, Path]]) -> tuple[str, str] | None:
    for field, path in named:
        if not path.exists():
            return "missing file", f"field '{field}': {path} does not exist"
        if path.is_file():
            try:
                _parse(path)
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                return "unreadable file", f"field '{field}': {path}: {exc}"
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_endpoint(boundary: Boundary) -> tuple[bool, str]:
    """(answered, what happened) for a loopback endpoint; remote ones are not contacted."""
    target = boundary.endpoint or boundary.host
    if not target:
        return True, "in process"
    parts = urlsplit(target if "://" in target else f"tcp://{target}")
    host = parts.hostname or ""
    if not _loopback(host):
        return True, f"{host or target} not contacted (remote)"
    started = time.perf_counter()
    if parts.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(target, timeout=ENDPOINT_TIMEOUT):
                pass
        except urllib.error.HTTPError:
            pass  # any HTTP answer means the server is up
        except (OSError, ValueError) as exc:
            return False, f"{target} does not answer: {getattr(exc, 'reason', exc)}"
    else:
        port = parts.port or 443
        try:
            with socket.create_connection((host, port), timeout=ENDPOINT_TIMEOUT):
                pass
        except OSError as exc:
            return False, f"{host}:{port} does not accept connections: {exc}"
    return True, f"{target} answered in {(time.perf_counter() - started) * 1000:.0f} ms"


def _deep_check(state: State, client: Client, alias: str, row: dict[str, Any]) -> None:
    from .._errors import ConfigError

    checks: dict[str, Any] = {"config": "ok"}
    row["checks"] = checks
    entry = client.entry(alias)
    named = list(_paths(provider_config(client, alias, state.config).model_dump(mode="python")))
    if entry is not None and entry.tokenizer is not None and entry.tokenizer.get("path"):
        path = Path(str(entry.tokenizer["path"])).expanduser()
        if not path.is_absolute():
            path = Path(state.config).resolve().parent / path
        named.append(("tokenizer.path", path))
    problem = _check_files(named)
    checks["files"] = problem[1] if problem else f"ok ({len(named)} checked)"
    if problem:
        row["status"], row["error"] = problem[0], problem[1]
        return
    try:
        # What the first call builds: the provider, its tokenizer, its trust steps (the
        # per-model override merged, entity names checked against the detectors), middleware.
        # The client closes it.
        model = client.model(alias)
    except ConfigError as exc:
        row["status"], row["error"] = "invalid config", str(exc)
        checks["build"] = row["error"]
        return
    except Exception as exc:  # noqa: BLE001 - any failure to build is this alias's finding.
        row["status"], row["error"] = "build failed", f"{type(exc).__name__}: {exc}"
        checks["build"] = row["error"]
        return
    checks["build"] = "ok"
    row["version"] = model.info.version
    answered, detail = _check_endpoint(model.info.boundary)
    checks["endpoint"] = detail
    if not answered:
        row["status"], row["error"] = "endpoint unreachable", detail


@click.command("models")
@click.option("--check", is_flag=True, help="Also check files, build each model and contact loopback endpoints.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def models_command(state: State, check: bool, as_json: bool) -> None:
    """List the model aliases in byom.toml: provider, and whether each one is usable.

    Exits 1 when any alias is not usable.
    """
    from .._client import Client
    from .._config import load_config_file
    from .._errors import ByomError, ConfigError
    from .._redact import redact

    data = load_config_file(state.config)
    rows: list[dict[str, Any]] = []
    for alias, raw in sorted(data.get("models", {}).items()):
        provider = raw.get("provider", "?") if isinstance(raw, dict) else "?"
        row: dict[str, Any] = {"alias": alias, "provider": provider, "description": "", "status": "ok", "error": None}
        try:
            with Client.from_config(state.config, only=[alias]) as client:
                entry = client.entry(alias)
                # A description may be interpolated from ${ENV}: shown by name, like errors.
                row["description"] = redact(entry.description) if entry else ""
                if check:
                    _deep_check(state, client, alias, row)
        except ConfigError as exc:
            row["status"] = "provider not installed" if _provider_missing(exc, raw) else "invalid config"
            row["error"] = str(exc)
        except ByomError as exc:
            row["status"], row["error"] = "invalid config", str(exc)
        row["available"] = row["status"] == "ok"
        rows.append(row)
    broken = [row["alias"] for row in rows if not row["available"]]
    if as_json:
        echo_json({"config": state.config, "checked": check, "models": rows, "broken": broken}, indent=2)
    else:
        _table(state, rows)
    if broken:
        raise SystemExit(EXIT_ERROR)


def _provider_missing(error: ConfigError, raw: Any) -> bool:
    """Whether ``error`` is about a provider name no installed plugin registers (not a
    provider of the wrong type, nor an unset ``${VAR}`` in it)."""
    from .._config import interpolate
    from .._errors import ConfigError
    from .._plugins import get_registry

    if error.field != "provider" or not isinstance(raw, Mapping) or not isinstance(raw.get("provider"), str):
        return False
    try:
        name = interpolate(raw["provider"], source="", alias=None, path="provider")
    except ConfigError:
        return False
    return bool(name) and name not in get_registry().providers


def _table(state: State, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from ._commands import console

    table = Table(title=f"models in {state.config}")
    built = any("version" in row for row in rows)  # only --check builds the models
    for column in ("alias", "provider", *(("version",) if built else ()), "status", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        status = row["status"] if row["available"] else f"[red]{row['status']}[/red]"
        version = (str(row.get("version") or "-"),) if built else ()
        table.add_row(row["alias"], str(row["provider"]), *version, status, row["description"])
    out = console()
    out.print(table)
    for row in rows:
        if row["error"]:
            out.print(f"[red]{row['alias']}[/red]: {row['error']}")
