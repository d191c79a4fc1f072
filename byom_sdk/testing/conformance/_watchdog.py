"""A time limit on every check, so a provider that deadlocks fails its check instead of
hanging the run.

A plugin that never returns — a lock taken and never released, a call without a timeout
against a server that stopped answering — would otherwise stop the whole pytest session
(and its CI job) with no hint of where. The check runs in a worker thread that the pytest
thread waits for; past the limit the check fails with the worker's stack, which shows
where the plugin is stuck. The stuck thread is a daemon: it cannot be killed, but it no
longer holds the run. The same limit bounds closing the model after its class.
"""

from __future__ import annotations

import contextvars
import sys
import sysconfig
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

__all__ = ["DEFAULT_CHECK_TIMEOUT", "Blocked", "run_limited"]

#: seconds a check may take; the slowest honest checks take a few seconds.
DEFAULT_CHECK_TIMEOUT = 120.0

T = TypeVar("T")


class Blocked(pytest.fail.Exception):  # type: ignore[misc,name-defined]  # pytest's Failed: reported as a failure
    """A check (or closing the model) ran past its time limit."""


#: frames shown from the stuck thread (the innermost: where it waits, and who called).
_FRAMES = 8
_STDLIB = sysconfig.get_paths()["stdlib"]


def _stuck_at(frames: list[traceback.FrameSummary]) -> str:
    """`` in name (file:line)`` of the innermost frame outside the standard library."""
    for summary in reversed(frames):
        if not summary.filename.startswith(_STDLIB):
            return f" in {summary.name} ({summary.filename}:{summary.lineno})"
    return ""


def run_limited(func: Callable[[], T], *, limit: float | None, what: str, fix: str) -> T:
    """``func()`` in a worker thread, failing the test when it runs past ``limit`` seconds
    (``None`` or 0: no limit, run here). Its result or exception comes back as is.

    :param what: the thing that did not finish, for the message ("check 'generate.basic'").
    :param fix: what a plugin author should look at.
    """
    if not limit or limit <= 0:
        return func()
    box: dict[str, Any] = {}
    context = contextvars.copy_context()

    def work() -> None:
        try:
            box["value"] = context.run(func)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the pytest thread.
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"byom-conformance: {what}", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        frame = sys._current_frames().get(worker.ident or -1)
        frames = traceback.extract_stack(frame)[-_FRAMES:] if frame is not None else []
        raise Blocked(
            f"{what} did not finish within {limit:g} s: the plugin blocks{_stuck_at(frames)}. {fix}\n"
            f"The innermost frames when the time ran out:\n{''.join(traceback.format_list(frames))}",
            pytrace=False,
        )
    if "error" in box:
        raise box["error"]
    result: T = box["value"]
    return result
