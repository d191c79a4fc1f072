"""Audit keys: where they come from, their ids, and the keyring used to rotate them.

A key is the UTF-8 text of an environment variable, of a key file (one line), or of an entry
in a keyring file. Its id is ``HMAC(key, "byom-audit/v2/key-id")[:8 bytes]`` in hex, so the
id can be printed and stored without telling anything about the key.

A keyring is a JSON or TOML file::

    active = "2027-01"            # the label of the key new records are MACed with
    [keys]
    "2026-06" = "the old secret"  # labels are free text; ids are derived from the secrets
    "2027-01" = "the new secret"

Writers MAC with the active key and, holding the log's current key too, rotate to it;
verifiers look each record's key up by id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._errors import AuditError
from ._audit_format import NO_KEY, DuplicateKey, key_id, unique_keys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["MIN_KEY_BYTES", "AuditKeyring", "content_key", "key_from_env", "load_key_file", "load_keyring"]

#: Shorter keys are refused: an audit key is a secret, not a password.
MIN_KEY_BYTES = 16


def key_from_env(name: str | None) -> bytes | None:
    """The audit key from environment variable ``name`` (``None`` when unset or empty)."""
    if not name:
        return None
    value = os.environ.get(name)
    return value.encode() if value else None


def content_key(key: bytes) -> bytes:
    """The key for content HMACs (prompt/response hashes) derived from an audit key, so the
    record-MAC key itself is used for nothing else."""
    return hmac.new(key, b"byom-audit/v2/content-key", hashlib.sha256).digest()


def _key_bytes(text: str, where: str, *, path: str | None) -> bytes:
    secret = text.strip()
    if not secret:
        raise AuditError(f"{where} is empty", path=path)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in secret):
        raise AuditError(f"{where} holds more than one line or control characters (one key, one line)", path=path)
    key = secret.encode()
    if len(key) < MIN_KEY_BYTES:
        raise AuditError(f"{where} is {len(key)} bytes long: an audit key needs at least {MIN_KEY_BYTES}", path=path)
    return key


class AuditKeyring:
    """Audit keys by key id, and the active one (``None``: records are written without MAC).

    :param keys: key id -> key.
    :param active: the active key's id.
    :param source: where the keys came from, for messages (``"environment variable X"``).
    :param env: the environment variable writers are told to set when no key is found.
    :param path: the key or keyring file, when there is one.
    """

    def __init__(
        self,
        keys: Mapping[str, bytes] | None = None,
        *,
        active: str | None = None,
        source: str = "no audit key",
        env: str | None = None,
        path: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self._keys = dict(keys or {})
        if active is not None and active not in self._keys:
            raise ValueError("the active key id is not in the keyring")
        self.active_kid: str | None = active
        self.source = source
        self.env = env
        self.path = path
        self.labels = dict(labels or {})

    @classmethod
    def from_key(cls, key: bytes | str, *, source: str = "the given key") -> AuditKeyring:
        raw = key.encode() if isinstance(key, str) else bytes(key)
        if not raw:
            return cls(source=source)
        kid = key_id(raw)
        return cls({kid: raw}, active=kid, source=source)

    @classmethod
    def from_env(cls, name: str | None) -> AuditKeyring:
        """The key in environment variable ``name`` (empty keyring when unset)."""
        if not name:
            return cls(source="no audit key (hmac_key_env is unset)")
        source = f"environment variable {name}"
        value = os.environ.get(name)
        if not value:
            return cls(source=source, env=name)
        key = _key_bytes(value, source, path=None)
        kid = key_id(key)
        return cls({kid: key}, active=kid, source=source, env=name)

    @classmethod
    def from_settings(
        cls,
        *,
        env: str | None = None,
        key_file: str | Path | None = None,
        keyring: str | Path | None = None,
    ) -> AuditKeyring:
        """The keys a writer or verifier is configured with: ``keyring``, else ``key_file``,
        else the environment variable ``env``."""
        if keyring is not None and key_file is not None:
            raise AuditError(
                f"both a key file ({key_file}) and a keyring ({keyring}) are configured: use one", path=str(keyring)
            )
        if keyring is not None:
            found = load_keyring(keyring)
        elif key_file is not None:
            found = load_key_file(key_file)
        else:
            return cls.from_env(env)
        found.env = env
        return found

    @classmethod
    def from_config(cls, config: Any) -> AuditKeyring:
        """The keys of a sink config (``hmac_key_env``, ``key_file``, ``keyring``)."""
        return cls.from_settings(
            env=getattr(config, "hmac_key_env", None),
            key_file=getattr(config, "key_file", None),
            keyring=getattr(config, "keyring", None),
        )

    @property
    def active(self) -> tuple[str, bytes] | None:
        """``(key id, key)`` new records are MACed with, or ``None``."""
        if self.active_kid is None:
            return None
        return self.active_kid, self._keys[self.active_kid]

    @property
    def active_or_none(self) -> str:
        return self.active_kid or NO_KEY

    def get(self, kid: str) -> bytes | None:
        return self._keys.get(kid)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def label(self, kid: str) -> str:
        name = self.labels.get(kid)
        return f"{kid} ({name})" if name else kid

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __repr__(self) -> str:  # never the keys themselves
        return f"AuditKeyring(kids={list(self._keys)}, active={self.active_kid!r}, source={self.source!r})"


def _read_text(path: Path, what: str) -> str:
    # utf-8-sig: an editor's byte order mark is no part of the key. Read as text it would
    # be (str.strip keeps it), giving the file another key id than the same key in the
    # environment, and a keyring with one would be taken for TOML.
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise AuditError(f"{what} {path} is not UTF-8 text", path=str(path)) from None
    except OSError as exc:
        raise AuditError(f"{what} {path} cannot be read: {exc.strerror or exc}", path=str(path)) from None


def load_key_file(path: str | Path) -> AuditKeyring:
    """A key file: the key's text on one line (surrounding whitespace ignored)."""
    path = Path(path)
    text = _read_text(path, "audit key file")
    if text.lstrip().startswith(("{", "[")) or "\n" in text.strip():
        raise AuditError(
            f"audit key file {path} holds more than one line: a key file holds one key "
            "(is it a keyring? pass it as the keyring)",
            path=str(path),
        )
    key = _key_bytes(text, f"audit key file {path}", path=str(path))
    kid = key_id(key)
    return AuditKeyring({kid: key}, active=kid, source=f"key file {path}", path=str(path))


