"""``byom audit verify`` and ``byom audit show`` (registered through ``byom_cli_commands``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ._audit import read_audit, verify_audit

__all__ = ["audit"]

_DEFAULT = "byom-audit.sqlite"


@click.group()
def audit() -> None:
    """Inspect and verify the trust layer's audit log."""


@audit.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=_DEFAULT)
@click.option("--key-env", default="BYOM_AUDIT_KEY", show_default=True, help="Env var holding the MAC key.")
@click.option("--no-head", is_flag=True, help="Do not compare with the .head checkpoint file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(path: Path, key_env: str, no_head: bool, as_json: bool) -> None:
    """Verify the hash chain (and MACs, and the head checkpoint) of PATH.

    Exits 0 when the log is intact, 1 at the first bad record (its sequence number is
    printed), 2 when the file cannot be read.
    """
    try:
        result = verify_audit(path, key_env=key_env, check_head=not no_head)
    except (FileNotFoundError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - a corrupt database is a verification failure.
        click.echo(f"error: cannot read {path}: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "records": result.records,
                    "first_bad_seq": result.first_bad_seq,
                    "reason": result.reason,
                    "macs_checked": result.macs_checked,
                    "head_checked": result.head_checked,
                    "warnings": result.warnings,
                }
            )
        )
    else:
        click.echo(f"{path}: {result.describe()}")
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    sys.exit(0 if result.ok else 1)


@audit.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=_DEFAULT)
@click.option("--limit", type=int, default=20, show_default=True, help="Newest N records (0 for all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line.")
def show(path: Path, limit: int, as_json: bool) -> None:
    """List the newest records of PATH."""
    try:
        entries = list(read_audit(path, limit=limit or None))
    except (FileNotFoundError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.as_dict(), ensure_ascii=False))
        return
    click.echo(f"{'seq':>6}  {'time':<29} {'model':<16} {'provider':<10} {'outcome':<8} {'ms':>8}  entities / rule")
    for entry in entries:
        record = entry.record
        entities = ",".join(f"{k}={v}" for k, v in (record.get("entities") or {}).items())
        detail = record.get("rule") or entities or "-"
        if record.get("trust") == "off":
            detail = f"TRUST OFF {detail}"
        click.echo(
            f"{entry.seq:>6}  {record.get('time', ''):<29} {str(record.get('model', ''))[:16]:<16} "
            f"{str(record.get('provider', ''))[:10]:<10} {record.get('outcome', ''):<8} "
            f"{record.get('latency_ms', 0):>8.1f}  {detail}"
        )
