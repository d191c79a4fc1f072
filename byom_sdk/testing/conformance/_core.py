"""The machinery shared by every conformance class: check ids, the base class, skips.

A *check* is a test method decorated with :func:`check`, which gives it a stable id
(``generate.usage``) used by ``expected_failures``, the JSON report and the docs. Checks
are grouped into classes a plugin author subclasses; the author supplies factories
(``make_model``...) and never the checks themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pytest

from ._watchdog import DEFAULT_CHECK_TIMEOUT

if TYPE_CHECKING:
    from ..._provider import Provider

__all__ = [
    "FAULTS",
    "NEW_FAULTS",
    "SUITE_VERSION",
    "CheckInfo",
    "Conformance",
    "all_checks",
    "check",
    "check_of",
    "require_capability",
]

#: Version of the check set. Minor bumps add checks (first in the preview group), major
#: bumps change what an existing check demands. 2.0: every clause of the contract has a
#: check, on sync and async, unary and streaming; ``close.releases_threads`` left preview.
#: 2.1: ``generate.seed`` left preview, and checks for defects 2.0 missed went straight to
#: the default set, each skipped without the capability or scenario it needs
#: (``async.generate_cancel``, ``close.releases_sockets``, ``info.in_process``,
#: ``errors.mid_stream``, ``generate.default_limit``, ``embed.batch``, ``embed.empty_text``,
#: ``embed.usage``); existing checks now also try what their docstrings promised (stop
#: strings across deltas and at index 0, async parity under limits, astream tool calls).
#: 2.2: ``tools.choice_none`` and ``concurrency.parallel``, for defects 2.1 missed, went
#: straight to the default set as in 2.1 (skipped without ``tools`` / a slow scenario).
#: 2.3: the ``wire.*`` checks read what reached the endpoint (the HTTP/1.1 requests sent
#: off the process's sockets, or ``received_requests``), skipped when neither shows any.
#: 2.4: checks for defects 2.3 missed, straight to the default set as in 2.1, each skipped
#: without the capability or scenario it needs (``concurrency.async_parallel``,
#: ``input.empty``, ``stream.stop_unmatched``, ``wire.request_id``, ``embed.repeated_text``,
#: ``embed.long_text``, ``generate.latency``); existing checks try more: the whole usage
#: under concurrency, several stop strings, ``astream`` pacing, tasks left by a cancelled
#: ``agenerate``, ``aclose()``, the caller's ``metadata``, the cause of a mapped error.
#: ``stream.usage`` accepts running counts whose last one is the final usage.
#: 2.5: ``secrets.repr``, ``secrets.errors``, ``secrets.logs`` (credentials the suite finds on
#: the provider never in its repr, its errors or its logs), skipped when it finds none.
#: ``isolation.global_random`` and ``isolation.process_state``: calls leave the global random
#: generators, the environment, cwd, ``sys.path``, the root logger and the socket timeout alone;
#: ``isolation.output``: no call writes to the standard streams.
#: 2.6: ``isolation.import``: importing the plugin's entry-point module loads no framework or
#: cloud SDK, starts no thread, reaches no network, prints nothing and takes under 2 s.
#: ``wire.top_k``: a caller's ``top_k`` is sent, or the call refused before it is sent.
#: 2.7: ``wire.tool_choice``: a named ``tool_choice`` reaches the endpoint, or the call is
#: refused naming it.
#: 2.8: ``isolation.instances`` (providers of one plugin share no client, cache or closed
#: state) and ``info.boundary_host`` (the boundary's host is where the client connects);
#: existing checks try more: ``embed.batch`` on ``aembed``, ``errors.mid_stream`` on unary
#: calls, ``request_sent`` never claimed for a throttle or a refused connection, and a
#: decomposed-accent text in the tokenizer samples.
SUITE_VERSION = "2.8"

#: The faults ``make_faulty_model`` may be asked for, and the error each must raise.
FAULTS = ("throttled", "unavailable", "bad_request", "timeout", "model_error", "auth")

#: Faults added after suite 1.0: a subject written for 1.0 may not know them, so a
#: ``KeyError`` / ``ValueError`` / ``NotImplementedError`` from ``make_faulty_model`` for
#: one of these means "not offered" (a skip), not a broken harness.
NEW_FAULTS = frozenset({"auth"})

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE = __name__.rpartition(".")[0]


@dataclass(frozen=True)
class CheckInfo:
    """What the suite knows about one check.

    :param id: the stable id, ``area.topic``.
    :param name: the test method's name.
    :param preview: new checks run only when preview is enabled.
    :param summary: the first line of the check's docstring.
    """

    id: str
    name: str
    preview: bool
    summary: str


_REGISTRY: dict[str, CheckInfo] = {}


def check(check_id: str, *, preview: bool = False) -> Callable[[F], F]:
    """Mark a test method as the standard check ``check_id``.

    :param check_id: ``area.topic``; unique across the suite.
    :param preview: put the check in the preview group (off unless enabled).
    """

    def decorate(func: F) -> F:
        doc = inspect.getdoc(func) or ""
        info = CheckInfo(check_id, func.__name__, preview, " ".join(doc.split("\n\n")[0].split()))
        known = _REGISTRY.get(check_id)
        if known is not None and known.name != func.__name__:
            raise ValueError(f"check id {check_id!r} used twice ({known.name}, {func.__name__})")
        _REGISTRY[check_id] = info
        func.__byom_check__ = info  # type: ignore[attr-defined]
        return func

    return decorate


def all_checks() -> dict[str, CheckInfo]:
    """Every check id the suite defines, preview included."""
    return dict(_REGISTRY)


def check_of(cls: type, name: str) -> CheckInfo | None:
    """The standard check a test method name stands for in ``cls``, if any."""
    for klass in cls.__mro__:
        if klass.__module__.startswith(_PACKAGE):
            info = getattr(vars(klass).get(name), "__byom_check__", None)
            if isinstance(info, CheckInfo):
                return info
    return None


def _standard_checks(cls: type) -> dict[str, tuple[type, CheckInfo]]:
    found: dict[str, tuple[type, CheckInfo]] = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith(_PACKAGE):
            continue
        for name, value in vars(klass).items():
            info = getattr(value, "__byom_check__", None)
            if isinstance(info, CheckInfo):
                found[name] = (klass, info)
    return found


def _declared_reason(value: Any) -> str | None:
    for mark in getattr(value, "pytestmark", ()):
        if mark.name in ("xfail", "skip", "skipif") and mark.kwargs.get("reason"):
            return str(mark.kwargs["reason"])
    return None


def plugin_label(model: Provider) -> str:
    """``provider 'x' (Class)``: how skip and failure messages name the plugin."""
    try:
        provider = model.info.provider
    except Exception:  # noqa: BLE001 - the label must not hide the real failure.
        provider = "?"
    return f"plugin '{provider}' ({type(model).__name__})"


def require_capability(model: Provider, capability: str, *, any_of: tuple[str, ...] = ()) -> None:
    """Skip the running check unless ``model`` declares ``capability`` (or one of ``any_of``).

    The reason names the plugin and the capability, so a skip is never mistaken for a pass.
    """
    caps = model.info.capabilities
    names = any_of or (capability,)
    if not any(getattr(caps, name) for name in names):
        wanted = " or ".join(repr(n) for n in names)
        pytest.skip(f"{plugin_label(model)}: capability {wanted} not declared by model '{model.info.id}'")


class Conformance:
    """Base of the conformance classes; holds the settings every class shares.

    :cvar expected_failures: ``{check_id: reason}``; each listed check runs as a *strict*
        xfail, so it fails the run as soon as the plugin starts passing it (then delete
        the entry).
    :cvar overridden_checks: ``{check_id: reason}`` for checks the subclass deliberately
        redefines (an adapted version of the check). Overriding or deleting a standard
        check without an entry here, in ``expected_failures`` or an ``xfail``/``skip``
        mark with a reason fails ``suite.no_overrides``.
    :cvar preview: run the preview group too (also ``--byom-conformance-preview``).
    :cvar check_timeout: seconds a check (and closing the model) may take before it fails
        as blocked, with the stack of where the plugin is stuck; ``0`` turns the limit off
        (``--byom-conformance-timeout`` / ``$BYOM_CONFORMANCE_TIMEOUT`` override it).
    """

    expected_failures: ClassVar[Mapping[str, str]] = {}
    overridden_checks: ClassVar[Mapping[str, str]] = {}
    preview: ClassVar[bool] = False
    check_timeout: ClassVar[float] = DEFAULT_CHECK_TIMEOUT

    @check("suite.no_overrides")
    def test_suite_no_overrides(self) -> None:
        """No standard check is deleted or overridden without a declared reason.

        Fails when the subclass assigns ``None`` to a check, or redefines a check method
        without listing its id in ``overridden_checks`` / ``expected_failures`` (or marking
        the override ``@pytest.mark.xfail(reason=...)``), and when those maps name ids the
        suite does not have. Fix: declare the reason, or remove the override and fix the
        plugin instead.
        """
        cls = type(self)
        problems: list[str] = []
        declared = {**cls.overridden_checks, **cls.expected_failures}
        for name, (_base, info) in sorted(_standard_checks(cls).items()):
            owner = next((k for k in cls.__mro__ if name in vars(k)), None)
            if owner is not None and owner.__module__.startswith(_PACKAGE):
                continue
            value = vars(owner)[name] if owner is not None else None
            if info.id in declared or _declared_reason(value):
                continue
            what = "deleted" if not callable(value) else f"overridden in {owner.__name__ if owner else '?'}"
            problems.append(
                f"check '{info.id}' ({name}) is {what} without a declared reason; add "
                f"'{info.id}' to overridden_checks or expected_failures with the reason"
            )
        known = all_checks()
        for attr in ("expected_failures", "overridden_checks"):
            for check_id in getattr(cls, attr):
                if check_id not in known:
                    problems.append(f"{attr} names unknown check '{check_id}' (suite {SUITE_VERSION})")
                elif not str(getattr(cls, attr)[check_id]).strip():
                    problems.append(f"{attr}['{check_id}'] needs a reason")
        assert not problems, "\n".join(problems)
