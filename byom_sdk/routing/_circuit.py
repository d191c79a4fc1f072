"""One circuit breaker per route target: closed → open → half-open → closed.

- **closed**: calls go through; ``failures`` consecutive fallback errors (the route's
  ``fallback_on`` types) open it.
- **open**: calls skip the target (the next hop serves them) until the cooldown ends. The
  cooldown is the configured one or the endpoint's ``Retry-After`` when longer (capped by
  ``max_cooldown``); re-opening never shortens a cooldown already running.
- **half-open**: the first call after the cooldown is the probe; the others still skip the
  target while it runs. A probe that succeeds (or fails in a way that is no fault of the
  endpoint, such as a bad request) closes the circuit; a fallback error re-opens it.

The closed state is read without a lock (one attribute); every transition takes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ._config import CircuitConfig

__all__ = ["Circuit"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class Circuit:
    """The breaker of one target of one route.

    :param clock: monotonic seconds (tests replace it to move time without sleeping).
    """

    def __init__(self, target: str, config: CircuitConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self.config = config
        self.clock = clock
        self.state = CLOSED
        self.failures = 0
        self.reopen_at = 0.0
        self.probing = False
        #: how often the circuit opened, and closed again, since the route was built.
        self.opened = 0
        self.closed = 0
        self._lock = threading.Lock()

    def admit(self) -> str | None:
        """``"closed"`` or ``"probe"`` when a call may go to the target now, else ``None``."""
        if self.state == CLOSED:
            return CLOSED
        with self._lock:
            if self.state == CLOSED:
                return CLOSED
            if self.state == OPEN:
                if self.clock() < self.reopen_at:
                    return None
                self.state = HALF_OPEN
            if self.probing:
                return None
            self.probing = True
            return "probe"

    def succeeded(self) -> None:
        """The target answered (or failed through no fault of its own)."""
        if self.state == CLOSED and not self.failures:
            return
        with self._lock:
            if self.state != CLOSED:
                self.closed += 1
            self.state = CLOSED
            self.failures = 0
            self.probing = False

    def failed(self, retry_after: float | None = None) -> None:
        """The target failed with one of the route's fallback errors."""
        with self._lock:
            self.failures += 1
            if self.state == CLOSED and self.failures < self.config.failures:
                return
            cooldown = self.config.cooldown
            if retry_after is not None and retry_after > cooldown:
                cooldown = min(retry_after, self.config.max_cooldown)
            # Never shorten a cooldown already running (LiteLLM #40130: a second, shorter
            # Retry-After ended a long cooldown early).
            self.reopen_at = max(self.reopen_at, self.clock() + cooldown)
            if self.state != OPEN:
                self.opened += 1
            self.state = OPEN
            self.probing = False

    def released(self) -> None:
        """A probe ended without a verdict (cancelled): let the next call probe."""
        if self.probing:
            with self._lock:
                self.probing = False

    def status(self) -> dict[str, Any]:
        left = max(0.0, self.reopen_at - self.clock()) if self.state == OPEN else 0.0
        return {
            "state": self.state,
            "failures": self.failures,
            "reopens_in": round(left, 3),
            "opened": self.opened,
            "closed": self.closed,
        }
