"""The trust runtime: the trust state one Client shares across its models, and the trust
steps it builds for each model.

Shared: the validated policy, the detectors and scorers (built once), the placeholder
vaults, the audit sink (opened and checked when the Client is built, so an unwritable
store is found before any prompt is sent) and the audit key. Per model, the runtime
builds the trust steps of its pipeline — telemetry, audit, gate (outside the plugin
middleware) and scoring, masking (inside it) — each a middleware in its own module.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._errors import AuditError, ByomError, ConfigError, PluginError
from .._validation import describe_validation_error
from ._audit import AuditEntry, AuditSink, SqliteAuditSink, SqliteSinkConfig, canonical_json
from ._audit_keys import AuditKeyring, content_key
from ._detectors import BuiltinDetector, Detector
from ._masking import Masker
from ._policy import MaskingPolicy, TrustPolicy, merge_policy, validate_policy
from ._record import TrustSettings
from ._scoring import Scorer
from ._step_audit import AuditStep
from ._step_gate import GateStep
from ._step_mask import MaskStep
from ._step_score import ScoreStep
from ._step_telemetry import TelemetryStep
from ._vault import Pseudonymizer, VaultStore

if TYPE_CHECKING:
    from .._middleware import Middleware
    from .._plugins import Registry

__all__ = ["TrustRuntime", "TrustSteps"]


@dataclass(frozen=True)
class TrustSteps:
    """One model's trust steps, by where they go in its pipeline: ``outer`` (telemetry,
    audit, gate) outside the plugin middleware, then ``scoring``, then — innermost, so it
    sees exactly what leaves — ``masking``."""

    outer: tuple[Middleware, ...]
    scoring: Middleware
    masking: Middleware


log = logging.getLogger("byom_sdk.trust")

_SIMPLE_KEYS = frozenset({"prompt", "text"})


class TrustRuntime:
    """Shared trust state of one Client: policy, detectors, vaults, audit sink, key.

    Build it with :meth:`create`; the Client asks it for each model's trust steps.
    """

    def __init__(
        self,
        policy: TrustPolicy,
        *,
        registry: Registry,
        enabled: bool,
        source: str,
        base_dir: Path,
        sink: AuditSink | None = None,
    ) -> None:
        self.policy = policy
        self.enabled = enabled
        self.source = source
        self.registry = registry
        self.base_dir = base_dir
        self.vaults = VaultStore(ttl=policy.vault.ttl, max_conversations=policy.vault.max_conversations)
        # Until the sink is opened (which reads its own key configuration), the key is the
        # environment's; without one, a random per-process key (hashes then correlate
        # records within this process only).
        self._use_keys(AuditKeyring.from_env(policy.audit.hmac_key_env))
        self._lock = threading.Lock()
        self._detectors: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], Detector] = {}
        self._scorers: dict[str, Scorer] = {}
        self._sink = sink
        self._closed = False
        self._pseudonymizers: dict[tuple[str | None, str | None, int], Pseudonymizer] = {}

    def _use_keys(self, keys: AuditKeyring) -> None:
        active = keys.active
        if active is None:
            self.key_id = "ephemeral:" + secrets.token_hex(6)
            self._content_key = secrets.token_bytes(32)
        else:
            # The key id is derived from the key without revealing it, and content hashes use
            # a key derived for that purpose only (never the record-MAC key itself).
            self.key_id, key = active
            self._content_key = content_key(key)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        policy: TrustPolicy | Mapping[str, Any] | None,
        *,
        registry: Registry,
        enabled: bool,
        source: str,
        sink: AuditSink | None = None,
    ) -> TrustRuntime:
        """Validate the ``[trust]`` table and build the runtime.

        :param source: the byom.toml path (relative audit paths resolve against its
            folder) or a label for inline configuration (they resolve against the
            working directory).
        :param sink: use this sink instead of the configured one (tests, embedding).
        """
        validated = validate_policy(policy, source=source)
        source_path = Path(source)
        base_dir = source_path.resolve().parent if source_path.is_file() else Path.cwd()
        runtime = cls(validated, registry=registry, enabled=enabled, source=source, base_dir=base_dir, sink=sink)
        runtime._check_names(validated, alias=None)
        if sink is None:
            registry.load()
            if validated.audit.sink not in registry.audit_sinks:
                known = ", ".join(sorted(registry.audit_sinks)) or "none"
                raise ConfigError(
                    f"no audit sink named '{validated.audit.sink}' (known: {known})",
                    source=source,
                    field="trust.audit.sink",
                )
        return runtime

    def _check_names(self, policy: TrustPolicy, *, alias: str | None) -> None:
        self.registry.load()
        for field, names, kind in (
            ("trust.masking.detectors", policy.masking.detectors, "pii"),
            ("trust.scoring.scorers", policy.scoring.scorers, "score"),
        ):
            for name in names:
                spec = self.registry.detectors.get(name)
                if spec is None or kind not in spec.kinds:
                    known = sorted(n for n, s in self.registry.detectors.items() if kind in s.kinds)
                    raise ConfigError(
                        f"no {kind} detector named '{name}' (known: {', '.join(known) or 'none'})",
                        source=self.source,
                        alias=alias,
                        field=field,
                    )

    def _check_entities(
        self,
        entities: Sequence[str] | None,
        thresholds: Mapping[str, float],
        detectors: Sequence[Detector],
        *,
        alias: str | None,
    ) -> None:
        """Entity names no configured detector reports are a typo that would turn masking
        off for that type ("EMAL", Presidio's "EMAIL_ADDRESS" for the built-in "EMAIL"):
        refused, naming the field. Skipped when a detector does not say what it reports
        (its optional ``reported_entities``: the names its spans carry)."""
        known: set[str] = set()
        for found in detectors:
            reported = getattr(found, "reported_entities", None)
            if not isinstance(reported, (tuple, list, frozenset, set)):
                return
            known.update(str(name) for name in reported)
        for field, names in (("trust.masking.entities", entities or ()), ("trust.masking.thresholds", thresholds)):
            for name in names:
                if name not in known:
                    import difflib

                    close = difflib.get_close_matches(name, known, n=1)
                    hint = f"did you mean '{close[0]}'? " if close else ""
                    raise ConfigError(
                        f"no configured detector reports entity '{name}': {hint}"
                        f"(known: {', '.join(sorted(known))}); a misspelt entity would leave its type unmasked",
                        source=self.source,
                        alias=alias,
                        field=field,
                    )

    def detector(self, name: str, context_words: Mapping[str, Sequence[str]] | None = None) -> Detector:
        """The PII detector ``name`` (built once per Client and context-word set)."""
        words = tuple(sorted((k, tuple(v)) for k, v in (context_words or {}).items()))
        key = (name, words if name == "builtin" else ())
        with self._lock:
            found = self._detectors.get(key)
            if found is None:
                found = BuiltinDetector(context_words=dict(words)) if name == "builtin" and words else self._build(name)
                self._detectors[key] = found
            return found

    def scorer(self, name: str) -> Scorer:
        with self._lock:
            found = self._scorers.get(name)
            if found is None:
                found = self._build(name)
                self._scorers[name] = found
            return found

    def _build(self, name: str) -> Any:
        spec = self.registry.detectors[name]
        try:
            return spec.factory()
        except ByomError:
            raise
        except Exception as exc:
            raise PluginError(f"detector '{name}' failed to build: {type(exc).__name__}: {exc}", plugin=name) from exc

    @property
    def sink(self) -> AuditSink:
        """The audit sink (opened and checked on first use; the Client opens it at build)."""
        with self._lock:
            if self._closed:
                raise AuditError("the trust runtime is closed (its Client was closed)")
            if self._sink is None:
                self._sink = self._open_sink()
            return self._sink

    def open(self) -> None:
        """Open the audit sink now and check it can be written (and that its key matches),
        so a broken store is found before any prompt is sent. With ``on_failure = "warn"``
        a store that cannot be opened is logged and each call's record is retried."""
        try:
            _ = self.sink
        except Exception as exc:
            if isinstance(exc, (AuditError, ConfigError, PluginError)):
                error: ByomError = exc
            else:
                error = AuditError(
                    f"the audit store cannot be opened: {type(exc).__name__}: {exc}", path=self.policy.audit.path
                )
            if self.policy.audit.on_failure in ("warn", "log") and not isinstance(error, ConfigError):
                log.error("%s (trust.audit.on_failure = 'warn': calls proceed unaudited)", error.message)
                return
            if error is exc:
                raise
            raise error from exc

    def append(self, record: Mapping[str, Any]) -> AuditEntry:
        """Append one record to the audit sink."""
        sink = self._sink  # opened at build: no lock on the per-call path
        if sink is None or self._closed:
            sink = self.sink
        return sink.append(record)

    def _open_sink(self) -> AuditSink:
        audit = self.policy.audit
        spec = self.registry.audit_sink(audit.sink)
        path = Path(audit.path).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        options: dict[str, Any] = dict(audit.config)
        if spec.factory is SqliteAuditSink.from_config or spec.config_schema is SqliteSinkConfig:
            options = {"path": path, "hmac_key_env": audit.hmac_key_env, **options}
            for name in ("key_file", "keyring"):  # relative to the byom.toml folder, like path
                if options.get(name):
                    given = Path(str(options[name])).expanduser()
                    options[name] = given if given.is_absolute() else self.base_dir / given
        try:
            config = spec.config_schema.model_validate(options)
        except ValidationError as exc:
            field, message = describe_validation_error(exc, prefix="trust.audit.config")
            raise ConfigError(message, source=self.source, field=field) from None
        try:
            sink: AuditSink = spec.factory(config)
            opener = getattr(sink, "open", None)
            if opener is not None:  # sinks written for API 1 have no open()
                opener()
            keys = getattr(sink, "keys", None)
            if isinstance(keys, AuditKeyring):
                self._use_keys(keys)
        except ByomError:
            raise
        except Exception as exc:
            raise AuditError(
                f"audit sink '{audit.sink}' failed to open {path}: {type(exc).__name__}: {exc}", path=str(path)
            ) from exc
        return sink

    def pseudonymizer(self, masking: MaskingPolicy) -> Pseudonymizer:
        """The keyed pseudonymizer of ``masking`` (mode ``pseudonym``), loaded once.

        :raises ConfigError: no key, or one shorter than 16 bytes: a random key would give
            every process its own pseudonyms, which is what the mode exists to avoid.
        """
        settings = (masking.pseudonym_key_env, masking.pseudonym_key_file, masking.pseudonym_bits)
        found = self._pseudonymizers.get(settings)
        if found is not None:
            return found
        env, file, bits = settings
        field = "trust.masking.pseudonym_key_file" if file else "trust.masking.pseudonym_key_env"
        if file:
            path = Path(file).expanduser()
            path = path if path.is_absolute() else self.base_dir / path
            try:
                key = path.read_text(encoding="utf-8").strip().encode()
            except OSError as exc:
                raise ConfigError(
                    f"pseudonym key file {path} cannot be read: {exc.strerror or exc}", source=self.source, field=field
                ) from None
        else:
            key = os.environ.get(env or "", "").encode()
            if not key:
                raise ConfigError(
                    f"masking mode 'pseudonym' needs a key: set {env or 'pseudonym_key_env'} (or pseudonym_key_file)",
                    source=self.source,
                    field=field,
                )
        try:
            found = Pseudonymizer(key, bits=bits)
        except ValueError as exc:
            raise ConfigError(f"pseudonym key: {exc}", source=self.source, field=field) from None
        with self._lock:
            return self._pseudonymizers.setdefault(settings, found)

    def content_hmac(self, value: Any) -> str:
        """Keyed hash of content (so records can be matched without storing it)."""
        if isinstance(value, str):
            data = value
        elif isinstance(value, dict) and set(value) <= _SIMPLE_KEYS and all(isinstance(v, str) for v in value.values()):
            # The common plain-prompt / plain-text shape: no JSON encoder on the hot path.
            data = "\x1f".join(f"{k}\x1e{value[k]}" for k in sorted(value))
        else:
            data = canonical_json(value)
        return hmac.new(self._content_key, data.encode(), hashlib.sha256).hexdigest()

    def steps_for(self, alias: str, *, override: Mapping[str, Any] | None = None) -> TrustSteps:
        """The trust steps of one model (``override``: its ``trust = {...}`` table, merged
        over the policy)."""
        policy = merge_policy(self.policy, override, source=self.source, alias=alias)
        if override:
            self._check_names(policy, alias=alias)
        settings = TrustSettings(self, alias, policy)
        masking = policy.masking
        if self.enabled and masking.enabled and masking.mode == "pseudonym":
            self.pseudonymizer(masking)  # a missing key fails when the model is built
        detectors = [self.detector(name, masking.context_words) for name in masking.detectors]
        self._check_entities(masking.entities, masking.thresholds, detectors, alias=alias)
        masker = Masker(
            detectors,
            entities=masking.entities,
            thresholds=masking.thresholds,
            default_threshold=masking.default_threshold,
            mode=masking.mode,
        )
        scorers = [self.scorer(name) for name in policy.scoring.scorers] if policy.scoring.enabled else []
        return TrustSteps(
            outer=(TelemetryStep(settings, masker), AuditStep(settings), GateStep(settings)),
            scoring=ScoreStep(settings, scorers),
            masking=MaskStep(settings, masker),
        )

    def close(self) -> None:
        """Close the audit sink and drop every vault (placeholders can no longer be
        restored)."""
        with self._lock:
            self._closed = True
            sink, self._sink = self._sink, None
        self.vaults.clear()
        if sink is not None:
            sink.close()
