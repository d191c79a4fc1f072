"""One retry policy for every provider.

Only errors whose ``retryable`` flag is set are retried, with exponential backoff and
full jitter, inside a total deadline shared by every attempt. A stream is retried only
until the provider sent its first event: after that a failure is raised as is, since part
of an answer exists. A request the endpoint already received (the connection dropped
while the answer was coming back) is not sent again unless ``retry_sent_requests`` says
so: the endpoint would generate — and bill — the answer twice.

The policy decides; the retry loop itself lives once in the call plan
(:mod:`byom_sdk._pipeline`), shared by sync and async, unary and streaming calls.

We do not use tenacity here: its model has no notion of "stop retrying once a stream has
yielded", the per-attempt timeout must be written into our immutable request, and the
policy sits on a hot path where a dozen lines of our own are cheaper than its machinery.
"""

from __future__ import annotations

import random
import time
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ._errors import ByomError, ProviderError, Timeout
from ._types import EmbedRequest, GenerateRequest

__all__ = ["RetryPolicy"]

R = TypeVar("R", GenerateRequest, EmbedRequest)


class RetryPolicy(BaseModel):
    """How failed calls are retried.

    :param max_attempts: total attempts, the first included (1 turns retries off).
    :param initial_backoff: seconds before the first retry.
    :param max_backoff: cap on one backoff of the schedule. A provider's ``retry_after``
        hint is never cut short (the server would refuse the early retry): it is waited
        out when it fits the deadline; without a deadline, a hint above ``max_backoff``
        fails the call instead of waiting unbounded.
    :param multiplier: growth of the backoff per attempt.
    :param jitter: ``True`` draws each sleep uniformly from [0, backoff] ("full jitter").
    :param deadline: total seconds for all attempts and sleeps; ``None`` for no deadline.
    :param retry_sent_requests: also retry errors raised after the endpoint received the
        request (``ProviderError.request_sent``), such as a connection dropped mid-answer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    max_attempts: int = Field(default=3, ge=1, le=20)
    initial_backoff: float = Field(default=0.25, ge=0.0)
    max_backoff: float = Field(default=8.0, ge=0.0)
    multiplier: float = Field(default=2.0, ge=1.0)
    jitter: bool = True
    deadline: float | None = Field(default=120.0, gt=0.0)
    retry_sent_requests: bool = False

    def backoff(self, attempt: int, error: BaseException, rng: random.Random | None = None) -> float:
        """Seconds to sleep after failed attempt number ``attempt`` (1-based): never less
        than the provider's ``retry_after`` hint (:meth:`give_up` refuses a hint past the
        deadline, or past ``max_backoff`` when there is no deadline)."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        if self.jitter:
            base = (rng or random).uniform(0.0, base)
        hint = getattr(error, "retry_after", None)
        if isinstance(hint, (int, float)) and not isinstance(hint, bool) and hint > base:
            base = float(hint)
        return base

    # The clock is a method so tests can drive time without sleeping.
    def now(self) -> float:
        return time.monotonic()

    def attempt_request(self, request: R, start: float) -> R:
        """``request`` with ``timeout`` set to what is left of the deadline for this attempt.

        :raises Timeout: the deadline passed before the attempt could be sent.
        """
        if self.deadline is None:
            return request
        left = self.deadline - (self.now() - start)
        if left <= 0:
            raise Timeout(f"deadline of {self.deadline:g}s passed before the call was sent")
        if request.timeout is not None and request.timeout <= left:
            return request
        return request.model_copy(update={"timeout": left})

    def give_up(self, error: BaseException, attempt: int, start: float, delay: float) -> bool:
        """Whether the call fails now instead of sleeping ``delay`` and trying again."""
        if not isinstance(error, ByomError) or not error.retryable:
            return True
        if isinstance(error, ProviderError) and error.request_sent and not self.retry_sent_requests:
            return True
        if attempt >= self.max_attempts:
            return True
        if self.deadline is None:
            return delay > self.max_backoff  # only a retry_after hint goes past the cap
        return (self.now() - start) + delay >= self.deadline

    @staticmethod
    def mark(error: BaseException, attempts: int) -> None:
        """Record on the error how many attempts were made."""
        if isinstance(error, ProviderError):
            error.attempts = attempts
