"""What the ``byom`` command prints on failure, and the exit codes scripts can rely on.

Exit codes (documented in docs/cli.md):

- 0: success;
- 1: the operation ran and failed: a provider error, a failed conformance check, a broken
  alias under ``models --check``, a tampered audit log;
- 2: bad input: command-line usage, or a request the SDK refused (``BadRequest``: a lone
  surrogate, NUL, an out-of-range parameter...);
- 3: configuration: byom.toml missing or invalid, an unknown alias, a provider that is not
  installed (``ConfigError``, ``PluginError``);
- 4: the trust policy refused the call (``PolicyViolation``);
- 5: an optional dependency is missing (``byom conformance`` without pytest);
- 130: interrupted.

With ``--json`` an error is one JSON object on stdout, ``{"error": {"type", "message",
"exit_code", ...}}``, with the error's own fields (``field``, ``alias``, ``provider``,
``status_code``, ``retryable``...).
"""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING_EXTRA",
    "EXIT_OK",
    "EXIT_POLICY",
    "MissingExtra",
    "echo_json",
    "error_payload",
    "exit_code_for",
    "one_line",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INPUT = 2
EXIT_CONFIG = 3
EXIT_POLICY = 4
EXIT_MISSING_EXTRA = 5
EXIT_INTERRUPTED = 130


class MissingExtra(click.ClickException):
    """An optional dependency is not installed; the message names the extra to install."""

    exit_code = EXIT_MISSING_EXTRA

    def __init__(self, message: str, *, extra: str, package: str) -> None:
        super().__init__(message)
        self.extra = extra
        self.package = package


def exit_code_for(error: BaseException) -> int:
    from .._errors import BadRequest, ConfigError, PluginError, PolicyViolation

    if isinstance(error, MissingExtra):
        return EXIT_MISSING_EXTRA
    if isinstance(error, (click.UsageError, click.BadParameter)):
        return EXIT_INPUT
    if isinstance(error, click.ClickException):
        return error.exit_code if error.exit_code not in (0, None) else EXIT_ERROR
    if isinstance(error, (KeyboardInterrupt, click.exceptions.Abort)):
        return EXIT_INTERRUPTED
    if isinstance(error, BadRequest):
        return EXIT_INPUT
    if isinstance(error, (ConfigError, PluginError)):
        return EXIT_CONFIG
    if isinstance(error, PolicyViolation):
        return EXIT_POLICY
    return EXIT_ERROR


def one_line(error: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        from .._config import describe_validation_error

        _field, message = describe_validation_error(error)
        return f"invalid input: {message}"
    if isinstance(error, click.ClickException):
        return error.format_message()
    if isinstance(error, (KeyboardInterrupt, click.exceptions.Abort)):
        return "interrupted"  # click's Abort says only "Abort", a KeyboardInterrupt nothing
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


_FIELDS = (
    "source",
    "alias",
    "field",
    "plugin",
    "rule",
    "model",
    "capability",
    "path",
    "provider",
    "status_code",
    "code",
    "retry_after",
    "extra",
    "package",
)


def error_payload(error: BaseException) -> dict[str, Any]:
    """``{"error": {...}}`` for ``error``: type, one-line message, exit code, its fields."""
    from .._errors import ByomError, ProviderError

    body: dict[str, Any] = {
        "type": type(error).__name__,
        "message": one_line(error),
        "exit_code": exit_code_for(error),
    }
    if isinstance(error, ByomError):
        body["retryable"] = error.retryable
    for name in _FIELDS:
        value = getattr(error, name, None)
        if isinstance(value, (str, int, float, bool)):
            body[name] = value
    if isinstance(error, ProviderError) and error.details.get("field"):
        body["field"] = error.details["field"]
    return {"error": body}


def echo_json(data: Any, *, indent: int | None = None) -> None:
    """One JSON document on stdout; non-ASCII text as is, unless it cannot be encoded
    (a lone surrogate from the command line), then escaped."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=indent)
    click.echo(text)
