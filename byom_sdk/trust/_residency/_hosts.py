"""Hosts and URLs as the residency gate sees them: split, classified and redacted.

Standard library only, and imported lazily by :class:`byom_sdk.Boundary`'s validators, so
``import byom_sdk`` stays light. Parsing is deliberately stricter than ``urlsplit``: a URL
that two parsers could read as two different hosts (a backslash in the authority, control
characters, a percent-encoded host) is refused rather than guessed, because the gate and
the HTTP client must agree on where a request goes.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

__all__ = [
    "HostKind",
    "HostPort",
    "classify_host",
    "host_of",
    "is_loopback",
    "redact_url",
    "same_destination",
    "split_host",
    "unparseable_host",
]

HostKind = Literal["loopback", "ip", "dns"]

_DEFAULT_PORTS = {"https": 443, "grpcs": 443, "http": 80, "grpc": 80}
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_DNS_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
# Query parameters whose values are not secrets and help a reader (Azure's api-version).
_PUBLIC_QUERY_KEYS = frozenset({"api-version", "alt", "version"})
_UNPARSEABLE = "<unparseable: "


@dataclass(frozen=True)
class HostPort:
    """A destination host as a client connects to it.

    :param hostname: lowercase, IPv6 without brackets, no trailing dot.
    :param port: the explicit port, or ``None`` when the URL gave none.
    :param scheme: the URL scheme (``https``, ``grpcs``…), or ``None`` for a bare host.
    """

    hostname: str
    port: int | None = None
    scheme: str | None = None

    @property
    def host(self) -> str:
        """``host[:port]`` with IPv6 addresses in brackets (how the audit names it)."""
        name = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{name}:{self.port}" if self.port is not None else name

    @property
    def kind(self) -> HostKind:
        return classify_host(self.hostname)

    @property
    def effective_port(self) -> int | None:
        """The port the client will use (the scheme's default when none is given)."""
        if self.port is not None:
            return self.port
        return _DEFAULT_PORTS.get(self.scheme or "")


_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$")


def _ip(hostname: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(hostname)
    except ValueError:
        return None


def _legacy_ipv4(hostname: str) -> ipaddress.IPv4Address | None:
    """The address a numeric host other than a dotted quad stands for (``2130706433``,
    ``0x7f000001``, ``127.1``, ``0177.0.0.1``, ``0``): the C resolver (``inet_aton``) reads
    these as IPv4 without any DNS lookup, so HTTP clients connect there."""
    if not _NUMERIC_HOST.match(hostname) or not any(c.isdigit() for c in hostname):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(hostname))
    except (OSError, ValueError):
        return None


def classify_host(hostname: str) -> HostKind:
    """``loopback`` (this machine), ``ip`` (a literal address) or ``dns`` (a name).

    The unspecified addresses (``0.0.0.0``, ``::``) count as loopback: connecting to them
    reaches this machine. ``localhost`` and ``*.localhost`` are loopback by RFC 6761.
    """
    name = hostname.lower().strip("[]").rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    ip = _ip(name) or _legacy_ipv4(name)
    if ip is None:
        return "dns"
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if ip.is_loopback or ip.is_unspecified:
        return "loopback"
    return "ip"


def split_host(value: str) -> HostPort:
    """Split a URL (``https://h:1/p``), a ``host:port`` or a bare host.

    :raises ValueError: when the value has no host, an invalid port, or characters that
        HTTP clients disagree on (backslashes, whitespace, percent-encoding in the host).
    """
    text = value.strip()
    if not text:
        raise ValueError("empty host")
    if text.startswith(_UNPARSEABLE) and text.endswith(">"):
        raise ValueError(text[len(_UNPARSEABLE) : -1])
    if _UNSAFE.search(text):
        raise ValueError(f"{_safe_repr(text)} contains a backslash, whitespace or a control character")
    has_scheme = "://" in text
    parts = urlsplit(text if has_scheme else f"//{text}")
    try:
        hostname = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{_safe_repr(text)} has an invalid port: {exc}") from None
    if not hostname:
        raise ValueError(f"{_safe_repr(text)} names no host")
    hostname = hostname.lower()
    if hostname.endswith(".") and not hostname.endswith(".."):
        hostname = hostname[:-1]
    if _ip(hostname) is None:
        legacy = _legacy_ipv4(hostname)
        if legacy is not None:
            # The gate and the client must read one address: refuse the spelling, name it.
            shown = _safe_repr(text)
            raise ValueError(f"{shown} spells IPv4 address {legacy} in a legacy numeric form; write {legacy}")
        if not _DNS_NAME.match(hostname):
            raise ValueError(f"{_safe_repr(text)} does not name a valid host")
    return HostPort(hostname=hostname, port=port, scheme=parts.scheme.lower() if has_scheme else None)


def is_loopback(endpoint: str | None) -> bool:
    """True when ``endpoint`` (a URL, ``host:port`` or bare host) names this machine:
    127.0.0.0/8, ::1, the unspecified addresses or ``localhost``. Not a valid endpoint:
    False."""
    if not endpoint:
        return False
    try:
        return split_host(endpoint).kind == "loopback"
    except ValueError:
        return False


def host_of(value: str | None) -> str | None:
    """``host[:port]`` of a URL or host, or ``None`` when it cannot be parsed."""
    if not value:
        return None
    try:
        return split_host(value).host
    except ValueError:
        return None


def unparseable_host(value: str) -> str:
    """A marked stand-in for a host ``split_host`` refuses, ``<unparseable: reason>``: it
    never parses (so the gate refuses it, giving the reason), names the value only
    redacted, and is its own stand-in."""
    if value.startswith(_UNPARSEABLE):
        return value
    try:
        split_host(value)
    except ValueError as exc:
        return f"{_UNPARSEABLE}{exc}>"
    raise ValueError(f"{_safe_repr(value)} is a valid host")


def same_destination(a: HostPort, b: HostPort) -> bool:
    """Whether two URLs reach the same host and port (default ports filled in)."""
    return a.hostname == b.hostname and a.effective_port == b.effective_port


def _safe_repr(text: str) -> str:
    return repr(redact_url(text))


def redact_url(url: str) -> str:
    """``url`` without its userinfo, query values or fragment.

    ``https://user:pw@h/x?key=s&api-version=1`` becomes
    ``https://***@h/x?key=***&api-version=1``: a URL that becomes a ``Boundary.endpoint``
    lands in the audit log, errors and telemetry, so credentials in it never may.
    """
    text = url.strip()
    try:
        has_scheme = "://" in text
        parts = urlsplit(text if has_scheme else f"//{text}")
    except ValueError:
        # Unparseable: keep only what precedes any userinfo or query.
        head = text.split("?", 1)[0].split("#", 1)[0]
        return "***@" + head.rsplit("@", 1)[1] if "@" in head else head
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = ""
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = "&".join(
            f"{quote(k, safe='-_.')}={quote(v, safe='-_.') if k.lower() in _PUBLIC_QUERY_KEYS else '***'}"
            for k, v in pairs
        )
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return rebuilt if has_scheme else rebuilt.removeprefix("//")
