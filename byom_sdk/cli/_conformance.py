"""``byom conformance ALIAS``: the conformance suite against a configured model, with the
fault scenarios, slow scenario and known limitations its plugin declares (its
``byom.conformance`` profile)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import click

from ._main import State
from ._output import EXIT_ERROR, EXIT_INTERRUPTED, MissingExtra, echo_json

__all__ = ["conformance_command"]


def _require_pytest() -> None:
    if importlib.util.find_spec("pytest") is None:
        raise MissingExtra(
            "the conformance suite needs pytest, which is not installed: "
            "pip install 'byom-sdk[conformance]' (or: uv pip install 'byom-sdk[conformance]')",
            extra="conformance",
            package="pytest",
        )


def _check_writable(path: Path) -> None:
    """Refuse a --report that cannot be written before the suite runs for minutes."""
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as the report writer does
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path}: {exc.strerror or exc}", param_hint="'--report'") from None
    if not existed:
        path.unlink(missing_ok=True)


@click.command("conformance")
@click.argument("alias")
@click.option(
    "--report",
    "report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON conformance report here.",
)
@click.option("--preview", is_flag=True, help="Also run checks in the preview group.")
@click.option(
    "--no-scenarios",
    is_flag=True,
    help="Ignore the plugin's declared scenarios (faults, slow endpoint) and known limitations.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (pytest's output goes to stderr).")
@click.pass_obj
def conformance_command(
    state: State, alias: str, report: Path | None, preview: bool, no_scenarios: bool, as_json: bool
) -> None:
    """Run the conformance suite against model ALIAS from byom.toml.

    Fault checks run against the scenarios the plugin declares in its conformance profile
    (entry-point group ``byom.conformance``), and its declared known limitations run as
    strict expected failures. Exits 1 when a check fails.
    """
    _require_pytest()
    if report is not None:
        _check_writable(report)
    from ..testing.conformance import conformance_profile, run_conformance
    from ._models import provider_config

    with state.client(alias) as client:
        client.provider_model(alias).close()  # fail fast, in one line, on a bad alias or config
        entry = client.entry(alias)
        profile = None
        if entry is not None and not no_scenarios:
            profile = conformance_profile(entry.provider, provider_config(client, alias, state.config))
        with tempfile.TemporaryDirectory(prefix="byom-conformance-") as tmp:
            path = report or (Path(tmp) / "report.json" if as_json else None)
            # Under --json, stdout carries only the report: pytest's progress goes to stderr.
            quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
            try:
                with quiet:
                    code = run_conformance(
                        lambda: client.provider_model(alias),
                        report_path=path,
                        preview=preview,
                        name=alias,
                        profile=profile,
                    )
            finally:
                if profile is not None:
                    profile.close()
            if as_json and path is not None:
                echo_json(json.loads(path.read_text(encoding="utf-8")), indent=2)
    if code != 0:  # pytest's own codes (2 interrupted, 3 internal, 4 usage) are not ours
        raise SystemExit(EXIT_INTERRUPTED if code == 2 else EXIT_ERROR)
