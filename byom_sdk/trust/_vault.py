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

Keyed pseudonyms (``masking.mode = "pseudonym"``, :class:`Pseudonymizer`) drop the random
per-vault key for one configured key: ``<TYPE_hex>`` with ``hex`` a truncated
``HMAC(K, tenant ‖ type ‖ normalize(value))``, so every process holding K issues the same
placeholder for a value, and batch workers need no shared vault. Each call still gets a
vault of its own (a :class:`PseudonymVault`) holding just its values: HMAC is one-way, so
that map is what restores the answer.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
import secrets
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["PLACEHOLDER_PATTERN", "PseudonymVault", "Pseudonymizer", "Vault", "VaultStore", "normalize_value"]

#: What a placeholder looks like (type in upper case, keyed digest in lower-case hex).
PLACEHOLDER_PATTERN = re.compile(r"<([A-Z][A-Z0-9_]{0,40})_([0-9a-f]{6,64})>")
#: characters a JSON string literal cannot hold as they are (a PEM key's newlines, a quote).
_JSON_UNSAFE = re.compile(r'["\\\x00-\x1f]')
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
        if len(digest) == _MIN_HEX:  # the usual placeholder: its three grams, unrolled
            return digest[:4] in value or digest[1:5] in value or digest[2:] in value
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
        #: how many values need escaping inside a JSON string: while there are none, an
        #: answer is restored without looking for JSON around its placeholders.
        self.json_unsafe = 0

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def placeholder(self, entity: str, value: str) -> str:
        """The placeholder for ``value`` of type ``entity``, created on first use."""
        key = (entity, value)
        found = self._by_value.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._by_value.get(key)
            if found is not None:
                return found
            label = f"<{entity}_"
            taken = self._by_placeholder
            counter = 0
            while True:
                digest = self._hmac(f"{entity}\x00{value}\x00{counter}".encode())
                candidate = f"{label}{digest[:_MIN_HEX]}>"
                if candidate in taken:  # a clash: the hex part is extended
                    for length in range(_MIN_HEX + 2, len(digest) + 1, 2):
                        candidate = f"{label}{digest[:length]}>"
                        if candidate not in taken:
                            break
                    else:  # pragma: no cover - needs a full SHA-256 collision
                        counter += 1
                        continue
                elif len(value) < 4 or (
                    # _shares_fragment's usual case inline: no "_" or ">" in the value, so
                    # only the three 4-grams of the 6-digit hex can be shared.
                    "_" not in value
                    and ">" not in value
                    and not (digest[:4] in value or digest[1:5] in value or digest[2:6] in value)
                ):
                    break
                if _shares_fragment(value, candidate, label):
                    counter += 1  # re-derive: never carry a piece of the value
                    continue
                break
            self._by_value[key] = candidate
            taken[candidate] = value
            if _JSON_UNSAFE.search(value):
                self.json_unsafe += 1
            bisect.insort(self._sorted, candidate)
            if len(candidate) > self.longest:
                self.longest = len(candidate)
            return candidate

    def _hmac(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under the vault key (RFC 2104, hex): the keyed
        inner and outer states are computed once and copied, which costs a third of
        ``hmac.digest`` per call."""
        pads = self._pads
        if pads is None:
            key = self._key if len(self._key) <= 64 else hashlib.sha256(self._key).digest()
            key = key.ljust(64, b"\x00")
            pads = self._pads = (hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD)))
        inner = pads[0].copy()
        inner.update(message)
        outer = pads[1].copy()
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


# -- keyed pseudonyms ----------------------------------------------------------------------------

#: entity types whose spacing and punctuation are formatting, not identity: "DE89 3704 …" and
#: "DE893704…" are one IBAN, and must get one pseudonym in every shard.
_DIGIT_IDS = frozenset(
    {"PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "DE_TAX_ID", "FR_NIR", "UK_NINO", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE"}
)
_SEPARATORS = re.compile(r"[\s.\-/()]+")
_PSEUDONYM_DOMAIN = b"byom-pseudonym/v1"


def normalize_value(entity: str, value: str) -> str:
    """The form of a value that is pseudonymised: NFKC, surrounding space dropped; e-mail
    addresses case-folded; the separators of numbers and national ids removed."""
    text = unicodedata.normalize("NFKC", value).strip()
    if entity == "EMAIL":
        return text.casefold()
    if entity in _DIGIT_IDS:
        return _SEPARATORS.sub("", text).upper()
    return text


class Pseudonymizer:
    """Deterministic keyed placeholders shared by every process that holds the key.

    :param key: the pseudonym key (at least 16 bytes; RFC 2104 / FIPS 198-1). Only a key
        derived from it for this purpose keys the HMAC.
    :param bits: digest bits kept (48-256, a multiple of 8). Collisions are what limits
        it: about n²/2^(bits+1) among n distinct values (64 bits: 2.7e-10 at 100,000).
    """

    def __init__(self, key: bytes, *, bits: int = 64) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key needs at least 16 bytes")
        if bits % 8 or not 48 <= bits <= 256:
            raise ValueError("bits must be a multiple of 8 between 48 and 256")
        self.hex_chars = bits // 4
        derived = hmac.new(key, _PSEUDONYM_DOMAIN, hashlib.sha256).digest()
        self._vault_key = derived
        # The keyed inner and outer SHA-256 states, copied per value (see Vault._hmac).
        padded = derived.ljust(64, b"\x00")
        self._pads = (hashlib.sha256(padded.translate(_IPAD)), hashlib.sha256(padded.translate(_OPAD)))

    def digest(self, tenant: str, entity: str, value: str, counter: int = 0) -> str:
        """Hex HMAC of the tenant, the type and the normalised value (``counter`` > 0 only
        when a placeholder would carry a fragment of its value)."""
        message = f"{tenant}\x00{entity}\x00{normalize_value(entity, value)}\x00{counter}".encode()
        inner = self._pads[0].copy()
        inner.update(message)
        outer = self._pads[1].copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def placeholder(self, tenant: str, entity: str, value: str) -> str:
        """The placeholder every holder of the key issues for this value and tenant."""
        label = f"<{entity}_"
        counter = 0
        while True:
            candidate = f"{label}{self.digest(tenant, entity, value, counter)[: self.hex_chars]}>"
            if not _shares_fragment(value, candidate, label):
                return candidate
            counter += 1  # deterministic too: it depends on the value alone

    def vault(self, tenant: str | None) -> PseudonymVault:
        """A new per-call map (what restores that call's answer)."""
        return PseudonymVault(self, tenant or "")


class PseudonymVault(Vault):
    """One call's keyed pseudonyms: placeholders come from the :class:`Pseudonymizer`, the
    map back to values is this call's alone.

    Two spellings of one value (``DE89 3704…`` and ``DE893704…``) share a placeholder,
    restored as the spelling seen first. On a truncation collision inside one call (two
    values, one digest) the second value's placeholder is extended, which no other
    shard can reproduce: keep ``bits`` at 64 or more.
    """

    def __init__(self, pseudonymizer: Pseudonymizer, tenant: str) -> None:
        super().__init__(key=pseudonymizer._vault_key)
        self._pseudonymizer = pseudonymizer
        self._tenant = tenant
        self._normal: dict[str, tuple[str, str]] = {}

    def placeholder(self, entity: str, value: str) -> str:
        found = self._by_value.get((entity, value))
        if found is not None:
            return found
        with self._lock:
            candidate = self._pseudonymizer.placeholder(self._tenant, entity, value)
            holder = self._by_placeholder.get(candidate)
            if holder is not None and normalize_value(entity, holder) != normalize_value(entity, value):
                full = self._pseudonymizer.digest(self._tenant, entity, value)
                candidate = f"<{entity}_{full}>"
            if candidate not in self._by_placeholder:
                self._by_placeholder[candidate] = value
                if _JSON_UNSAFE.search(value):
                    self.json_unsafe += 1
                bisect.insort(self._sorted, candidate)
                self.longest = max(self.longest, len(candidate))
            self._by_value[(entity, value)] = candidate
            return candidate
