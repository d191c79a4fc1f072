"""What the checks observe of the process's network use: TCP connections opened (an audit
hook on ``socket.connect``) and the client TCP sockets open right now.

Both look at the whole process, so the checks using them run one provider at a time and
ignore the harness's own servers (listening sockets and the connections they accepted).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ClientSocket", "client_sockets", "recording_connects", "recording_destinations"]

_INET = (socket.AF_INET, socket.AF_INET6)
_lock = threading.Lock()
_recorders: list[list[str]] = []
#: recorders of (host, port) pairs looked up (``socket.getaddrinfo``) or connected to.
_destinations: list[list[tuple[str, int | None]]] = []
_hooked = False


def _destination(event: str, args: tuple[object, ...]) -> None:
    if event == "socket.getaddrinfo" and len(args) >= 2:
        host, port = args[0], args[1]
    elif event == "socket.connect" and len(args) >= 2 and isinstance(args[1], tuple) and len(args[1]) >= 2:
        host, port = args[1][0], args[1][1]
    else:
        return
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return
    number = int(port) if isinstance(port, int) or (isinstance(port, str) and port.isdigit()) else None
    with _lock:
        for recorder in _destinations:
            recorder.append((host.lower(), number))


def _audit(event: str, args: tuple[object, ...]) -> None:
    # Called for every audited event of the process once installed: keep the common path cheap.
    if _destinations and event in ("socket.getaddrinfo", "socket.connect"):
        _destination(event, args)
    if event != "socket.connect" or not _recorders:
        return
    sock, address = args[0], args[1] if len(args) > 1 else None
    if getattr(sock, "family", None) not in _INET:
        return  # AF_UNIX socket pairs (event loops, multiprocessing) stay on the machine
    with _lock:
        for recorder in _recorders:
            recorder.append(repr(address))


@contextlib.contextmanager
def recording_connects() -> Iterator[list[str]]:
    """Record the address of every TCP/UDP ``connect`` any thread of the process makes
    inside the block (Python-level sockets: a native client connecting in C is not seen).

    The audit hook is installed once, on first use, and cannot be removed; outside the
    block it returns at once.
    """
    _install()
    found: list[str] = []
    with _lock:
        _recorders.append(found)
    try:
        yield found
    finally:
        with _lock:
            _recorders.remove(found)


def _install() -> None:
    global _hooked
    with _lock:
        if not _hooked:
            sys.addaudithook(_audit)
            _hooked = True


@contextlib.contextmanager
def recording_destinations() -> Iterator[list[tuple[str, int | None]]]:
    """Record the ``(host, port)`` of every name lookup and TCP connect any thread of the
    process makes inside the block: the host names a client resolves and the addresses it
    connects to (Python-level sockets only, as :func:`recording_connects`)."""
    _install()
    found: list[tuple[str, int | None]] = []
    with _lock:
        _destinations.append(found)
    try:
        yield found
    finally:
        with _lock:
            _destinations.remove(found)


@dataclass(frozen=True)
class ClientSocket:
    """An open TCP socket of this process: its descriptor, inode and both addresses."""

    fd: int
    inode: int
    local: str
    peer: str


def _fd_folder() -> str | None:
    for folder in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(folder):
            return folder
    return None


def client_sockets() -> set[ClientSocket] | None:
    """The connected TCP sockets of this process that are not a server's (listening
    sockets and the connections they accepted are left out), or ``None`` where open
    descriptors cannot be listed (Windows)."""
    folder = _fd_folder()
    if folder is None:
        return None
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    listening: set[object] = set()
    connected: list[tuple[int, int, object, object]] = []
    for name in names:
        try:
            fd = int(name)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            dup = os.dup(fd)
        except (OSError, ValueError):
            continue
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            continue
        try:
            with sock:
                if sock.family not in _INET or sock.type != socket.SOCK_STREAM:
                    continue
                local = sock.getsockname()
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    listening.add(local[1])
                    continue
                try:
                    peer = sock.getpeername()
                except OSError:
                    continue  # not connected (yet, or any more)
                connected.append((fd, os.fstat(fd).st_ino, local, peer))
        except OSError:
            continue
    return {
        ClientSocket(fd, inode, repr(local), repr(peer))
        for fd, inode, local, peer in connected
        if local[1] not in listening  # type: ignore[index]
    }
