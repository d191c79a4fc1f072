"""Keeping configured secrets out of every message the SDK produces.

Two kinds of secret can reach an error message, a repr or a log line through values the
SDK quotes: values interpolated from ``${ENV}`` in byom.toml (an API key, a token in a
URL), and credentials written into URLs (``https://user:password@host``, ``?sig=...``).
Every :class:`~byom_sdk.ByomError` passes its message through :func:`redact`, which shows
the variable's name instead of its value and masks URL credentials; reprs of providers do
the same. The table of interpolated values lives in this process only.
"""

from __future__ import annotations

import re
import threading
from typing import Any

__all__ = ["redact", "redact_value", "remember_secret"]

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
