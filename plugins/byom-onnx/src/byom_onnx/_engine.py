"""What the generation engines share: a sequence, the channel its tokens travel on, sampling
and stop rules applied per step, and the thread-per-call engine for growing-cache graphs.

An engine turns requests into token ids on its own thread(s); the caller's side (a sync
generator or an async generator, see ``_model``) only waits on the sequence's
:class:`Channel` and turns ids into text. So a sync caller blocks on a condition, an async
caller awaits a future that the engine thread resolves with ``call_soon_threadsafe``: the
event loop never runs model work and never waits on a lock held during it.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from byom_sdk import ByomError, GenerateRequest, ModelError

from ._sampling import SamplingParams, sample_token

if TYPE_CHECKING:
    import numpy as np

    from ._decoder import DecoderRunner

__all__ = ["Channel", "Finish", "Sequence", "ThreadEngine", "choose_tokens"]


@dataclass(frozen=True)
class Finish:
    """The engine's last word for a sequence: why it ended and how many tokens it sampled
    (an end-of-sequence token counts, as it was generated)."""

    reason: str
    produced: int


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Channel:
    """Items (token ids, a :class:`Finish`, or an exception) from an engine thread to one
    reader, which drains everything queued at once. Readers wait sync (``get``) or async
    (``aget``); only ``put`` crosses threads."""

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        #: wake the reader only for the last item (a unary call without stop strings needs
        #: nothing earlier): a thread woken per token competes with the model for the cores.
        self.final_only = False

    def put(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            if self.final_only and isinstance(item, int):
                return
            self._cond.notify()
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            loop, future = waiter
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # the reader's loop is closed: nobody is left to read
                pass

    def _drain(self) -> list[Any]:
        items = list(self._items)
        self._items.clear()
        return items

    def get(self, timeout: float | None) -> list[Any]:
        """Everything queued, waiting up to ``timeout`` seconds for something (``[]`` if none)."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            return self._drain()

    async def aget(self, timeout: float | None) -> list[Any]:
        """Async twin of :meth:`get`."""
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._items:
                return self._drain()
            future: asyncio.Future[None] = loop.create_future()
            self._waiter = (loop, future)
        try:
            if timeout is None:
                await future
            else:
                await asyncio.wait_for(future, max(timeout, 0.0))
        except asyncio.TimeoutError:
            pass
        finally:
            with self._cond:
                if self._waiter is not None and self._waiter[1] is future:
                    self._waiter = None
        with self._cond:
            return self._drain()


@dataclass(eq=False)
class Sequence:
    """One generation request as an engine sees it. ``prepare`` (the model's) fills the prompt
    ids, budget and sampling settings on the engine's thread, so tokenising a long prompt
    never runs on a caller's event loop."""

    request: GenerateRequest
    channel: Channel = field(default_factory=Channel)
    prompt_ids: list[int] = field(default_factory=list)
    max_new: int = 0
    params: SamplingParams = field(default_factory=SamplingParams)
    rng: Any = None
    ignore_eos: bool = False
    history: list[int] = field(default_factory=list)
    produced: int = 0
    next_token: int = 0
    length: int = 0
    slot: int = -1
    cancelled: bool = False
    on_cancel: Callable[[], None] | None = None
    #: the grammar the reply must follow (``_grammar.TokenConstraint``), or None.
    constraint: Any = None

    def cancel(self) -> None:
        """The reader is gone (closed, cancelled, timed out, or done): free its slot."""
        if not self.cancelled:
            self.cancelled = True
            if self.on_cancel is not None:
                self.on_cancel()

    def fail(self, error: BaseException) -> None:
        self.channel.put(error)

    def accept(self, token: int, eos_ids: frozenset[int]) -> bool:
        """Record a sampled token and hand it over; True when the sequence is finished."""
        self.produced += 1
        if self.constraint is not None:
            self.constraint.consume(token)
        if token in eos_ids and not self.ignore_eos:
            self.channel.put(Finish("stop", self.produced))
            return True
        self.history.append(token)
        self.next_token = token
        self.channel.put(token)
        if self.produced >= self.max_new:
            self.channel.put(Finish("length", self.produced))
            return True
        return False


def _non_finite(label: str) -> ModelError:
    return ModelError(
        f"model '{label}' produced NaN/Inf logits (corrupt weights or a numerical overflow); no token can be sampled",
        provider="onnx",
    )


