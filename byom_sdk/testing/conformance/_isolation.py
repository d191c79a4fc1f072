"""Checks that a call leaves the application's process as it found it: the global random
generators, the environment, the working directory, ``sys.path``, the root logger, the
socket default timeout and the standard streams belong to the application, not to a plugin.

A plugin that seeds ``random`` to honour ``request.seed`` makes every random sequence of the
application repeat after each call; one that sets an environment variable per call changes
what every other client library in the process reads.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import random
import socket
import sys
from collections.abc import Callable, Generator
from typing import Any

from ..._provider import Provider
from ._core import check, plugin_label
from ._subject import ModelSubject

__all__ = ["IsolationChecks"]


def _numpy_state() -> Any:
    numpy = sys.modules.get("numpy")  # only when something imported it: never import it here
    if numpy is None:
        return None
    state = numpy.random.get_state()
    return (state[0], state[1].tobytes(), *state[2:])


def _process_state() -> dict[str, object]:
    root = logging.getLogger()
    return {
        "os.environ": dict(os.environ),
        "the working directory": os.getcwd(),
        "sys.path": list(sys.path),
        "the root logger's level": root.level,
        "the root logger's handlers": [type(h).__name__ for h in root.handlers],
        "socket.getdefaulttimeout()": socket.getdefaulttimeout(),
    }


def _changes(before: dict[str, object], after: dict[str, object]) -> list[str]:
    changed = []
    for name, old in before.items():
        new = after[name]
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
            changed.append(f"{name} ({', '.join(keys[:5])})")
        else:
            changed.append(f"{name} ({old!r} -> {new!r})")
    return changed


def _run(operation: Callable[[Provider], object], model: Provider, must_succeed: bool) -> None:
    try:
        operation(model)
    except Exception:
        if must_succeed:
            raise


class IsolationChecks(ModelSubject):
    """Calls leave the application's global state alone."""

    def _isolation_calls(
        self, byom_model: Provider, faults: tuple[str, ...]
    ) -> Generator[tuple[str, Callable[[], None]], None, None]:
        """Every operation on ``byom_model``, then on each of ``faults``' scenarios offered:
        ``(what, call)``. A fault scenario's call fails, and is meant to (what the call did to
        the process is judged); the model's must not."""
        scenarios: list[tuple[str, Provider]] = [("", byom_model)]
        for fault in faults:
            model = self.faulty(fault)
            if model is not None:
                scenarios.append((f" (fault {fault!r})", model))
        try:
            for label, model in scenarios:
                for name, operation in self.operations(model).items():
                    yield f"{name}{label}", functools.partial(_run, operation, model, model is byom_model)
        finally:
            for _, model in scenarios[1:]:
                model.close()

    @check("isolation.global_random")
    def test_isolation_global_random(self, byom_model: Provider) -> None:
        """No operation seeds or draws from the global ``random`` generator (nor numpy's
        legacy global one), with and without ``seed``.

        Fix: keep a ``random.Random(seed)`` (or ``numpy.random.default_rng(seed)``) per
        request or per provider; never call ``random.seed`` or module-level ``random.*``.
        """
        problems = []
        passes: list[tuple[str, Any]] = [("without seed", None)]
        if byom_model.info.capabilities.seed:
            passes.append(("with seed=7", lambda m: self.reference(m, seed=7)))
        numpy = sys.modules.get("numpy")
        saved = random.getstate(), (numpy.random.get_state() if numpy is not None else None)
        try:
            for label, request in passes:
                for name, operation in self.operations(byom_model, request=request).items():
                    random.seed(os.urandom(16))  # a state no plugin could reproduce by seeding
                    expected = random.getstate()
                    numpy = sys.modules.get("numpy")
                    if numpy is not None:
                        numpy.random.seed(int.from_bytes(os.urandom(4), "big"))
                    numpy_before = _numpy_state()
                    operation(byom_model)
                    if random.getstate() != expected:
                        problems.append(f"{name} {label}: the global random module was seeded or drawn from")
                    elif _numpy_state() != numpy_before:
                        problems.append(f"{name} {label}: numpy's global random state changed")
        finally:  # the application's (here: the test run's) generators as they were
            random.setstate(saved[0])
            numpy = sys.modules.get("numpy")
            if numpy is not None and saved[1] is not None:
                numpy.random.set_state(saved[1])
        assert not problems, f"{plugin_label(byom_model)} touches the application's random state: " + "; ".join(
            problems[:4]
        )

    @check("isolation.process_state")
    def test_isolation_process_state(self, byom_model: Provider) -> None:
        """Every operation leaves ``os.environ``, the working directory, ``sys.path``, the
        root logger's level and handlers and ``socket.getdefaulttimeout()`` as it found
        them (the fault scenarios too).

        Fix: pass settings to the client library (its config, a session, a per-request
        timeout) instead of the process; configure the plugin's own logger, never the
        root one (``logging.basicConfig`` is the application's call).
        """
        problems = []
        with contextlib.closing(self._isolation_calls(byom_model, ("unavailable", "timeout"))) as calls:
            for what, call in calls:
                before = _process_state()
                call()
                changed = _changes(before, _process_state())
                if changed:
                    problems.append(f"{what} changed {'; '.join(changed)}")
        assert not problems, f"{plugin_label(byom_model)} changes the application's process: " + "; ".join(problems[:4])

    @check("isolation.output")
    def test_isolation_output(self, byom_model: Provider) -> None:
        """No operation writes to ``sys.stdout`` or ``sys.stderr`` (the fault scenarios too).

        Standard output is the application's: ``byom serve`` logs JSON there, a CLI pipes
        its answer from it, and a leftover ``print(response)`` puts customer text in
        whatever collects the process's output. Fix: log through the plugin's own logger.
        """
        problems = []
        with contextlib.closing(self._isolation_calls(byom_model, ("bad_request",))) as calls:
            for what, call in calls:
                out, err = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    call()
                for stream, text in (("stdout", out.getvalue()), ("stderr", err.getvalue())):
                    if text:
                        problems.append(f"{what} wrote {len(text)} characters to {stream}: {text[:60]!r}")
        assert not problems, f"{plugin_label(byom_model)} writes to the standard streams: " + "; ".join(problems[:4])
