"""Checks that provider failures surface as core errors with the right ``retryable`` flag,
and that ``request.timeout`` bounds every call."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import pytest

from ..._errors import (
    AuthError,
    BadRequest,
    ByomError,
    ModelError,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
)
from ..._provider import Provider
from ..._types import EmbedRequest, GenerateRequest
from ._core import check, plugin_label
from ._subject import ModelSubject

__all__ = ["EXPECTED_ERRORS", "ErrorChecks", "TimeoutChecks", "dropped_cause"]

#: fault → (error class, expected ``retryable``)
EXPECTED_ERRORS: dict[str, tuple[type[ProviderError], bool]] = {
    "throttled": (Throttled, True),
    "unavailable": (Unavailable, True),
    "bad_request": (BadRequest, False),
    "timeout": (Timeout, False),
    "model_error": (ModelError, False),
    "auth": (AuthError, False),
}


def _raw(name: str, exc: BaseException, expected: str) -> str:
    return (
        f"{name}: raw {type(exc).__module__}.{type(exc).__name__} leaked ({exc}); map it to "
        f"byom_sdk.{expected} and raise ... from exc"
    )


def dropped_cause(name: str, exc: BaseException) -> str | None:
    """What is wrong when ``exc`` was raised ``from None`` while another exception was being
    handled: the original exception — which the contract keeps as ``__cause__`` — is gone
    from the traceback (None when nothing was dropped)."""
    original = exc.__context__
    if exc.__cause__ is not None or original is None or not exc.__suppress_context__:
        return None
    return (
        f"{name}: {type(exc).__name__} was raised 'from None' while handling "
        f"{type(original).__module__}.{type(original).__name__} ({original}): the original is dropped; "
        "keep it as __cause__ (raise ... from exc)"
    )


class ErrorChecks(ModelSubject):
    """Faults provoked through ``make_faulty_model`` raise core errors, never raw ones, on
    every operation: generate, agenerate, stream, astream, embed, aembed — keeping the
    original exception, when there was one, as ``__cause__`` (never ``raise ... from None``).

    Calls go to the plugin's provider directly (a bare pipeline that does not wrap foreign
    exceptions), so a raw client-library exception is caught here instead of hidden.
    """

    def _provoke(
        self, fault: str, inspect: Callable[[str, ByomError], str | None] | None = None, *, unsent: bool = False
    ) -> None:
        probe = self.faulty(fault)
        if probe is None:
            pytest.skip(f"{type(self).__name__}.make_faulty_model offers no {fault!r} fault")
        label = plugin_label(probe)
        problems = self._scenario(fault, probe, lambda: self.faulty(fault), inspect, unsent=unsent)
        assert not problems, f"{label}, fault {fault!r}: " + "; ".join(problems)

    def _scenario(
        self,
        fault: str,
        probe: Provider,
        factory: Callable[[], Provider | None],
        inspect: Callable[[str, ByomError], str | None] | None = None,
        *,
        counted: bool = True,
        unsent: bool = False,
    ) -> list[str]:
        """What goes wrong on every operation of fresh models from ``factory``, which must
        fail with ``fault``'s error (``probe``, one of them, is closed here).

        ``unsent``: the endpoint never ran the request (a refused connection, a throttle),
        so the error must not claim ``request_sent`` — the retry policy never resends a
        request marked sent, and a retryable failure would silently become final."""
        expected, retryable = EXPECTED_ERRORS[fault]
        operations = self.operations(probe)
        probe.close()
        problems: list[str] = []
        for name, operation in operations.items():
            model = factory()
            assert model is not None, f"the {fault!r} scenario returned None after offering it"
            sent = self.fault_requests(fault) if counted else None
            try:
                operation(model)
            except ByomError as exc:
                if not isinstance(exc, expected):
                    problems.append(f"{name}: raised {type(exc).__name__} ({exc}), expected {expected.__name__}")
                elif exc.retryable is not retryable:
                    problems.append(f"{name}: {type(exc).__name__}.retryable is {exc.retryable}, expected {retryable}")
                elif not str(exc).strip():
                    problems.append(f"{name}: {type(exc).__name__} has an empty message")
                elif isinstance(exc, ProviderError) and exc.retry_after is not None and exc.retry_after < 0:
                    problems.append(f"{name}: retry_after={exc.retry_after} is negative")
                elif unsent and isinstance(exc, ProviderError) and exc.request_sent:
                    problems.append(
                        f"{name}: {type(exc).__name__} claims request_sent=True, yet the endpoint never ran the "
                        "request: the retry policy will not retry it (set request_sent only once the request "
                        "went out and the answer was lost)"
                    )
                elif inspect is not None:
                    found = inspect(name, exc)
                    if found:
                        problems.append(found)
                dropped = dropped_cause(name, exc)
                if dropped:
                    problems.append(dropped)
            except Exception as exc:  # noqa: BLE001 - a raw exception escaping is the finding.
                problems.append(_raw(name, exc, expected.__name__))
            else:
                problems.append(f"{name}: fault {fault!r} was provoked but the call succeeded")
            finally:
                model.close()
            after = self.fault_requests(fault) if sent is not None else None
            if sent is not None and after is not None and after - sent > 1:
                problems.append(
                    f"{name}: one call sent {after - sent} requests to the {fault!r} scenario: the provider "
                    "retries on its own (turn the client's retries off; the SDK's RetryPolicy retries)"
                )
        return problems

    @check("errors.throttled")
    def test_errors_throttled(self) -> None:
        """Rate limiting (HTTP 429, ThrottlingException, RESOURCE_EXHAUSTED) raises
        ``Throttled`` with ``retryable=True`` on every operation.

        A throttle is a refusal, not a run: the error never claims ``request_sent`` (2.8).
        Fix: map the provider's throttling error to ``byom_sdk.Throttled`` (``raise ... from
        exc``) on every path, streams included; turn the client library's own retries off.
        """
        self._provoke("throttled", unsent=True)

    @check("errors.retry_after")
    def test_errors_retry_after(self) -> None:
        """The throttled scenario's ``Retry-After`` arrives in ``Throttled.retry_after`` (in
        seconds) on every operation.

        Runs when the subject declares ``throttled_retry_after``. Fix: read the header (or
        the provider's own hint) into ``retry_after=``: delta-seconds or an HTTP date.
        """
        declared = self.throttled_retry_after
        if declared is None:
            pytest.skip(f"{type(self).__name__}.throttled_retry_after is not declared (the scenario sends none)")

        def inspect(name: str, exc: ByomError) -> str | None:
            got = getattr(exc, "retry_after", None)
            if got is None:
                return f"{name}: retry_after is None; the scenario sent Retry-After: {declared:g}"
            if not math.isclose(got, declared, abs_tol=1.0):
                return f"{name}: retry_after={got}, the scenario sent {declared:g}"
            return None

        self._provoke("throttled", inspect)

    @check("errors.unavailable")
    def test_errors_unavailable(self) -> None:
        """An unavailable endpoint (503/500, connection refused) raises ``Unavailable``,
        ``retryable=True``, on the ``unavailable`` fault and on ``make_unreachable_model()``,
        where nothing listens: that error never claims ``request_sent`` (2.8).

        Fix: map 5xx responses and connection errors (``ConnectError``, refused or reset
        connections) to ``byom_sdk.Unavailable`` — a restarting endpoint is not a
        ``BadRequest``.
        """
        faulty = self.faulty("unavailable")
        unreachable = self.make_unreachable_model()
        if faulty is None and unreachable is None:
            pytest.skip(
                f"{type(self).__name__} offers no 'unavailable' fault (make_faulty_model) and no "
                "make_unreachable_model()"
            )
        problems: list[str] = []
        label = plugin_label(faulty or unreachable)  # type: ignore[arg-type]
        if faulty is not None:
            found = self._scenario("unavailable", faulty, lambda: self.faulty("unavailable"))
            problems += [f"fault 'unavailable': {problem}" for problem in found]
        if unreachable is not None:
            found = self._scenario("unavailable", unreachable, self.make_unreachable_model, counted=False, unsent=True)
            problems += [f"unreachable endpoint: {problem}" for problem in found]
        assert not problems, f"{label}: " + "; ".join(problems)

    @check("errors.bad_request")
    def test_errors_bad_request(self) -> None:
        """A request the provider rejects (400/422, validation) raises ``BadRequest``,
        ``retryable=False``.

        Fix: map 4xx validation errors to ``byom_sdk.BadRequest`` naming the field at fault.
        """
        self._provoke("bad_request")

    @check("errors.timeout")
    def test_errors_timeout(self) -> None:
        """A read timeout raises ``Timeout`` with ``retryable=False`` (the model may still be
        running; re-sending would double cost).

        Fix: map the client's timeout exception (``httpx.ReadTimeout``, botocore's
        ``ReadTimeoutError``, ``DEADLINE_EXCEEDED``) to ``byom_sdk.Timeout``, never to a
        retryable ``Unavailable``, and keep it as the cause (``raise Timeout(...) from exc``).
        """
        self._provoke("timeout")

    @check("errors.model_error")
    def test_errors_model_error(self) -> None:
        """A failure inside the model container raises ``ModelError`` (``retryable=False``
        unless the container reported overload).

        Fix: map container errors (SageMaker ModelError, 424, in-stream error events) to
        ``byom_sdk.ModelError``.
        """
        self._provoke("model_error")

    @check("errors.auth")
    def test_errors_auth(self) -> None:
        """Refused credentials (401 / 403, expired tokens, AccessDenied) raise ``AuthError``
        with ``retryable=False``: retrying cannot fix them.

        Fix: map 401/403 and the SDK's credential errors to ``byom_sdk.AuthError`` — not to
        ``Unavailable`` or ``BadRequest``.
        """
        self._provoke("auth")

    @check("errors.mid_stream")
    def test_errors_mid_stream(self) -> None:
        """A stream that breaks after its first event (``make_broken_stream_model()``) ends in
        a core error (``ByomError``) on ``stream`` and ``astream``: never a raw client
        exception, never a normal end that passes a truncated answer off as complete.
        ``generate`` and ``agenerate`` on the same scenario answer or raise a ``ByomError``,
        never a raw exception (a body cut short must not reach the JSON parser unmapped).

        A container killed mid-generation or a proxy's idle timeout drops the connection
        while the provider reads the body. Fix: map client errors around the whole read
        loop (``iter_lines`` / ``aiter_lines``, the event stream), not only around opening
        the response; map an in-stream error event to ``ModelError``.
        """
        probe = self.make_broken_stream_model()
        if probe is None:
            pytest.skip(f"{type(self).__name__}.make_broken_stream_model offers no broken stream scenario")
        label = plugin_label(probe)
        caps = probe.info.capabilities
        probe.close()
        # 2.8: unary calls on the same scenario (a body cut short) answer or raise a
        # ByomError; a scenario that serves unary calls whole simply answers them.
        unary = self._broken_unary() if caps.generate or caps.chat else []
        assert not unary, f"{label}, broken scenario: " + "; ".join(unary)
        if not caps.stream:
            pytest.skip(f"{label}: capability 'stream' not declared")

        async def drain(model: Provider) -> int:
            count = 0
            async for _ in model.astream(self.reference(model)):
                count += 1
            return count

        runs: dict[str, Callable[[Provider], int]] = {
            "stream": lambda m: sum(1 for _ in m.stream(self.reference(m))),
            "astream": lambda m: asyncio.run(drain(m)),
        }
        problems = []
        for name, run in runs.items():
            model = self.make_broken_stream_model()
            assert model is not None, "make_broken_stream_model() returned None after offering a scenario"
            try:
                count = run(model)
            except ByomError as exc:
                dropped = dropped_cause(name, exc)
                if dropped:
                    problems.append(dropped)
                continue
            except Exception as exc:  # noqa: BLE001 - a raw exception escaping is the finding.
                problems.append(_raw(name, exc, "Unavailable (or ModelError)"))
            else:
                problems.append(f"{name}: ended normally after {count} events although the stream was broken")
            finally:
                model.close()
        assert not problems, f"{label}, broken stream: " + "; ".join(problems)

    def _broken_unary(self) -> list[str]:
        """What goes wrong on ``generate`` / ``agenerate`` of the broken scenario: only a raw
        exception (a truncated body handed to ``json.loads``) or a mapped error raised
        ``from None``; an answer is accepted."""
        runs: dict[str, Callable[[Provider], object]] = {
            "generate": lambda m: m.generate(self.reference(m)),
            "agenerate": lambda m: asyncio.run(m.agenerate(self.reference(m))),
        }
        problems = []
        for name, run in runs.items():
            model = self.make_broken_stream_model()
            assert model is not None, "make_broken_stream_model() returned None after offering a scenario"
            try:
                run(model)
            except ByomError as exc:
                dropped = dropped_cause(name, exc)
                if dropped:
                    problems.append(dropped)
            except Exception as exc:  # noqa: BLE001 - a raw exception escaping is the finding.
                problems.append(_raw(name, exc, "Unavailable (or ModelError)"))
            finally:
                model.close()
        return problems


class TimeoutChecks(ModelSubject):
    """``request.timeout`` — the seconds left for the attempt — bounds every operation."""

    def _timed_operations(self, model: Provider, timeout: float) -> dict[str, Callable[[Provider], object]]:
        def request(m: Provider) -> GenerateRequest:
            return self.reference(m, timeout=timeout)

        def embed() -> EmbedRequest:
            return self.embed_request(timeout=timeout)

        return self.operations(model, request=request, embed=embed)

    @check("timeout.request")
    def test_timeout_request(self) -> None:
        """Every operation honours ``request.timeout``: against the slow scenario (which
        stalls ``slow_seconds``) a request with a fifth of that raises ``Timeout``
        (``retryable=False``) in about that time, not after the configured timeout.

        Fix: pass ``request.timeout`` (when set) as the read timeout of this call — per
        call, e.g. ``client.post(..., timeout=request.timeout)`` — on every path, streams
        and async included; map the resulting timeout to ``byom_sdk.Timeout``.
        """
        probe = self.make_slow_model()
        if probe is None:
            pytest.skip(f"{type(self).__name__}.make_slow_model offers no slow scenario")
        label = plugin_label(probe)
        timeout = self.slow_seconds / 5
        allowed = timeout + max(0.25, (self.slow_seconds - timeout) / 2)
        operations = self._timed_operations(probe, timeout)
        probe.close()
        problems: list[str] = []
        for name, operation in operations.items():
            problem = self._timed(name, operation, timeout, allowed)
            if problem is not None and problem.startswith(f"{name}: Timeout after"):
                problem = self._timed(name, operation, timeout, allowed)  # a busy machine, or slow?
            if problem is not None:
                problems.append(problem)
        assert not problems, f"{label}, slow scenario ({self.slow_seconds:g} s): " + "; ".join(problems)

    def _timed(self, name: str, operation: Callable[[Provider], object], timeout: float, allowed: float) -> str | None:
        """What is wrong with ``operation`` on a fresh slow model, or ``None``."""
        model = self.make_slow_model()
        assert model is not None
        started = time.perf_counter()
        try:
            operation(model)
        except Timeout as exc:
            elapsed = time.perf_counter() - started
            if elapsed > allowed:
                return f"{name}: Timeout after {elapsed:.2f} s for timeout={timeout:.2f} s"
            if exc.retryable:
                return f"{name}: Timeout.retryable is True"
            return None
        except ByomError as exc:
            return f"{name}: raised {type(exc).__name__} ({exc}), expected Timeout"
        except Exception as exc:  # noqa: BLE001 - a raw exception escaping is the finding.
            return _raw(name, exc, "Timeout")
        finally:
            model.close()
        elapsed = time.perf_counter() - started
        return f"{name}: answered after {elapsed:.2f} s, ignoring timeout={timeout:.2f} s"
