"""One retry policy for every provider.

Only errors whose ``retryable`` flag is set are retried, with exponential backoff and
full jitter, inside a total deadline. A stream is retried only until its first event has
reached the caller: after that a failure is raised as is, since the caller has already
seen part of an answer.

We do not use tenacity here: its model has no notion of "stop retrying once a stream has
yielded", the per-attempt timeout must be written into our immutable request, and the
policy sits on a hot path where a dozen lines of our own are cheaper than its machinery.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ._errors import ByomError, ProviderError, Timeout
from ._types import EmbedRequest, GenerateRequest, StreamEvent

__all__ = ["RetryPolicy"]

R = TypeVar("R", GenerateRequest, EmbedRequest)
T = TypeVar("T")


class RetryPolicy(BaseModel):
    """How failed calls are retried.

    :param max_attempts: total attempts, the first included (1 turns retries off).
    :param initial_backoff: seconds before the first retry.
    :param max_backoff: cap on one backoff.
    :param multiplier: growth of the backoff per attempt.
    :param jitter: ``True`` draws each sleep uniformly from [0, backoff] ("full jitter").
    :param deadline: total seconds for all attempts and sleeps; ``None`` for no deadline.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    max_attempts: int = Field(default=3, ge=1, le=20)
    initial_backoff: float = Field(default=0.25, ge=0.0)
    max_backoff: float = Field(default=8.0, ge=0.0)
    multiplier: float = Field(default=2.0, ge=1.0)
    jitter: bool = True
    deadline: float | None = Field(default=120.0, gt=0.0)

    def backoff(self, attempt: int, error: BaseException, rng: random.Random | None = None) -> float:
        """Seconds to sleep after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        if self.jitter:
            base = (rng or random).uniform(0.0, base)
        hint = getattr(error, "retry_after", None)
        if isinstance(hint, (int, float)) and hint > base:
            base = min(float(hint), self.max_backoff)
        return base

    # The clock and sleep are attributes so tests can drive time without sleeping.
    def _now(self) -> float:
        return time.monotonic()

    def _with_timeout(self, request: R, start: float) -> R:
        if self.deadline is None:
            return request
        left = self.deadline - (self._now() - start)
        if left <= 0:
            raise Timeout(f"deadline of {self.deadline:g}s passed before the call was sent")
        if request.timeout is not None and request.timeout <= left:
            return request
        return request.model_copy(update={"timeout": left})

    def _give_up(self, error: BaseException, attempt: int, start: float, delay: float) -> bool:
        if not isinstance(error, ByomError) or not error.retryable:
            return True
        if attempt >= self.max_attempts:
            return True
        return self.deadline is not None and (self._now() - start) + delay >= self.deadline

    @staticmethod
    def _mark(error: BaseException, attempts: int) -> None:
        if isinstance(error, ProviderError):
            error.attempts = attempts

    def call(
        self,
        func: Callable[[R], T],
        request: R,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_attempt: Callable[[int], None] | None = None,
    ) -> T:
        """Call ``func(request)``, retrying retryable errors."""
        start = self._now()
        attempt = 0
        while True:
            attempt += 1
            if on_attempt is not None:
                on_attempt(attempt)
            try:
                return func(self._with_timeout(request, start))
            except ByomError as error:
                delay = self.backoff(attempt, error)
                if self._give_up(error, attempt, start, delay):
                    self._mark(error, attempt)
                    raise
                sleep(delay)

    async def acall(
        self,
        func: Callable[[R], Awaitable[T]],
        request: R,
        *,
        on_attempt: Callable[[int], None] | None = None,
    ) -> T:
        """Async twin of :meth:`call`; sleeps without blocking the loop."""
        start = self._now()
        attempt = 0
        while True:
            attempt += 1
            if on_attempt is not None:
                on_attempt(attempt)
            try:
                return await func(self._with_timeout(request, start))
            except ByomError as error:
                delay = self.backoff(attempt, error)
                if self._give_up(error, attempt, start, delay):
                    self._mark(error, attempt)
                    raise
                import asyncio

                await asyncio.sleep(delay)

    def stream(
        self,
        func: Callable[[GenerateRequest], Iterator[StreamEvent]],
        request: GenerateRequest,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_attempt: Callable[[int], None] | None = None,
    ) -> Iterator[StreamEvent]:
        """Stream from ``func(request)``; retry only while nothing has been yielded."""
        start = self._now()
        attempt = 0
        while True:
            attempt += 1
            if on_attempt is not None:
                on_attempt(attempt)
            yielded = False
            try:
                for event in func(self._with_timeout(request, start)):
                    yielded = True
                    yield event
                return
            except ByomError as error:
                delay = self.backoff(attempt, error)
                if yielded or self._give_up(error, attempt, start, delay):
                    self._mark(error, attempt)
                    raise
                sleep(delay)

    async def astream(
        self,
        func: Callable[[GenerateRequest], AsyncIterator[StreamEvent]],
        request: GenerateRequest,
        *,
        on_attempt: Callable[[int], None] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`."""
        start = self._now()
        attempt = 0
        while True:
            attempt += 1
            if on_attempt is not None:
                on_attempt(attempt)
            yielded = False
            try:
                async for event in func(self._with_timeout(request, start)):
                    yielded = True
                    yield event
                return
            except ByomError as error:
                delay = self.backoff(attempt, error)
                if yielded or self._give_up(error, attempt, start, delay):
                    self._mark(error, attempt)
                    raise
                import asyncio

                await asyncio.sleep(delay)