def _parse_keyring(text: str, path: Path) -> Any:
    as_json = path.suffix.lower() == ".json" or (path.suffix.lower() != ".toml" and text.lstrip().startswith("{"))
    try:
        return json.loads(text, object_pairs_hook=unique_keys) if as_json else tomllib.loads(text)
    except DuplicateKey as dup:
        # json.loads keeps the last of two equal names, other tools the first: which
        # secret is "active" (or behind a label) must not depend on the reader.
        raise AuditError(f"audit keyring {path} names {dup} twice", path=str(path)) from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if as_json else "TOML"
        raise AuditError(f"audit keyring {path} is not valid {kind}: {exc}", path=str(path)) from None


def load_keyring(path: str | Path) -> AuditKeyring:
    """A keyring file (JSON, or TOML): ``{"active": LABEL, "keys": {LABEL: SECRET, ...}}``."""
    path = Path(path)
    data = _parse_keyring(_read_text(path, "audit keyring"), path)

    def bad(message: str) -> AuditError:
        return AuditError(f"audit keyring {path}: {message}", path=str(path))

    if not isinstance(data, dict):
        raise bad('expected a table with "active" and "keys"')
    unknown = sorted(set(data) - {"active", "keys"})
    if unknown:
        raise bad(f'unknown field(s) {", ".join(unknown)} (expected "active" and "keys")')
    entries = data.get("keys")
    if not isinstance(entries, dict) or not entries:
        raise bad('"keys" must be a non-empty table of label = "secret"')
    active = data.get("active")
    if not isinstance(active, str) or active not in entries:
        raise bad(f'"active" must name one of the keys ({", ".join(map(str, entries))})')
    keys: dict[str, bytes] = {}
    labels: dict[str, str] = {}
    for label, secret in entries.items():
        if not isinstance(secret, str):
            raise bad(f"key {label!r} is not a string")
        key = _key_bytes(secret, f"audit keyring {path}, key {label!r}", path=str(path))
        kid = key_id(key)
        if kid in keys:
            raise bad(f"keys {labels[kid]!r} and {label!r} are the same secret")
        keys[kid] = key
        labels[kid] = label
    active_kid = next(kid for kid, label in labels.items() if label == active)
    return AuditKeyring(keys, active=active_kid, source=f"keyring {path}", path=str(path), labels=labels)
