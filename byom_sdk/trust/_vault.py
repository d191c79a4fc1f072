"""The placeholder vault: value ↔ placeholder maps scoped to one conversation.

A placeholder is ``<TYPE_hex>`` where ``hex`` is a keyed HMAC-SHA256 of the entity type
and the value under a random per-vault key, so it is

- deterministic within the vault (the same value gets the same placeholder in every
  message of a conversation, so the model can co-refer it and echo it back later),
- unguessable outside it (without the key, a placeholder says nothing about the value;
  the same value gets unrelated placeholders in two conversations),
- collision-free (on the rare clash of two values the hex part is extended),
- free of value fragments (a placeholder never shares a 4-character substring with its
  value outside the public type label).

Vaults live in memory only and expire ``ttl`` seconds after last use; a request without
a ``conversation_id`` gets a throwaway vault of its own. Vaults are keyed by tenant and
conversation, so one tenant's placeholder can never be restored in another's response.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["PLACEHOLDER_PATTERN", "Vault", "VaultStore"]

#: What a placeholder looks like (type in upper case, keyed digest in lower-case hex).
PLACEHOLDER_PATTERN = re.compile(r"<([A-Z][A-Z0-9_]{0,40})_([0-9a-f]{6,64})>")
_MIN_HEX = 6
_LABEL_GRAMS: dict[str, frozenset[str]] = {}
_IPAD = bytes(b ^ 0x36 for b in range(256))  # XOR tables for the HMAC pads
_OPAD = bytes(b ^ 0x5C for b in range(256))


def _shares_fragment(value: str, placeholder: str, label: str) -> bool:
    """True when a 4-char substring of ``value`` appears in ``placeholder`` other than
    inside its public type label."""
    if len(value) < 4:
        return False
    if "_" not in value and ">" not in value:
        # Then only a gram wholly inside the lower-case hex digest can be shared.
        digest = placeholder[len(label) : -1]
        for i in range(len(digest) - 3):  # noqa: SIM110 - on the hot path any(<generator>) costs twice this
            if digest[i : i + 4] in value:
                return True
        return False
    # Walk the placeholder's few 4-grams that reach past the label, rather than the
    # value's many: the same test.
    label_grams = _LABEL_GRAMS.get(label)
    if label_grams is None:
        label_grams = _LABEL_GRAMS[label] = frozenset(label[i : i + 4] for i in range(len(label) - 3))
    for i in range(max(0, len(label) - 3), len(placeholder) - 3):
        gram = placeholder[i : i + 4]
        if gram not in label_grams and gram in value:
            return True
    return False


class Vault:
    """One conversation's placeholders.

    :param key: HMAC key (random when omitted; never leaves the process).
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._pads: tuple[Any, Any] | None = None  # HMAC's keyed inner/outer SHA-256 states
        self._lock = threading.Lock()
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._sorted: list[str] = []
        self.longest = 0

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def placeholder(self, entity: str, value: str) -> str:
        """The placeholder for ``value`` of type ``entity``, created on first use."""
        found = self._by_value.get((entity, value))
        if found is not None:
            return found
        label = f"<{entity}_"
        with self._lock:
            found = self._by_value.get((entity, value))
            if found is not None:
                return found
            counter = 0
            while True:
                digest = self._hmac(f"{entity}\x00{value}\x00{counter}".encode())
                candidate = ""
                for length in range(_MIN_HEX, len(digest) + 1, 2):
                    candidate = f"{label}{digest[:length]}>"
                    if candidate not in self._by_placeholder:
                        break
                else:  # pragma: no cover - needs a full SHA-256 collision
                    counter += 1
                    continue
                if _shares_fragment(value, candidate, label):
                    counter += 1  # re-derive: never carry a piece of the value
                    continue
                break
            self._by_value[(entity, value)] = candidate
            self._by_placeholder[candidate] = value
            bisect.insort(self._sorted, candidate)
            self.longest = max(self.longest, len(candidate))
            return candidate

    def _hmac(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under the vault key (RFC 2104, hex): the keyed
        inner and outer states are computed once and copied, which costs a third of
        ``hmac.digest`` per call."""
        if self._pads is None:
            key = self._key if len(self._key) <= 64 else hashlib.sha256(self._key).digest()
            key = key.ljust(64, b"\x00")
            self._pads = (hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD)))
        inner = self._pads[0].copy()
        inner.update(message)
        outer = self._pads[1].copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def value(self, placeholder: str) -> str | None:
        """The value behind ``placeholder``, or ``None`` if this vault did not issue it."""
        return self._by_placeholder.get(placeholder)

    def could_start(self, tail: str) -> bool:
        """True when ``tail`` is a proper prefix of a placeholder in this vault (used by
        the stream de-masker to hold back no more than it must)."""
        index = bisect.bisect_left(self._sorted, tail)
        return index < len(self._sorted) and self._sorted[index].startswith(tail)


class VaultStore:
    """Vaults by (tenant, conversation), expiring ``ttl`` seconds after last use.

    :param ttl: seconds of inactivity before a vault is dropped.
    :param max_conversations: vaults kept at most; the least recently used go first.
    :param clock: monotonic clock (tests drive it).
    """

    def __init__(
        self,
        *,
        ttl: float = 3600.0,
        max_conversations: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_conversations = max_conversations
        self._clock = clock
        self._lock = threading.Lock()
        self._vaults: OrderedDict[tuple[str, str], tuple[Vault, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._vaults)

    def get(self, tenant: str | None, conversation_id: str | None) -> Vault:
        """The conversation's vault (created on first use); a fresh one when there is no
        conversation id."""
        if conversation_id is None:
            return Vault()
        key = (tenant or "", conversation_id)
        now = self._clock()
        with self._lock:
            self._expire(now)
            entry = self._vaults.get(key)
            vault = entry[0] if entry is not None else Vault()
            self._vaults[key] = (vault, now)
            self._vaults.move_to_end(key)
            while len(self._vaults) > self.max_conversations:
                self._vaults.popitem(last=False)
            return vault

    def _expire(self, now: float) -> None:
        # Entries are in last-use order, so expired ones sit at the front.
        while self._vaults:
            key, (_, used) = next(iter(self._vaults.items()))
            if now - used < self.ttl:
                break
            del self._vaults[key]

    def clear(self) -> None:
        with self._lock:
            self._vaults.clear()
