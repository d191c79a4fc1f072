"""Plain-HTTP proxies: the first host that receives a request's plaintext.

A TLS request through a proxy is tunnelled (``CONNECT``): the proxy relays ciphertext to
the host the gate judged, so the destination is unchanged. A plain-HTTP request (a
loopback server, a trusted ``http://`` host, plaintext gRPC) through a proxy is read in
full by the proxy, wherever it runs: the proxy, not the URL's host, is where the data goes,
and a loopback URL no longer "never leaves this machine". HTTP clients take proxies from
the environment when they are built, each by slightly different rules; this module
follows them closely enough to err only towards naming a proxy (a refusal), never towards
missing one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from ._hosts import split_host

__all__ = ["ProxyClient", "plaintext_proxy"]

#: Whose environment rules to follow: botocore reads only ``<scheme>_proxy``; requests and
#: httpx fall back to ``all_proxy``; gRPC reads ``grpc_proxy``, ``https_proxy`` and
#: ``http_proxy`` for every channel (its proxy is a ``CONNECT`` tunnel, which carries a
#: plaintext channel's bytes readable) and exempts ``no_grpc_proxy`` before ``no_proxy``.
ProxyClient = Literal["botocore", "requests", "httpx", "grpc"]

_PROXY_VARS: dict[ProxyClient, tuple[str, ...]] = {
    "botocore": ("http_proxy",),
    "requests": ("http_proxy", "all_proxy"),
    "httpx": ("http_proxy", "all_proxy"),
    "grpc": ("grpc_proxy", "https_proxy", "http_proxy"),
}
_NO_PROXY_VARS: dict[ProxyClient, tuple[str, ...]] = {
    "botocore": ("no_proxy",),
    "requests": ("no_proxy",),
    "httpx": ("no_proxy",),
    "grpc": ("no_grpc_proxy", "no_proxy"),
}
_PLAINTEXT = frozenset({"http", "grpc"})


def _env(environ: Mapping[str, str], name: str) -> str | None:
    # urllib (and so botocore, requests and httpx) lets the lowercase name win; reading
    # both spellings for gRPC too can only name a proxy the channel might not use.
    for key in (name, name.upper()):
        value = environ.get(key, "").strip()
        if value:
            return value
    return None


def _exempt(no_proxy: str, hostname: str, port: int | None) -> bool:
    """Whether a ``NO_PROXY`` list exempts the host, by the rule every client shares: ``*``,
    the host itself or a parent domain (``.example.com`` / ``example.com``), optionally with
    the port. Forms only some clients honour (CIDR ranges, bare suffixes without a dot
    boundary) are not counted, so a proxy is never missed."""
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, entry_port = entry, None
        if entry.startswith("[") and "]" in entry:
            name, _, rest = entry[1:].partition("]")
            entry_port = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:
            name, _, entry_port = entry.partition(":")
        if entry_port is not None and entry_port != str(port):
            continue
        name = name.removeprefix("*").removeprefix(".").rstrip(".")
        if name and (hostname == name or hostname.endswith("." + name)):
            return True
    return False


def plaintext_proxy(
    url: str, *, client: ProxyClient, environ: Mapping[str, str] | None = None, plaintext: bool | None = None
) -> str | None:
    """The proxy ``client`` sends a plaintext request for ``url`` through, from the environment.

    :param url: the destination URL (a bare ``host:port`` needs ``plaintext``).
    :param client: whose environment rules to follow (:data:`ProxyClient`).
    :param environ: the environment to read (default ``os.environ``).
    :param plaintext: whether the connection is unencrypted; default: the URL's scheme is
        ``http`` or ``grpc``.
    :returns: the proxy as configured (a URL or ``host:port``), or ``None`` when the
        request is encrypted, no proxy is set, or ``NO_PROXY`` exempts the host. A URL that
        cannot be parsed gives ``None``: the gate refuses it by itself.
    """
    try:
        target = split_host(url)
    except ValueError:
        return None
    if plaintext is None:
        plaintext = target.scheme in _PLAINTEXT
    if not plaintext:
        return None
    env = os.environ if environ is None else environ
    proxy = next((value for name in _PROXY_VARS[client] if (value := _env(env, name))), None)
    if proxy is None:
        return None
    port = target.effective_port if target.effective_port is not None else target.port
    for name in _NO_PROXY_VARS[client]:
        no_proxy = _env(env, name)
        if no_proxy is not None:
            # gRPC reads no_proxy only when no_grpc_proxy is unset; the others have one list.
            return None if _exempt(no_proxy, target.hostname, port) else proxy
    return proxy
