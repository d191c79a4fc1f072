"""How a batch worker gets its model: through a Client of its own, built from the job's
configuration, writing to an audit log of its own.

A worker (the local runner's event loop, each Ray actor, the staging driver of a cloud
runner) builds a ``Client`` from a :class:`WorkerSpec` — the model's table, the trust
policy with the model's overrides, the retry policy — so the residency gate, masking and
the audit run inside the worker, on the destination the worker itself would reach. Its
audit records go to ``<shard_dir>/<shard_id>.sqlite``, a chain of its own under the same
key as the main log; the driver merges the chains under one Merkle root when the job ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import load_config_file
from .._errors import ConfigError
from .._validation import no_model_named

if TYPE_CHECKING:
    from .._client import Client
    from .._provider import Provider

__all__ = ["WorkerSpec", "new_shard_id", "shard_audit_policy"]


def new_shard_id(prefix: str) -> str:
    """A shard id no other worker (nor a restarted incarnation of this one) takes."""
    return f"{prefix}-{secrets.token_hex(6)}"


def _escape(value: Any) -> Any:
    """Tables come back interpolated; the Client interpolates again, so a literal ``$``
    must stay one."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, Mapping):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def _unescape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, Mapping):
        return {k: _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` deep-merged over ``base`` (tables key by key, the rest replaced), the way
    a model's ``trust`` table merges over ``[trust]``."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _absolute(value: Any, base: Path) -> Any:
    if value in (None, ""):
        return value
    path = Path(str(value)).expanduser()
    return str(path if path.is_absolute() else base / path)


def shard_audit_policy(client: Client) -> dict[str, Any]:
    """``client``'s trust policy with its audit going to a SQLite shard log (the path is
    set per worker), under the same key settings as the main log."""
    policy = client.trust.policy
    data: dict[str, Any] = policy.model_dump(mode="json", exclude_unset=True)
    audit = policy.audit
    config: dict[str, Any] = {}
    if audit.sink == "sqlite":
        base = client.trust.base_dir
        config = {k: v for k, v in audit.config.items() if k in ("key_file", "keyring", "durable", "busy_timeout_ms")}
        for name in ("key_file", "keyring"):
            if name in config:
                config[name] = _absolute(config[name], base)
    for name in ("pseudonym_key_file",):
        masking = data.get("masking") or {}
        if masking.get(name):
            masking[name] = _absolute(masking[name], client.trust.base_dir)
            data["masking"] = masking
    data["audit"] = {
        **{k: v for k, v in data.get("audit", {}).items() if k in ("capture_content", "on_failure", "hmac_key_env")},
        "sink": "sqlite",
        "config": config,
    }
    return data


@dataclass
class WorkerSpec:
    """Everything a worker needs to build its Client (picklable: it travels to Ray actors).

    :param alias: the model (or route) every record goes to.
    :param models: alias → model table (``${VAR}`` already resolved and re-escaped).
    :param routes: route name → table, when ``alias`` is a route.
    :param policy: the trust policy as a mapping (its audit replaced per shard).
    :param shard_dir: the folder of this job's shard logs.
    """

    alias: str
    models: dict[str, Any]
    policy: dict[str, Any]
    shard_dir: str
    routes: dict[str, Any] = field(default_factory=dict)
    retry: dict[str, Any] | None = None
    source: str = "<batch worker>"
    config_dir: str | None = None
    max_concurrency: int = 64
    trust: str = "on"

    @classmethod
    def of(cls, client: Client, alias: str, shard_dir: Path, *, allow_instance: bool = False) -> WorkerSpec:
        """The spec of ``alias`` as ``client`` configures it.

        :param allow_instance: accept a model given as a provider instance (the worker then
            borrows it, in this process).
        :raises ConfigError: the alias was given as a provider instance (a worker in
            another process cannot rebuild it), or is a route of a Client not built from a
            byom.toml.
        """
        models: dict[str, Any] = {}
        routes: dict[str, Any] = {}
        if alias in client.routes:
            if not Path(client.source).is_file():
                raise ConfigError(
                    f"route '{alias}' runs in batch workers only from a byom.toml (Client.from_config)",
                    source=client.source,
                )
            from ..routing._build import route_aliases

            data = load_config_file(client.source)
            routes = {alias: data["routes"][alias]}
            wanted = route_aliases(alias, routes[alias], source=client.source)
            models = {name: data["models"][name] for name in wanted}
        else:
            entry = client.entry(alias)
            if entry is None and alias in client.aliases and not allow_instance:
                raise ConfigError(
                    f"model '{alias}' was given as an instance; workers in other processes rebuild models from "
                    "their config (give the model as a table, or use the local runner)",
                    source=client.source,
                )
            if entry is None and alias not in client.aliases:
                raise ConfigError(no_model_named(alias, client.aliases), source=client.source)
            if entry is not None:
                table: dict[str, Any] = {"provider": entry.provider, **_escape(entry.options)}
                if entry.description:
                    table["description"] = _escape(entry.description)
                if entry.tokenizer is not None:
                    table["tokenizer"] = _escape(entry.tokenizer)
                if entry.retry is not None:
                    table["retry"] = entry.retry.model_dump(mode="json")
                if entry.trust is not None:
                    table["trust"] = _escape(entry.trust)
                models = {alias: table}
        return cls(
            alias=alias,
            models=models,
            routes=routes,
            policy=shard_audit_policy(client),
            retry=client.retry.model_dump(mode="json"),
            shard_dir=str(shard_dir),
            source=client.source,
            config_dir=str(client._config_dir) if client._config_dir is not None else None,
            max_concurrency=client.executors.max_concurrency,
            trust="on" if client.trust.enabled else "off",
        )

    def shard_path(self, shard_id: str) -> Path:
        return Path(self.shard_dir) / f"{shard_id}.sqlite"

    def client(self, shard_id: str, *, instance: Provider | None = None, registry: Any = None) -> Client:
        """This worker's Client, its audit going to the shard log ``shard_id``.

        :param instance: serve ``alias`` from this provider (borrowed: the local runner
            with a model given as an instance).
        """
        from .._client import Client

        models: dict[str, Any] = {self.alias: instance} if instance is not None else dict(self.models)
        policy = dict(self.policy)
        table = self.models.get(self.alias) or {}
        if instance is not None and table.get("trust"):
            # An instance carries no table: the model's own trust overrides go into the policy.
            policy = _merge(policy, _unescape(table["trust"]))
        policy["audit"] = {**policy.get("audit", {}), "path": str(self.shard_path(shard_id))}
        return Client(
            models,
            policy=policy,
            retry=self.retry,
            trust="on" if self.trust == "on" else "off",
            registry=registry,
            source=self.source,
            config_dir=Path(self.config_dir) if self.config_dir else None,
            max_concurrency=self.max_concurrency,
            routes=self.routes or None,
        )
