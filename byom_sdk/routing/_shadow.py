"""Shadow traffic: a copy of a routed call sent to a second target, its answer discarded.

The copy runs through the shadow target's own plan — gate, masking, audit — on its own
thread (sync callers) or task (async callers), so it never delays, blocks or fails the
live call: launching it is one effect of the route's plan (:class:`LaunchShadow`), whose
``run`` hands the copy to a small thread pool and whose ``arun`` starts a task. At most
``max_in_flight`` copies run at once; beyond that a copy is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._runner import Effect, Plan, Runner
from ._config import ShadowConfig
from ._hops import drain

__all__ = ["LaunchShadow", "Shadows"]

log = logging.getLogger("byom_sdk.routing")

#: makes the shadow's plan (or raises: the copy is then skipped, the live call unaffected).
PlanFactory = Callable[[], Plan[Any]]


class Shadows:
    """The shadow copies of one route: where they run and how many are in flight."""

    def __init__(self, route: str, config: ShadowConfig) -> None:
        self.route = route
        self.config = config
        self.target = config.target
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._in_flight = 0
        self._done = threading.Condition()
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def _reserve(self) -> bool:
        with self._done:
            if self._closed or self._in_flight >= self.config.max_in_flight:
                self.dropped += 1
                return False
            self._in_flight += 1
            self.sent += 1
            return True

    def _finish(self, error: BaseException | None) -> None:
        if error is not None:
            # The copy's own audit record holds the failure; the live call never sees it.
            shown = getattr(error, "masked_message", None) or error  # never the restored values
            log.debug("route %r: shadow call to %r failed: %s", self.route, self.target, shown)
        with self._done:
            if error is not None:
                self.failed += 1
            self._in_flight -= 1
            self._done.notify_all()

    def start_thread(self, make: PlanFactory, runner: Runner) -> None:
        if not self._reserve():
            return
        with self._done:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.config.max_in_flight, thread_name_prefix=f"byom-shadow-{self.route}"
                )
            pool = self._pool
        try:
            pool.submit(self._run_sync, make, runner)
        except RuntimeError as exc:  # the pool shut down while the call was starting
            self._finish(exc)

    def _run_sync(self, make: PlanFactory, runner: Runner) -> None:
        error: BaseException | None = None
        try:
            runner.run(drain(make()))
        except BaseException as exc:  # noqa: BLE001 - a shadow's failure stays with the shadow.
            error = exc
        self._finish(error)

    def start_task(self, make: PlanFactory, runner: Runner) -> None:
        if not self._reserve():
            return
        task = asyncio.get_running_loop().create_task(self._run_async(make, runner))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_async(self, make: PlanFactory, runner: Runner) -> None:
        error: BaseException | None = None
        try:
            await runner.arun(drain(make()))
        except BaseException as exc:  # noqa: BLE001 - cancellation too: the loop is ending.
            error = exc
        self._finish(error)

    # -- waiting and closing --------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def wait(self, timeout: float | None = 10.0) -> bool:
        """Wait until no copy runs on a thread (``False`` on timeout). For copies started
        by async callers, await :meth:`await_tasks` on their loop."""
        with self._done:
            return self._done.wait_for(lambda: self._in_flight <= len(self._tasks), timeout)

    async def await_tasks(self, timeout: float | None = 10.0) -> None:
        """Wait for the copies started on the running loop."""
        tasks = [t for t in self._tasks if t.get_loop() is asyncio.get_running_loop()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def close(self) -> None:
        """Refuse new copies and wait for those running on threads."""
        with self._done:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def status(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "percent": self.config.percent,
            "sent": self.sent,
            "dropped": self.dropped,
            "failed": self.failed,
            "in_flight": self._in_flight,
        }


class LaunchShadow(Effect):
    """Start a shadow copy: on a thread for a sync caller, as a task for an async one."""

    __slots__ = ("make", "shadows", "target_runner")

    def __init__(self, shadows: Shadows, make: PlanFactory, target_runner: Runner) -> None:
        self.shadows = shadows
        self.make = make
        self.target_runner = target_runner

    def run(self, runner: Runner) -> Any:
        self.shadows.start_thread(self.make, self.target_runner)

    async def arun(self, runner: Runner) -> Any:
        self.shadows.start_task(self.make, self.target_runner)
