"""Checks of concurrent use and of ``close()``."""

from __future__ import annotations

import asyncio
import socketserver
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import pytest

from ..._errors import ByomError
from ..._provider import Provider
from ._core import check, plugin_label
from ._network import client_sockets
from ._subject import ModelSubject

__all__ = ["ConcurrencyChecks", "LifecycleChecks"]

# Threads the core itself keeps for the process (shared, not owned by a model), and
# pytest-timeout's watchdog.
_SHARED_THREADS = ("byom-async-bridge", "byom-direct-", "pytest_timeout")
# Threads of a test server in the harness: socketserver's (named after their target) and
# the loops of servers whose target lives in a server module.
_SERVER_THREADS = ("(process_request_thread)", "(serve_forever)")
_SERVER_MODULES = ("socketserver", "http.server", "grpc._server")


class ConcurrencyChecks(ModelSubject):
    """Concurrent callers each get their own, correct answer."""

    rounds: int = 2

    def _jobs(self, model: Provider) -> list[tuple[str, object]]:
        caps = model.info.capabilities
        jobs: list[tuple[str, object]] = []
        if caps.generate or caps.chat:
            jobs += [("generate", self.reference(model, prompt=p)) for p in self.prompts]
        if caps.embed:
            jobs += [("embed", [t]) for t in self.embed_texts]
        return jobs

    @staticmethod
    def _answer(model: Provider, kind: str, payload: object) -> object:
        if kind == "generate":
            reply = model.generate(payload)  # type: ignore[arg-type]
            return (reply.text, reply.finish_reason, reply.usage.output_tokens)
        return tuple(round(v, 4) for v in model.embed(payload).vectors[0])  # type: ignore[arg-type]

    @staticmethod
    async def _aanswer(model: Provider, kind: str, payload: object) -> object:
        if kind == "generate":
            reply = await model.agenerate(payload)  # type: ignore[arg-type]
            return (reply.text, reply.finish_reason, reply.usage.output_tokens)
        return tuple(round(v, 4) for v in (await model.aembed(payload)).vectors[0])  # type: ignore[arg-type]

    @check("concurrency.threads")
    def test_concurrency_threads(self, byom_model: Provider) -> None:
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

    @check("concurrency.parallel")
    def test_concurrency_parallel(self, byom_model: Provider) -> None:
        """Calls from several threads run at the same time: four ``generate`` calls to the
        slow scenario at once take about as long as one, not four times as long.

        A provider that holds one lock around the whole call makes every caller wait for
        all the others (and an async caller's worker threads with them). Fix: hold a lock
        only around what is not thread-safe, for as short as possible — botocore and httpx
        clients are safe to share — or give each thread its own client.
        """
        caps = byom_model.info.capabilities
        if not (caps.generate or caps.chat):
            pytest.skip(f"{plugin_label(byom_model)}: capability 'generate' or 'chat' not declared")
        slow = self.make_slow_model()
        if slow is None:
            pytest.skip(f"{type(self).__name__}.make_slow_model offers no slow scenario")
        callers = 4
        try:
            request = self.reference(slow)
            slow.generate(request)  # connections and clients warmed
            started = time.perf_counter()
            slow.generate(request)
            alone = time.perf_counter() - started
            with ThreadPoolExecutor(max_workers=callers) as pool:
                started = time.perf_counter()
                list(pool.map(lambda _: slow.generate(request), range(callers)))
                together = time.perf_counter() - started
        finally:
            slow.close()
        # Serialised calls take `callers` times as long; overlapping ones about one call.
        assert together < alone * (callers + 1) / 2, (
            f"{plugin_label(byom_model)}: {callers} concurrent calls to the slow scenario took "
            f"{together:.2f} s, one alone {alone:.2f} s: the calls ran one after another"
        )

    @check("concurrency.asyncio")
    def test_concurrency_asyncio(self, byom_model: Provider) -> None:
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
    """``close()`` releases the provider's resources, and the provider says so.

    The rule: after ``close()`` (or ``aclose()``), ``closed`` is True, closing again does
    nothing, every call is refused with a ``ByomError`` — never a raw error from a released
    client and never a silent answer — and every thread the provider started, the worker
    threads of its direct calls included, is gone.

    :cvar harness_threads: name prefixes of threads your test harness starts while
        building or using models (the worker pool of a local server started inside
        ``make_model``); they are not the provider's. The serving threads of socketserver /
        http.server / grpc servers are recognised without it; better still, start test
        servers before the checks (``setup_class``).
    """

    harness_threads: ClassVar[tuple[str, ...]] = ()

    def _use(self, model: Provider) -> None:
        """One call of every declared operation, sync and async, so lazily started clients,
        pools and worker threads exist before ``close()``."""
        for operation in self.operations(model, request=lambda m: self.reference(m, max_tokens=2)).values():
            operation(model)

    @check("close.idempotent")
    def test_close_idempotent(self) -> None:
        """``close()`` after use marks the provider closed and can be repeated; so can ``aclose()``.

        Fix: release each resource once, tolerate partial setup, and call
        ``super().close()`` from an overriding ``close``.
        """
        model = self.make_model()
        self._use(model)
        model.close()
        assert model.closed, "provider.closed is False after close(); call super().close() from your close()"
        model.close()
        other = self.make_model()
        asyncio.run(other.aclose())
        assert other.closed, "provider.closed is False after aclose()"
        asyncio.run(other.aclose())

    @check("close.refuses_calls")
    def test_close_refuses_calls(self) -> None:
        """After ``close()`` every operation — generate, agenerate, stream, astream, embed,
        aembed — is refused with a ``ByomError``.

        The core refuses calls to a closed provider; a provider whose ``close`` does not
        call ``super().close()`` keeps answering (or fails with its released client's raw
        error). Fix: call ``super().close()``; raise ``ByomError("model 'x' is closed")``
        from any path that can still be reached.
        """
        model = self.make_model()
        self._use(model)
        model.close()
        problems = []
        for name, operation in self.operations(model).items():
            try:
                operation(model)
            except ByomError:
                continue
            except Exception as exc:  # noqa: BLE001 - a raw exception escaping is the finding.
                problems.append(f"{name}: raised raw {type(exc).__module__}.{type(exc).__name__}: {exc}")
            else:
                problems.append(f"{name}: answered after close()")
        assert not problems, f"{plugin_label(model)} after close(): " + "; ".join(problems)

    def _foreign(self, thread: threading.Thread) -> bool:
        """A thread that is not the provider's: shared core threads and the harness's servers."""
        name = thread.name
        if name.startswith(_SHARED_THREADS) or (self.harness_threads and name.startswith(self.harness_threads)):
            return True
        target = getattr(thread, "_target", None)
        owner = getattr(target, "__self__", None)
        if isinstance(owner, socketserver.BaseServer) or name.endswith(_SERVER_THREADS):
            return True
        return str(getattr(target, "__module__", "")).startswith(_SERVER_MODULES)

    @check("close.releases_threads")
    def test_close_releases_threads(self) -> None:
        """Threads a provider starts — its own, its clients' and the worker threads that
        serve its direct async calls (``byom-<Class>-call_N``) — are gone shortly after
        ``close()``.

        Every declared operation runs once (sync and async) before ``close()``; threads
        still alive 1 s later are listed. Default-named ``ThreadPoolExecutor-N`` threads
        count. Fix: shut down executors, pools and background loops in ``close``, and call
        ``super().close()`` (it stops the direct-call workers).
        """
        before = {t.ident for t in threading.enumerate()}
        model = self.make_model()
        self._use(model)
        model.close()
        deadline = time.monotonic() + 1.0
        while True:
            left = [
                t.name for t in threading.enumerate() if t.ident not in before and t.is_alive() and not self._foreign(t)
            ]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert not left, f"{plugin_label(model)} left threads running after close(): {left}"

    @check("close.releases_sockets")
    def test_close_releases_sockets(self) -> None:
        """Connections a provider opens — its HTTP pools' keep-alive sockets, its channels —
        are closed shortly after ``close()``.

        A first provider is built, used and closed (servers and caches the harness starts
        lazily are not the provider's); then the client TCP sockets of the process are
        listed, a second provider runs every declared operation and is closed, and client
        sockets still open 1 s later that were not there before are listed (listening
        sockets and the connections they accepted are a server's, not counted). Skipped where
        open descriptors cannot be listed. Fix: close every client the provider made
        (``httpx.Client.close()``, ``client.close()``, ``channel.close()``) in ``close``,
        then call ``super().close()``.
        """
        warm = self.make_model()
        self._use(warm)
        warm.close()
        before = client_sockets()
        if before is None:
            pytest.skip("this platform gives no way to list the process's open sockets")
        model = self.make_model()
        self._use(model)
        model.close()
        deadline = time.monotonic() + 1.0
        while True:
            left = (client_sockets() or set()) - before
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        shown = sorted(f"fd {s.fd}: {s.local} -> {s.peer}" for s in left)
        assert not left, f"{plugin_label(model)} left {len(left)} connection(s) open after close(): {shown[:4]}"
