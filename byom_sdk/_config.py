"""byom.toml loading: model aliases, ``${ENV}`` interpolation, and errors that name the
file, the alias and the field.

::

    [client]
    max_concurrency = 64          # threads serving async calls to sync-only providers

    [retry]                       # defaults for every model
    max_attempts = 3

    [trust]                       # the trust policy (see the trust guide)
    allowed_regions = ["eu-*"]

    [models.support-bot]
    provider = "sagemaker"        # which plugin builds it
    tokenizer = "tokenizers/llama"  # optional: real token counts and context checks
    endpoint_name = "support-bot-prod"
    region = "${AWS_REGION}"      # ${VAR} or ${VAR:-default}; $$ is a literal $
    retry = { max_attempts = 5 }  # per-model overrides
    trust = { allowed_regions = ["eu-west-1"] }

Keys other than ``provider``, ``tokenizer``, ``retry``, ``trust`` and ``description`` are
the provider's own and are validated by the provider's pydantic schema.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, ValidationInfo

from ._errors import ConfigError
from ._redact import remember_secret
from ._retry import RetryPolicy
from ._validation import describe_validation_error

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "CORE_MODEL_KEYS",
    "ConfigPath",
    "ModelEntry",
    "describe_validation_error",
    "interpolate",
    "load_config_file",
    "read_toml_file",
]

CORE_MODEL_KEYS = frozenset({"provider", "tokenizer", "retry", "trust", "description"})
#: ``$$``, a well-formed reference, or any other ``${`` (group 3), which is refused: left as
#: it was, a typo such as ``${AWS-REGION}`` would reach the provider as a literal value.
_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|(\$\{[^}]*\}?)")
#: the top-level tables of a byom.toml, each of which must be a table.
TOP_LEVEL_TABLES = ("models", "routes", "retry", "trust", "client", "serve")
#: a byom.toml or job file is a few KiB; a bigger file is a mistake (``-c model.gguf``), and
#: reading it whole would take as much memory as the file is large.
MAX_CONFIG_BYTES = 8 * 1024 * 1024


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("config_dir") if isinstance(info.context, Mapping) else None
    value = value.expanduser()
    if base is not None and not value.is_absolute():
        return Path(base) / value
    return value


#: A path field resolved against the folder of the byom.toml it came from.
ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]


class ModelEntry(BaseModel):
    """One model alias after validation of the core keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    alias: str
    provider: str
    description: str = ""
    tokenizer: dict[str, Any] | None = None
    retry: RetryPolicy | None = None
    trust: dict[str, Any] | None = None
    options: dict[str, Any] = {}


