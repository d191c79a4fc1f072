"""Checks that provider failures surface as core errors with the right ``retryable`` flag."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from ..._errors import (
    BadRequest,
    ByomError,
    ModelError,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
)
from ..._model import Model
from ._core import check, plugin_label
from ._subject import ModelSubject

__all__ = ["EXPECTED_ERRORS", "ErrorChecks"]

#: fault → (error class, expected ``retryable``)
EXPECTED_ERRORS: dict[str, tuple[type[ProviderError], bool]] = {
    "throttled": (Throttled, True),
    "unavailable": (Unavailable, True),
    "bad_request": (BadRequest, False),
    "timeout": (Timeout, False),
    "model_error": (ModelError, False),
}


class ErrorChecks(ModelSubject):
    """Faults provoked through ``make_faulty_model`` raise core errors, never raw ones.

    Calls go to the plugin's model directly (not a ``ManagedModel``), so a raw provider
    exception is caught here instead of being wrapped by the core.
    """

    def _operations(self, model: Model) -> dict[str, Callable[[Model], object]]:
        caps = model.info.capabilities
        ops: dict[str, Callable[[Model], object]] = {}
        if caps.generate or caps.chat:
            ops["generate"] = lambda m: m.generate(self.reference(m))
            ops["agenerate"] = lambda m: asyncio.run(m.agenerate(self.reference(m)))
        if caps.stream:
            ops["stream"] = lambda m: list(m.stream(self.reference(m)))
        if caps.embed:
            ops["embed"] = lambda m: m.embed(list(self.embed_texts))
            ops["aembed"] = lambda m: asyncio.run(m.aembed(list(self.embed_texts)))
        return ops

    def _check_fault(self, fault: str) -> None:
        expected, retryable = EXPECTED_ERRORS[fault]
        probe = self.make_faulty_model(fault)
        if probe is None:
            pytest.skip(f"{type(self).__name__}.make_faulty_model offers no {fault!r} fault")
        label = plugin_label(probe)
        operations = self._operations(probe)
        probe.close()
        problems: list[str] = []
        for name, operation in operations.items():
            model = self.make_faulty_model(fault)
            assert model is not None
            try:
                operation(model)
            except ByomError as exc:
                if not isinstance(exc, expected):
                    problems.append(f"{name}: raised {type(exc).__name__}, expected {expected.__name__}")
                elif exc.retryable is not retryable:
                    problems.append(f"{name}: {type(exc).__name__}.retryable is {exc.retryable}, expected {retryable}")
                elif not str(exc).strip():
                    problems.append(f"{name}: {type(exc).__name__} has an empty message")
                elif isinstance(exc, Throttled) and exc.retry_after is not None and exc.retry_after < 0:
                    problems.append(f"{name}: retry_after={exc.retry_after} is negative")
            except Exception as exc:  # noqa: BLE001 - a raw exception escaping is the finding.
                problems.append(
                    f"{name}: raw {type(exc).__module__}.{type(exc).__name__} leaked ({exc}); map it to "
                    f"byom_sdk.{expected.__name__} and raise ... from exc"
                )
            else:
                problems.append(f"{name}: fault {fault!r} was provoked but the call succeeded")
            finally:
                model.close()
        assert not problems, f"{label}, fault {fault!r}: " + "; ".join(problems)

    @check("errors.throttled")
    def test_errors_throttled(self) -> None:
        """Rate limiting (HTTP 429, ThrottlingException, RESOURCE_EXHAUSTED) raises
        ``Throttled`` with ``retryable=True`` and the provider's ``retry_after`` hint.

        Fix: map the provider's throttling error to ``byom_sdk.Throttled`` (``raise ... from
        exc``), reading ``Retry-After``; turn the client library's own retries off.
        """
        self._check_fault("throttled")

    @check("errors.unavailable")
    def test_errors_unavailable(self) -> None:
        """An unavailable endpoint (503/500, connection refused) raises ``Unavailable``,
        ``retryable=True``.

        Fix: map 5xx responses and connection errors to ``byom_sdk.Unavailable``.
        """
        self._check_fault("unavailable")

    @check("errors.bad_request")
    def test_errors_bad_request(self) -> None:
        """A request the provider rejects (400/422, validation) raises ``BadRequest``,
        ``retryable=False``.

        Fix: map 4xx validation errors to ``byom_sdk.BadRequest`` naming the field at fault.
        """
        self._check_fault("bad_request")

    @check("errors.timeout")
    def test_errors_timeout(self) -> None:
        """A read timeout raises ``Timeout`` with ``retryable=False`` (the model may still be
        running; re-sending would double cost).

        Fix: honour ``request.timeout`` as the read timeout and map the client's timeout
        exception to ``byom_sdk.Timeout``.
        """
        self._check_fault("timeout")

    @check("errors.model_error")
    def test_errors_model_error(self) -> None:
        """A failure inside the model container raises ``ModelError`` (``retryable=False``
        unless the container reported overload).

        Fix: map container errors (SageMaker ModelError, 424, in-stream error events) to
        ``byom_sdk.ModelError``.
        """
        self._check_fault("model_error")
