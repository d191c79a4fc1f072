"""Where blocking work runs when the caller is async: bounded executors owned by a Client.

Measured, not assumed (bench/async_concurrency.py, 2-core machine): asyncio's default
executor has ``min(32, cpu + 4)`` threads — 6 here — so 64 concurrent ``agenerate`` calls
to a 200 ms SageMaker endpoint ran 6 at a time (28.8 req/s). A sync-only provider spends
its time waiting on sockets, not on the CPU, so one thread per concurrent call is the
right size; the executor is bounded by ``max_concurrency`` (default 64) so a burst cannot
spawn threads without limit, and threads start lazily so an idle Client holds none.

Two pools, so slow work of one kind never starves the other:

- ``calls``: sync provider calls and stream reads, and CPU work moved off the loop
  (masking a large prompt, counting its tokens); an async call to a sync provider runs its
  audit appends on the same thread as its provider call (one hop, see ``_runner._Handoff``);
- ``io``: the other audit writes (a natively async provider's calls, streams). An audit
  store locked by another process for seconds stalls only the calls being audited — never
  the event loop, and never unrelated provider reads.

We chose threads over aiobotocore for SageMaker: aiobotocore pins botocore to an older
release than boto3 needs, and at 64 concurrent calls the thread pool already reaches the
ideal rate (see bench/async_concurrency.py, which prints the ratio).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["DEFAULT_CLOSE_TIMEOUT", "DEFAULT_MAX_CONCURRENCY", "CallTracker", "Executors", "shared_executors"]

#: seconds ``Client.close()`` waits for calls in flight before closing under them.
DEFAULT_CLOSE_TIMEOUT = 30.0

DEFAULT_MAX_CONCURRENCY = 64


class CallTracker:
    """The calls in flight on one Client, so that closing it lets them finish first.

    Each call (and each step of a stream) is entered under its owner — the calling thread,
    or the event loop of an async caller. Closing refuses new calls, waits for the ones in
    flight (except those of owners that cannot progress while the closer waits: its own
    thread and loop), then closes the streams left open between two reads: their outcome
    is recorded as cancelled while the audit is still open.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._owners: dict[Hashable, int] = {}
        self.closing = False
        #: streams started and not yet ended (their drivers register themselves).
        self.streams: weakref.WeakSet[Any] = weakref.WeakSet()

    def enter(self, owner: Hashable, what: str) -> None:
        """Count a call of ``owner``; refused once closing began (``what`` names the model)."""
        with self._changed:
            if self.closing:
                from ._errors import ByomError

                raise ByomError(f"model '{what}' is closed (its Client was closed)")
            self._owners[owner] = self._owners.get(owner, 0) + 1

    def leave(self, owner: Hashable) -> None:
        with self._changed:
            left = self._owners[owner] - 1
            if left:
                self._owners[owner] = left
            else:
                del self._owners[owner]
                self._changed.notify_all()

    def drain(self, timeout: float, *, skip: Collection[Hashable] = ()) -> bool:
        """Refuse new calls, then wait up to ``timeout`` seconds for the calls in flight of
        every owner but ``skip``; True when none is left."""
        with self._changed:
            self.closing = True
            return self._changed.wait_for(lambda: all(owner in skip for owner in self._owners), timeout)


class Executors:
    """The ``calls`` and ``io`` thread pools of one Client (created on first use), and the
    calls in flight on it (:class:`CallTracker`).

    :param max_concurrency: threads for provider calls; async calls beyond it wait.
    :param name: thread-name prefix (threads are named ``{name}-call_N`` / ``{name}-io_N``).
    """

    def __init__(self, max_concurrency: int = DEFAULT_MAX_CONCURRENCY, *, name: str = "byom") -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.name = name
        self._lock = threading.Lock()
        self._calls: ThreadPoolExecutor | None = None
        self._io: ThreadPoolExecutor | None = None
        self._closed = False
        self.in_flight = CallTracker()

    @property
    def calls(self) -> ThreadPoolExecutor:
        pool = self._calls
        if pool is None:
            with self._lock:
                self._check_open()
                if self._calls is None:
                    self._calls = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix=f"{self.name}-call")
                pool = self._calls
        return pool

    @property
    def io(self) -> ThreadPoolExecutor:
        pool = self._io
        if pool is None:
            with self._lock:
                self._check_open()
                if self._io is None:
                    # Audit appends serialise on the store's own lock; more threads would
                    # only queue there.
                    self._io = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-io")
                pool = self._io
        return pool

    def _check_open(self) -> None:
        if self._closed:
            from ._errors import ByomError

            raise ByomError(f"executors '{self.name}' are shut down (their Client was closed)")

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the threads (after the work already queued, when ``wait``)."""
        with self._lock:
            self._closed = True
            pools = [p for p in (self._calls, self._io) if p is not None]
            self._calls = self._io = None
        for pool in pools:
            pool.shutdown(wait=wait)


_shared: Executors | None = None
_shared_lock = threading.Lock()


def shared_executors() -> Executors:
    """The process-wide executors of providers called directly, without a Client."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = Executors(name="byom-direct")
    return _shared