def interpolate(value: Any, *, source: str, alias: str | None, path: str) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of ``value``."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            if match.group(3) is not None:
                raise ConfigError(
                    f"'{match.group(3)}' is not a ${{VAR}} or ${{VAR:-default}} reference (names are letters, "
                    "digits and _; defaults hold no '${'); write $$ for a literal $",
                    source=source,
                    alias=alias,
                    field=path,
                )
            name, default = match.group(1), match.group(2)
            if default is not None and "${" in default:
                raise ConfigError(
                    f"the default of ${{{name}:-...}} cannot hold another reference; write $$ for a literal $",
                    source=source,
                    alias=alias,
                    field=path,
                )
            found = os.environ.get(name)
            if found:
                remember_secret(found, name)  # errors and reprs show ${NAME}, never the value
                return found
            if default is not None:
                return default  # as in the shell, ${VAR:-x} is x when VAR is unset or empty
            if found is not None:
                return found
            raise ConfigError(
                f"environment variable '{name}' is not set (use ${{{name}:-default}} for a default)",
                source=source,
                alias=alias,
                field=path,
            )

        return _ENV.sub(replace, value)
    if isinstance(value, Mapping):
        return {
            k: interpolate(v, source=source, alias=alias, path=f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate(v, source=source, alias=alias, path=f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def parse_model_entry(alias: str, raw: Mapping[str, Any], *, source: str) -> ModelEntry:
    """Split one ``[models.ALIAS]`` table into core keys and provider options."""
    if not isinstance(raw, Mapping):
        raise ConfigError("a model entry must be a table", source=source, alias=alias)
    data = interpolate(dict(raw), source=source, alias=alias, path="")
    provider = data.get("provider")
    if not isinstance(provider, str) or not provider:
        problem = "is required" if provider in (None, "") else f"must be a plugin name (a string), got {provider!r}"
        raise ConfigError(
            f"'provider' {problem} (e.g. provider = \"sagemaker\")", source=source, alias=alias, field="provider"
        )
    tokenizer = data.get("tokenizer")
    if isinstance(tokenizer, str):
        tokenizer = {"kind": "hf", "path": tokenizer}
    elif tokenizer is not None and not isinstance(tokenizer, Mapping):
        raise ConfigError("must be a path or a table", source=source, alias=alias, field="tokenizer")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(
            f"must be a string, not {_toml_type(description)}", source=source, alias=alias, field="description"
        )
    retry = data.get("retry")
    try:
        retry_policy = RetryPolicy.model_validate(retry) if retry is not None else None
    except ValidationError as exc:
        field, message = describe_validation_error(exc, prefix="retry")
        raise ConfigError(message, source=source, alias=alias, field=field) from None
    trust = data.get("trust")
    if trust is not None and not isinstance(trust, Mapping):
        raise ConfigError("must be a table", source=source, alias=alias, field="trust")
    return ModelEntry(
        alias=alias,
        provider=provider,
        description=description,
        tokenizer=dict(tokenizer) if tokenizer is not None else None,
        retry=retry_policy,
        trust=dict(trust) if trust is not None else None,
        options={k: v for k, v in data.items() if k not in CORE_MODEL_KEYS},
    )


def read_toml_file(path: str | Path, *, kind: str = "config file") -> dict[str, Any]:
    """A TOML file's tables; whatever is wrong with it is a ``ConfigError`` naming the file
    (``kind``: what the file is, for the message)."""
    path = _given_path(path, kind)
    try:
        if path.exists() and not path.is_file():
            # A FIFO would block and /dev/zero never end: only regular files are read.
            raise ConfigError(f"the {kind} path is not a regular file", source=str(path))
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"the {kind} is over {MAX_CONFIG_BYTES // (1024 * 1024)} MiB; is this the right file "
                "(a model file rather than its TOML)?",
                source=str(path),
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{kind} not found", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the {kind} is not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); TOML files are UTF-8",
            source=str(path),
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: a path holding a NUL
        raise ConfigError(f"cannot read {kind}: {getattr(exc, 'strerror', None) or exc}", source=str(path)) from None
    try:
        tables: dict[str, Any] = tomllib.loads(text.removeprefix("\ufeff"))  # a BOM some editors write
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=str(path)) from None
    except RecursionError:
        raise ConfigError("invalid TOML: arrays or tables nested too deeply", source=str(path)) from None
    try:
        not_finite = _first_non_finite(tables)
    except RecursionError:
        raise ConfigError("invalid TOML: arrays or tables nested too deeply", source=str(path)) from None
    if not_finite is not None:
        # TOML allows inf and nan; no setting takes them, and a timeout of inf reaches the
        # socket as an OverflowError at the first call.
        field, value = not_finite
        raise ConfigError(f"{value} is not a usable number here; give a finite value", source=str(path), field=field)
    return tables


def _given_path(path: str | Path, kind: str) -> Path:
    if not str(path):
        # Path("") is ".", which would be reported as a folder nobody named.
        raise ConfigError(f"the {kind} path is empty", source="''")
    return Path(path)


def _first_non_finite(value: Any, path: str = "") -> tuple[str, float] | None:
    """The dotted path and value of the first inf or nan in parsed TOML."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        items: Iterable[tuple[str, Any]] = (
            (f"{path}.{key}" if path else str(key), item) for key, item in value.items()
        )
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for where, item in items:
        found = _first_non_finite(item, where)
        if found is not None:
            return found
    return None


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a byom.toml; a missing file or TOML syntax error names the file."""
    path = _given_path(path, "config file")
    data = read_toml_file(path)
    unknown = sorted(set(data) - set(TOP_LEVEL_TABLES))
    if unknown:
        near = difflib.get_close_matches(unknown[0], TOP_LEVEL_TABLES, n=1, cutoff=0.6)
        hint = f"did you mean [{near[0]}]? " if near else ""
        if unknown[0] == "plugins":
            # Read by nothing: a [plugins] table would look like it selects plugins.
            hint = "plugins are chosen with BYOM_LOAD_PLUGINS / BYOM_DISABLED_PLUGINS, not in byom.toml; "
        raise ConfigError(
            f"{hint}unknown top-level table(s) {unknown}; expected {', '.join(TOP_LEVEL_TABLES)}",
            source=str(path),
            field=unknown[0],
        )
    for table in TOP_LEVEL_TABLES:
        value = data.get(table, {})
        if not isinstance(value, Mapping):
            what = {"models": "a table of aliases", "routes": "a table of route names"}.get(table, "a table")
            raise ConfigError(f"[{table}] must be {what}, not {_toml_type(value)}", source=str(path), field=table)
    for table in ("retry", "client"):
        # Only model, route and serve tables are interpolated; here "${X}" would reach the
        # setting as a string and fail as a wrong type, which hides the actual cause.
        where = _first_reference(data.get(table, {}), table)
        if where is not None:
            raise ConfigError(
                f"${{VAR}} is not expanded in [{table}]; write the value itself", source=str(path), field=where
            )
    return dict(data)


def _first_reference(value: Any, path: str) -> str | None:
    """The dotted path of the first string in ``value`` that holds a ``${`` reference."""
    if isinstance(value, str):
        return path if "${" in value.replace("$$", "") else None
    if isinstance(value, Mapping):
        pairs: Iterable[tuple[str, Any]] = ((f"{path}.{key}", item) for key, item in value.items())
    elif isinstance(value, list):
        pairs = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for where, item in pairs:
        found = _first_reference(item, where)
        if found is not None:
            return found
    return None


def _toml_type(value: Any) -> str:
    """What a parsed TOML value is, in TOML's words, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array"}
    if isinstance(value, Mapping):
        return "a table"
    return next((name for kind, name in names.items() if isinstance(value, kind)), type(value).__name__)
