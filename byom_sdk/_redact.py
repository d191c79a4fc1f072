"""Keeping configured secrets out of every message the SDK produces.

Two kinds of secret can reach an error message, a repr or a log line through values the
SDK quotes: values interpolated from ``${ENV}`` in byom.toml (an API key, a token in a
URL), and credentials written into URLs (``https://user:password@host``, ``?sig=...``).
Every :class:`~byom_sdk.ByomError` passes its message through :func:`redact`, which shows
the variable's name instead of its value and masks URL credentials; reprs of providers do
the same. The table of interpolated values lives in this process only.

The HTTP client libraries the providers use log what they send on their own loggers (httpx
the URL of every request at INFO, userinfo included; urllib3 the path and query; botocore
headers and bodies at DEBUG). Importing this module puts :class:`RedactRecords` on those
loggers, so an application that turns their logging on still gets no configured secret.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

__all__ = ["THIRD_PARTY_LOGGERS", "RedactRecords", "redact", "redact_value", "remember_secret"]

#: interpolated values shorter than this are not redacted: replacing "1" or "eu" in
#: every message would garble them, and such values are not secrets.
MIN_SECRET_LENGTH = 6

_values: dict[str, str] = {}
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None

# userinfo in a URL, and query values of parameters that carry credentials
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s?#]+@")  # up to the last "@": pa@ss
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:[\w.-]*(?:key|token|secret|password|passwd|pwd|sig|signature|credential|auth|code)[\w.-]*))=[^&#\s]*",
    re.IGNORECASE,
)


def remember_secret(value: str, name: str) -> None:
    """Note that ``value`` came from environment variable ``name``."""
    global _pattern
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if _values.get(value) == f"${{{name}}}":
            return
        _values[value] = f"${{{name}}}"
        quoted = repr(value)[1:-1]  # how messages that repr() it show it: "tok\\en"
        if quoted != value:
            _values[quoted] = f"${{{name}}}"
        ordered = sorted(_values, key=len, reverse=True)  # longest first: no partial overlaps
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: str) -> str:
    """``text`` with interpolated secrets named, URL userinfo and credential query values
    masked."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(lambda match: _values.get(match.group(0), "***"), text)
    if "://" in text and "@" in text:
        text = _USERINFO.sub(r"\g<scheme>***@", text)
    if "=" in text and ("?" in text or "&" in text):
        text = _SECRET_QUERY.sub(r"\g<key>=***", text)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    """:func:`redact` applied to every string in ``value`` (dicts, lists and tuples are
    copied): an error's ``details`` quote bodies that may echo a key back."""
    if isinstance(value, str):
        return redact(value)
    if depth > 32:
        return value
    if isinstance(value, dict):
        return {key: redact_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(item, depth + 1) for item in value)
    return value


class RedactRecords(logging.Filter):
    """Passes every record through :func:`redact` (its message and arguments merged)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: logging reports it itself, at emit
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_text:  # a traceback formatted earlier, by another handler
            record.exc_text = redact(record.exc_text)
        return True


#: Loggers of third-party clients that print what a provider sends: URLs with userinfo
#: or query strings, headers, bodies. A logger's filters run only for records logged on
#: it, not on its children, so each is named. Only records that are emitted pay for it:
#: a logger filters after its level check.
THIRD_PARTY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "urllib3.connectionpool",
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.hooks",
    "botocore.auth",
    "google.auth.transport.requests",
)


def _guard_third_party_loggers() -> None:
    for name in THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactRecords) for f in logger.filters):
            logger.addFilter(RedactRecords())


_guard_third_party_loggers()
