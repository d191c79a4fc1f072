"""``byom audit verify``, ``byom audit show`` and ``byom audit key-id`` (registered through
``byom_cli_commands``).

Exit codes: 0 intact; 1 tampering found (or, with ``--strict``, something could not be
checked); 2 bad input (unreadable log, head file or key material).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from .._errors import AuditError
from ._audit_keys import AuditKeyring
from ._audit_read import read_audit, verify_audit

__all__ = ["audit"]

_DEFAULT = "byom-audit.sqlite"
_F = TypeVar("_F", bound=Callable[..., Any])


def _key_options(func: _F) -> _F:
    func = click.option("--keyring", type=click.Path(dir_okay=False, path_type=Path), help="Keyring file (JSON/TOML).")(
        func
    )
    func = click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), help="File holding the key.")(
        func
    )
    return click.option(
        "--key-env",
        default="BYOM_AUDIT_KEY",
        show_default=True,
        help='Environment variable holding the key (must be set when given; --key-env "" checks without a key).',
    )(func)


def _fail(exc: BaseException, as_json: bool) -> NoReturn:
    """One line (or one JSON object) for bad input, exit 2."""
    message = str(exc) if isinstance(exc, AuditError) else f"{type(exc).__name__}: {exc}"
    if as_json:
        error: dict[str, Any] = {"type": type(exc).__name__, "message": message, "exit_code": 2, "retryable": False}
        if isinstance(exc, AuditError) and exc.path:
            error["path"] = exc.path
        click.echo(json.dumps({"error": error}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
def audit() -> None:
    """Inspect and verify the trust layer's audit log."""


@audit.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=_DEFAULT)
@_key_options
@click.option("--strict", is_flag=True, help="Exit 1 when anything could not be checked (no key, no head).")
@click.option("--no-head", is_flag=True, help="Do not compare with the .head checkpoint file.")
@click.option(
    "--witness",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An earlier copy of the head kept elsewhere: the log must still extend it.",
)
@click.option("--no-shards", is_flag=True, help="Do not verify the shard logs of batch merges (their Merkle roots).")
@click.option("--json", "as_json", is_flag=True, help="Print the result (or the error) as JSON.")
def verify(
    path: Path,
    key_env: str,
    key_file: Path | None,
    keyring: Path | None,
    strict: bool,
    no_head: bool,
    witness: Path | None,
    as_json: bool,
    no_shards: bool = False,
) -> None:
    """Verify PATH: the hash chain, record and checkpoint MACs (with a key), the head
    checkpoint, that every sent call has one intent and one outcome, and, for each batch
    job merged into it, every shard log and the Merkle root over their heads.

    Without a key, what could not be checked is listed. Exits 0 when intact, 1 at the first
    bad record (its sequence number is printed) or, with --strict, when anything could not
    be checked, 2 when the log, its head or a key cannot be read.
    """
    given = click.get_current_context().get_parameter_source("key_env")
    named = given is click.core.ParameterSource.COMMANDLINE and key_env
    if named and not os.environ.get(key_env) and not key_file and not keyring:
        # The default variable may be unset (a keyless check, as `--key-env ""` asks for);
        # one named on purpose may not.
        _fail(AuditError(f"--key-env {key_env}: the environment variable is unset or empty", path=str(path)), as_json)
    try:
        result = verify_audit(
            path,
            key_env=key_env or None,
            key_file=key_file,
            keyring=keyring,
            check_head=not no_head,
            witness=witness,
            check_shards=not no_shards,
        )
    except AuditError as exc:
        _fail(exc, as_json)
    except Exception as exc:  # noqa: BLE001 - any unreadable input is exit 2, one line.
        _fail(exc, as_json)
    failed = not result.ok or (strict and not result.complete)
    if as_json:
        click.echo(json.dumps({"path": str(path), "strict": strict, **result.as_dict()}))
    else:
        click.echo(f"{path}: {result.describe()}")
        for merge in result.merged:
            click.echo(
                f"batch {merge['job_id']} (seq {merge['seq']}): root {str(merge['root'])[:16]}… over "
                f"{len(merge['shards'])} shard log(s), {merge['records']} record(s): ok"
            )
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        if result.ok and failed:
            click.echo("strict: failing because not everything could be checked", err=True)
    sys.exit(1 if failed else 0)


def _detail(record: dict[str, Any]) -> str:
    if record.get("kind") == "rotation":
        return f"key rotation {record.get('from_kid')} -> {record.get('to_kid')}"
    entities = ",".join(f"{k}={v}" for k, v in (record.get("entities") or {}).items())
    detail = str(record.get("rule") or entities or "-")
    if record.get("call_id"):
        detail = f"call {record['call_id']} {detail}"
    if record.get("trust") == "off":
        detail = f"TRUST OFF {detail}"
    return detail


@audit.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=_DEFAULT)
@click.option(
    "--limit", type=click.IntRange(min=0), default=20, show_default=True, help="Newest N records (0 for all)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line.")
def show(path: Path, limit: int, as_json: bool) -> None:
    """List the newest records of PATH (it is not verified: use `byom audit verify`)."""
    try:
        entries = list(read_audit(path, limit=limit or None))
    except AuditError as exc:
        _fail(exc, as_json)
    except Exception as exc:  # noqa: BLE001 - any unreadable input is exit 2, one line.
        _fail(exc, as_json)
    if as_json:
        for entry in entries:
            try:
                shown = entry.as_dict()
            except ValueError as exc:  # an edited body: say so in its row, go on
                shown = {"seq": entry.seq, "hash": entry.hash, "error": str(exc)}
            click.echo(json.dumps(shown, ensure_ascii=False))
        return
    click.echo(f"{'seq':>6}  {'time':<29} {'model':<16} {'provider':<10} {'outcome':<8} {'ms':>8}  detail")
    for entry in entries:
        try:
            record = entry.record
        except ValueError:
            record = {"outcome": "invalid"}  # an edited body: `byom audit verify` says more
        outcome = record.get("outcome") or record.get("kind") or ""
        latency = record.get("latency_ms")
        ms = f"{latency:>8.1f}" if isinstance(latency, (int, float)) else f"{'-':>8}"
        click.echo(
            f"{entry.seq:>6}  {record.get('time', '')!s:<29} {str(record.get('model', ''))[:16]:<16} "
            f"{str(record.get('provider', ''))[:10]:<10} {str(outcome)[:8]:<8} {ms}  {_detail(record)}"
        )


@audit.command("key-id")
@_key_options
@click.option("--json", "as_json", is_flag=True, help="Print the ids as JSON.")
def key_id_command(key_env: str, key_file: Path | None, keyring: Path | None, as_json: bool) -> None:
    """Print the id of the configured audit key (or of each key in a keyring).

    Key ids are what logs and checkpoints record; they reveal nothing about the key.
    """
    try:
        keys = AuditKeyring.from_settings(env=key_env or None, key_file=key_file, keyring=keyring)
    except AuditError as exc:
        _fail(exc, as_json)
    rows = [{"kid": kid, "label": keys.labels.get(kid), "active": kid == keys.active_kid} for kid in keys]
    if not rows:
        _fail(AuditError(f"no audit key: {keys.source} is unset"), as_json)
    if as_json:
        click.echo(json.dumps({"source": keys.source, "keys": rows}))
        return
    for row in rows:
        label = f"  {row['label']}" if row["label"] else ""
        click.echo(f"{row['kid']}{label}{'  (active)' if row['active'] else ''}")