def choose_tokens(sequences: list[Sequence], logits: np.ndarray, label: str) -> list[int | ModelError]:
    """The next token per sequence from ``logits (len(sequences), vocab)``; greedy rows in one
    vectorised argmax. A row with NaN/Inf logits yields a :class:`ModelError` instead, as no
    distribution can be formed from it (numpy's argmax would silently pick the NaN)."""
    import numpy as np

    out: list[int | ModelError] = [0] * len(sequences)
    failed: set[int] = set()
    constrained = [i for i, s in enumerate(sequences) if s.constraint is not None]
    if constrained:
        # Tokens the grammar forbids can never be sampled (their logits become -inf).
        logits = logits.copy()
        for i in constrained:
            try:
                logits[i] = sequences[i].constraint.mask(logits[i])
            except Exception as exc:  # noqa: BLE001 - one row's failure must stay that row's
                out[i] = _row_error(exc, label)
                failed.add(i)
    greedy = [i for i, s in enumerate(sequences) if s.params.greedy and s.params.repetition_penalty == 1.0]
    if failed:
        greedy = [i for i in greedy if i not in failed]
    if greedy:
        rows = logits[greedy] if len(greedy) < len(sequences) else logits
        picks = np.argmax(rows, axis=-1)
        values = rows[np.arange(len(greedy)), picks]
        for i, pick, value in zip(greedy, picks.tolist(), values.tolist(), strict=True):
            out[i] = int(pick) if math.isfinite(value) else _non_finite(label)
    done = failed.union(greedy)
    for i, seq in enumerate(sequences):
        if i in done:
            continue
        row = logits[i]
        if not math.isfinite(float(row.max())):
            out[i] = _non_finite(label)
            continue
        try:
            out[i] = sample_token(row, seq.params, seq.history, seq.rng)
        except Exception as exc:  # noqa: BLE001 - e.g. numpy's "probabilities contain NaN"
            out[i] = _row_error(exc, label)
    return out


def _row_error(exc: Exception, label: str) -> ModelError:
    """One sequence's sampling failure as its own typed error; the batch engine would
    otherwise see it escape the step and fail every sequence decoded alongside."""
    if isinstance(exc, ModelError):
        return exc
    error = ModelError(f"model '{label}': sampling failed: {type(exc).__name__}: {exc}", provider="onnx")
    error.__cause__ = exc
    return error


class ThreadEngine:
    """One thread per call over a growing-cache decoder (layouts B and C, which cannot share
    a batched cache); concurrent calls run side by side on the thread-safe session."""

    def __init__(
        self,
        runner: DecoderRunner,
        *,
        prepare: Callable[[Sequence], None],
        eos_ids: frozenset[int],
        label: str,
    ) -> None:
        self.runner = runner
        self.prepare = prepare
        self.eos_ids = eos_ids
        self.label = label
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = False

    def submit(self, seq: Sequence) -> None:
        thread = threading.Thread(target=self._run, args=(seq,), name="byom-onnx-call", daemon=True)
        with self._lock:
            if self._stopping:
                raise ByomError(f"model '{self.label}' is closed")
            self._threads.add(thread)
        thread.start()

    def _run(self, seq: Sequence) -> None:
        try:
            self.prepare(seq)
            steps = self.runner.generate_logits(seq.prompt_ids)
            try:
                logits = next(steps)
                while not seq.cancelled:
                    if self._stopping:
                        raise ByomError(f"model '{self.label}' is closed")
                    choice = choose_tokens([seq], logits[None, :], self.label)[0]
                    if isinstance(choice, ModelError):
                        raise choice
                    if seq.accept(choice, self.eos_ids):
                        break
                    logits = steps.send(choice)
            finally:
                steps.close()
        except ByomError as exc:
            seq.fail(exc)
        except Exception as exc:  # noqa: BLE001 - onnxruntime failures reach the reader typed
            message = f"model '{self.label}': onnxruntime failed: {str(exc).splitlines()[0]}"
            seq.fail(ModelError(message, provider="onnx"))
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def stop(self) -> None:
        with self._lock:
            self._stopping = True

    @property
    def alive(self) -> bool:
        with self._lock:
            return bool(self._threads)

    def close(self) -> None:
        self.stop()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join()
