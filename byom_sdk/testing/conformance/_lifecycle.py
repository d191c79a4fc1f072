"""Checks of concurrent use and of ``close()``."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ..._errors import ByomError
from ..._model import Model
from ._core import check, plugin_label
from ._subject import ModelSubject

__all__ = ["ConcurrencyChecks", "LifecycleChecks"]

# Threads the core itself may leave behind; they are shared, not owned by a model.
_SHARED_THREADS = ("byom-async-bridge", "asyncio_", "ThreadPoolExecutor-", "pytest_timeout")


class ConcurrencyChecks(ModelSubject):
    """Concurrent callers each get their own, correct answer."""

    rounds: int = 2

    def _jobs(self, model: Model) -> list[tuple[str, object]]:
        caps = model.info.capabilities
        jobs: list[tuple[str, object]] = []
        if caps.generate or caps.chat:
            jobs += [("generate", self.reference(model, prompt=p)) for p in self.prompts]
        if caps.embed:
            jobs += [("embed", [t]) for t in self.embed_texts]
        return jobs

    @staticmethod
    def _answer(model: Model, kind: str, payload: object) -> object:
        if kind == "generate":
            reply = model.generate(payload)  # type: ignore[arg-type]
            return (reply.text, reply.finish_reason, reply.usage.output_tokens)
        return tuple(round(v, 4) for v in model.embed(payload).vectors[0])  # type: ignore[arg-type]

    @staticmethod
    async def _aanswer(model: Model, kind: str, payload: object) -> object:
        if kind == "generate":
            reply = await model.agenerate(payload)  # type: ignore[arg-type]
            return (reply.text, reply.finish_reason, reply.usage.output_tokens)
        return tuple(round(v, 4) for v in (await model.aembed(payload)).vectors[0])  # type: ignore[arg-type]

    @check("concurrency.threads")
    def test_concurrency_threads(self, byom_model: Model) -> None:
        """Calls from several threads at once each return the answer they return alone.

        Fix: keep per-call state in locals, not on ``self``; guard shared sessions and
        tokenizers with a lock or use one per thread.
        """
        jobs = self._jobs(byom_model)
        expected = [self._answer(byom_model, kind, payload) for kind, payload in jobs]
        work = jobs * self.rounds
        with ThreadPoolExecutor(max_workers=min(8, len(work))) as pool:
            results = list(pool.map(lambda job: self._answer(byom_model, *job), work))
        mixed = [
            f"{kind} #{i % len(jobs)}: got {got!r}, alone {expected[i % len(jobs)]!r}"
            for i, ((kind, _), got) in enumerate(zip(work, results, strict=True))
            if got != expected[i % len(jobs)]
        ]
        assert not mixed, f"{plugin_label(byom_model)} mixed up concurrent calls: " + "; ".join(mixed[:4])

    @check("concurrency.asyncio")
    def test_concurrency_asyncio(self, byom_model: Model) -> None:
        """Concurrent asyncio tasks on one loop each return the answer they return alone.

        Fix: no per-call state on ``self``; one async client per event loop.
        """
        jobs = self._jobs(byom_model)
        expected = [self._answer(byom_model, kind, payload) for kind, payload in jobs]
        work = jobs * self.rounds

        async def run_all() -> list[object]:
            return list(await asyncio.gather(*(self._aanswer(byom_model, k, p) for k, p in work)))

        results = asyncio.run(run_all())
        mixed = [
            f"{kind} #{i % len(jobs)}: got {got!r}, alone {expected[i % len(jobs)]!r}"
            for i, ((kind, _), got) in enumerate(zip(work, results, strict=True))
            if got != expected[i % len(jobs)]
        ]
        assert not mixed, f"{plugin_label(byom_model)} mixed up concurrent tasks: " + "; ".join(mixed[:4])


class LifecycleChecks(ModelSubject):
    """``close()`` releases the model's resources, and the model says so.

    The rule: after ``close()``, ``model.closed`` is True and ``close()`` may be called
    again harmlessly. A model that holds resources (it overrides ``_close``) then refuses
    every call with a ``ByomError`` — never a raw error from a released client and never
    a silent answer. A model that holds nothing (no ``_close``) may keep answering.
    """

    def _use(self, model: Model) -> None:
        caps = model.info.capabilities
        if caps.generate or caps.chat:
            model.generate(self.reference(model, max_tokens=2))
        if caps.embed:
            model.embed([self.embed_texts[0]])

    @check("close.idempotent")
    def test_close_idempotent(self) -> None:
        """``close()`` after use marks the model closed and can be repeated; so can ``aclose()``.

        Fix: make ``_close`` release each resource once and tolerate partial setup.
        """
        model = self.make_model()
        self._use(model)
        model.close()
        assert model.closed, "model.closed is False after close()"
        model.close()
        other = self.make_model()
        asyncio.run(other.aclose())
        assert other.closed, "model.closed is False after aclose()"

    @check("close.refuses_calls")
    def test_close_refuses_calls(self) -> None:
        """After ``close()`` a model holding resources refuses calls with a ``ByomError``.

        Fix: in ``_close`` release the client/session and set a flag the call paths check,
        raising e.g. ``ByomError("model 'x' is closed")``; a raw exception from the
        released client (``RuntimeError: client has been closed``) is a failure.
        """
        model = self.make_model()
        self._use(model)
        model.close()
        owns_resources = type(model)._close is not Model._close
        try:
            self._use(model)
        except ByomError:
            return
        except Exception as exc:  # noqa: BLE001 - a raw exception escaping is the finding.
            pytest.fail(
                f"{plugin_label(model)}: call after close() raised raw "
                f"{type(exc).__module__}.{type(exc).__name__}: {exc}; raise a ByomError"
            )
        assert not owns_resources, (
            f"{plugin_label(model)} releases resources in _close() but still answered after close(); "
            "refuse calls with a ByomError"
        )

    @check("close.releases_threads", preview=True)
    def test_close_releases_threads(self) -> None:
        """Threads a model starts are gone shortly after ``close()``.

        Fix: shut down executors, pools and background loops in ``_close``.
        """
        before = {t.ident for t in threading.enumerate()}
        model = self.make_model()
        self._use(model)
        model.close()
        deadline = time.monotonic() + 2.0
        while True:
            left = [
                t.name
                for t in threading.enumerate()
                if t.ident not in before and t.is_alive() and not t.name.startswith(_SHARED_THREADS)
            ]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert not left, f"{plugin_label(model)} left threads running after close(): {left}"
