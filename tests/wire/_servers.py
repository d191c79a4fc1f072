"""Raw loopback servers for the wire tests: one handler gets each connection's socket and
its request's body, and answers whatever bytes a real server or proxy would."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from byom_sdk import GenerateRequest

Handler = Callable[[socket.socket, bytes], None]
HI = GenerateRequest(prompt="hi", max_tokens=4, timeout=5.0)
USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def completion(text: str) -> dict:
    message = {"role": "assistant", "content": text}
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def chunk(text: str, finish: str | None = None, **extra: object) -> dict:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return {"object": "chat.completion.chunk", "choices": [choice], **extra}


def head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def answer(conn: socket.socket, body: bytes, status: str = "200 OK", **headers: str) -> None:
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close"}
    conn.sendall(head(status, {**fields, **{k.replace("_", "-"): v for k, v in headers.items()}}) + body)


def chunked(conn: socket.socket, parts: list[bytes], **headers: str) -> None:
    fields = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked", "Connection": "close"}
    conn.sendall(head("200 OK", {**fields, **{k.replace("_", "-"): v for k, v in headers.items()}}))
    for part in parts:
        conn.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    conn.sendall(b"0\r\n\r\n")


class RawServer:
    """One handler for every connection: it gets the socket and the request's bytes."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.heads: list[bytes] = []  # each request's line and headers
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:  # the client went away before its request's head ended
                    return
                data += more
            top, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (int(line.split(b":")[1]) for line in top.split(b"\r\n") if line.lower().startswith(b"content-length")),
                0,
            )
            while len(body) < length:
                more = conn.recv(65536)
                if not more:
                    return
                body += more
            self.requests += 1
            self.heads.append(top)
            try:
                self.handler(conn, body)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
