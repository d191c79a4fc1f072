"""The routing decision: which target serves one call — pure, and the same in every process.

A call with a sticky key (``RequestMetadata.user``, ``tenant`` or ``conversation_id``) is
hashed with a keyed BLAKE2b (key: the route's ``salt``, its name by default), never with
Python's ``hash()``, which is salted per process. The 64-bit digest gives two independent
32-bit draws:

- the high half decides the canary: the call goes to the canary when the draw is below
  the ramp's percent now. A key on the canary stays there while the ramp grows;
- the low half picks among the route's targets by their weights (cumulative thresholds),
  so which stable target a key lands on never depends on the canary's percent.

A call without a key draws both at random. ``bucket`` (0-9999) is the low draw in basis
points, recorded in the audit with the thresholds it was compared with.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from typing import NamedTuple

from ._config import RouteConfig

__all__ = ["BUCKETS", "Choice", "Router", "sticky_hash"]

#: audit records give the weight bucket in basis points.
BUCKETS = 10_000
_SPAN = 1 << 32


def _salt_key(salt: str) -> bytes:
    return hashlib.blake2b(salt.encode("utf-8", "surrogatepass"), digest_size=32, person=b"byom-route-salt").digest()


_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes
# Its own generator: draws never consume (or depend on) the application's global random
# state, which it may seed for its own reproducibility.
_getrandbits = random.Random().getrandbits
_bisect_right = bisect.bisect_right
_tuple_new = tuple.__new__


def sticky_hash(key: str, salt_key: bytes) -> int:
    """The 64-bit keyed hash of a sticky key."""
    return int.from_bytes(
        hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8, key=salt_key).digest(), "big"
    )


class Choice(NamedTuple):
    """The target chosen for one call and why (a tuple: made on every call).

    :param why: ``sticky`` (a key chose it), ``weight`` (a random draw did) or ``canary``.
    :param bucket: the weight draw in basis points (0-9999).
    :param canary_percent: the canary's percent at the time of the call (with a canary).
    """

    target: str
    why: str
    bucket: int
    canary_percent: float | None = None


class Router:
    """The decision part of one route (no I/O, no state beyond the configuration)."""

    def __init__(self, config: RouteConfig) -> None:
        self.config = config
        self.sticky = config.sticky
        self.salt_key = _salt_key(config.salt if config.salt is not None else config.name)
        self._keyed = hashlib.blake2b(digest_size=8, key=self.salt_key)
        self.targets = config.targets
        weights = config.effective_weights
        total = sum(weights)
        running = 0.0
        thresholds = []
        for weight in weights:
            running += weight
            thresholds.append(min(_SPAN, round(running / total * _SPAN)))
        thresholds[-1] = _SPAN
        #: a draw ``d`` (0 ≤ d < 2**32) picks the first target whose threshold exceeds it.
        self.thresholds = tuple(thresholds)
        self.shares = tuple(w / total for w in weights)
        canary = config.canary
        self.canary = canary.target if canary is not None else None
        self._ramp_start = canary.start_epoch if canary is not None else 0.0
        self._ramp_after = tuple(step.after for step in canary.ramp) if canary is not None else ()
        self._ramp_percent = tuple(step.percent for step in canary.ramp) if canary is not None else ()

    def canary_percent(self, now: float) -> float:
        """The canary's percent at wall-clock time ``now`` (epoch seconds)."""
        if self.canary is None:
            return 0.0
        index = bisect.bisect_right(self._ramp_after, now - self._ramp_start) - 1
        return self._ramp_percent[index] if index >= 0 else 0.0

    def next_step(self, now: float) -> tuple[float, float] | None:
        """(epoch seconds, percent) of the ramp's next step, or ``None`` after the last."""
        elapsed = now - self._ramp_start
        for after, percent in zip(self._ramp_after, self._ramp_percent, strict=True):
            if after > elapsed:
                return self._ramp_start + after, percent
        return None

    def weights_at(self, now: float) -> dict[str, float]:
        """Each target's share of the traffic (percent) at ``now``, the canary included."""
        canary = self.canary_percent(now)
        shares = {t: round(s * (100.0 - canary), 4) for t, s in zip(self.targets, self.shares, strict=True)}
        if self.canary is not None:
            shares[self.canary] = canary
        return shares

    def choose(self, key: str | None, now: float) -> Choice:
        """The target for a call with sticky key ``key`` (``None``: a random draw)."""
        if key is None:
            digest = _getrandbits(64)
            why = "weight"
        else:
            hasher = self._keyed.copy()  # cheaper than keying a new hasher per call
            # A key that is not valid Unicode still hashes: the call's own validation then
            # names the field (metadata.user) instead of a raw UnicodeEncodeError here.
            hasher.update(key.encode("utf-8", "surrogatepass"))
            digest = _from_bytes(hasher.digest(), "big")
            why = "sticky"
        low = digest & 0xFFFFFFFF
        bucket = low * BUCKETS >> 32
        percent = None
        if self.canary is not None:
            percent = self.canary_percent(now)
            if (digest >> 32) * 100.0 < percent * _SPAN:
                return _tuple_new(Choice, (self.canary, "canary", bucket, percent))
        # a plain tuple made as a Choice: NamedTuple's own __new__ is Python code, per call
        return _tuple_new(Choice, (self.targets[_bisect_right(self.thresholds, low)], why, bucket, percent))
