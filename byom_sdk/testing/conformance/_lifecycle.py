"""Checks of ``close()`` and ``aclose()``: the provider releases what it holds."""

from __future__ import annotations

import asyncio
import socketserver
import threading
import time
from collections.abc import Callable
from typing import ClassVar

import pytest

from ..._errors import ByomError
from ..._provider import Provider
from ._core import check, plugin_label
from ._network import client_sockets
from ._subject import ModelSubject

__all__ = ["LifecycleChecks"]

# Threads the core itself keeps for the process (shared, not owned by a model), and
# pytest-timeout's watchdog.
_SHARED_THREADS = ("byom-async-bridge", "byom-direct-", "pytest_timeout")
# Threads of a test server in the harness: socketserver's (named after their target) and
# the loops of servers whose target lives in a server module.
_SERVER_THREADS = ("(process_request_thread)", "(serve_forever)")
_SERVER_MODULES = ("socketserver", "http.server", "grpc._server")


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

    @staticmethod
    def _closers() -> dict[str, Callable[[Provider], None]]:
        """The two ways a caller closes a provider."""
        return {"close()": lambda model: model.close(), "aclose()": lambda model: asyncio.run(model.aclose())}

    @check("close.releases_threads")
    def test_close_releases_threads(self) -> None:
        """Threads a provider starts — its own, its clients' and the worker threads that
        serve its direct async calls (``byom-<Class>-call_N``) — are gone shortly after
        ``close()``, and after ``aclose()``.

        Every declared operation runs once (sync and async) before the provider is closed,
        once each way; threads still alive 1 s later are listed. Default-named
        ``ThreadPoolExecutor-N`` threads count. Fix: shut down executors, pools and
        background loops in ``close``, and call ``super().close()`` (it stops the
        direct-call workers); an overriding ``aclose`` releases the same (or calls
        ``self.close()``).
        """
        problems = []
        label = ""
        for how, closer in self._closers().items():
            before = {t.ident for t in threading.enumerate()}
            model = self.make_model()
            label = plugin_label(model)
            self._use(model)
            closer(model)
            deadline = time.monotonic() + 1.0
            while True:
                left = [
                    t.name
                    for t in threading.enumerate()
                    if t.ident not in before and t.is_alive() and not self._foreign(t)
                ]
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if left:
                problems.append(f"after {how}: {left}")
        assert not problems, f"{label} left threads running " + "; ".join(problems)

    @check("close.releases_sockets")
    def test_close_releases_sockets(self) -> None:
        """Connections a provider opens — its HTTP pools' keep-alive sockets, its channels —
        are closed shortly after ``close()``, and after ``aclose()``.

        A first provider is built, used and closed (servers and caches the harness starts
        lazily are not the provider's); then, once with ``close()`` and once with
        ``aclose()``, the client TCP sockets of the process are listed, a fresh provider
        runs every declared operation and is closed, and client sockets still open 1 s
        later that were not there before are listed (listening sockets and the connections
        they accepted are a server's, not counted). Skipped where open descriptors cannot
        be listed. Fix: close every client the provider made (``httpx.Client.close()``,
        ``client.close()``, ``channel.close()``) in ``close``, then call
        ``super().close()``; an overriding ``aclose`` must close them too (or call
        ``self.close()``).
        """
        warm = self.make_model()
        self._use(warm)
        warm.close()
        if client_sockets() is None:
            pytest.skip("this platform gives no way to list the process's open sockets")
        problems = []
        label = plugin_label(warm)
        for how, closer in self._closers().items():
            before = client_sockets() or set()
            model = self.make_model()
            self._use(model)
            closer(model)
            deadline = time.monotonic() + 1.0
            while True:
                left = (client_sockets() or set()) - before
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if left:
                shown = sorted(f"fd {s.fd}: {s.local} -> {s.peer}" for s in left)
                problems.append(f"after {how}: {len(left)} connection(s) open: {shown[:4]}")
        assert not problems, f"{label} left connections open " + "; ".join(problems)
