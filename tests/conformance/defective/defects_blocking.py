"""Defects that block: forever (without a time limit per check, each would hang the whole
conformance run, and the plugin author's CI, with no hint of where), or every other caller."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from byom_sdk import GenerateRequest, GenerateResponse

from ._http import EchoHTTPProvider

__all__ = ["CloseWaitsForever", "GenerateRetakesItsLock", "OneCallAtATime", "StreamWaitsForever"]


class GenerateRetakesItsLock(EchoHTTPProvider):
    """Takes a non-reentrant lock in ``generate`` and again in a helper: the first call
    deadlocks on itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()

    def _refresh_token(self) -> None:
        with self._lock:
            pass

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        with self._lock:
            self._refresh_token()
            return super().handle_generate(request)


class StreamWaitsForever(EchoHTTPProvider):
    """After the last event, waits for a trailer the server never sends."""

    _never = threading.Event()

    def handle_stream(self, request: GenerateRequest) -> Iterator[Any]:
        yield from super().handle_stream(request)
        self._never.wait()


class CloseWaitsForever(EchoHTTPProvider):
    """``close()`` joins a background refresher that never stops."""

    _never = threading.Event()

    def close(self) -> None:
        self._never.wait()
        super().close()


class OneCallAtATime(EchoHTTPProvider):
    """Holds one process-wide lock around every call: concurrent callers queue."""

    _lock = threading.Lock()

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        with self._lock:
            return super().handle_generate(request)
