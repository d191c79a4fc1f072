"""Batch records: reading JSONL input a line at a time, and writing exactly one answer per id.

Input, one JSON object per line::

    {"id": "t-1", "messages": [{"role": "user", "content": "…"}], "parameters": {"max_tokens": 64}}
    {"id": "t-2", "prompt": "Summarise: …", "metadata": {"tenant": "acme"}}
    {"id": "d-7", "texts": ["first passage", "second passage"], "parameters": {"normalize": true}}

Output, one JSON object per line, ``id`` first::

    {"id": "t-1", "response": {"text": "…", "finish_reason": "stop", "usage": {…}}, "latency_ms": 41.2}
    {"id": "d-7", "response": {"vectors": [[…], […]], "normalized": true, "usage": null}, "latency_ms": 9.8}
    {"id": "t-9", "error": {"type": "PolicyViolation", "message": "…", "retryable": false}, "line": 9}

A line that is not a record, a duplicate id, or a line over the payload limit is answered
with an error row, never a crash. A row that cannot claim an id of its own (a line that is
not JSON, the second line with an id) is keyed ``@line:N``, so every id, and every line,
is answered exactly once; a rerun skips every key already in the output.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._errors import ConfigError

__all__ = [
    "EMBED_PARAMS",
    "GENERATE_PARAMS",
    "Item",
    "OutputWriter",
    "count_lines",
    "error_row",
    "read_records",
]

GENERATE_PARAMS = frozenset(
    {"max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "tools", "tool_choice", "response_format", "extra"}
)
EMBED_PARAMS = frozenset({"normalize", "extra"})
_METADATA = frozenset({"tenant", "user", "conversation_id", "tags"})
_MAX_ID = 512
#: an id near the start of an oversized line (records usually begin with it).
_ID_PREFIX = re.compile(rb'"id"\s*:\s*"((?:[^"\\]|\\.){1,512})"')

Kind = Literal["generate", "embed"]


@dataclass
class Item:
    """One valid input record, ready to be sent.

    :param id: the record's id (the key of its output row).
    :param line: its line number in the input (1-based).
    :param kind: ``generate`` (messages or prompt) or ``embed`` (texts).
    :param input: the messages list, the prompt or the texts.
    """

    id: str
    line: int
    kind: Kind
    input: Any
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "line": self.line,
                "kind": self.kind,
                "input": self.input,
                "params": self.params,
                "metadata": self.metadata,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Item:
        data = json.loads(text)
        return cls(data["id"], data["line"], data["kind"], data["input"], data["params"], data["metadata"])


def error_row(
    key: str,
    type_: str,
    message: str,
    *,
    line: int | None = None,
    retryable: bool = False,
    code: str | None = None,
    latency_ms: float | None = None,
    **details: Any,
) -> dict[str, Any]:
    """An output row for a record that got no answer."""
    error: dict[str, Any] = {"type": type_, "message": message, "retryable": retryable}
    if code is not None:
        error["code"] = code
    error.update(details)
    row: dict[str, Any] = {"id": key, "error": error}
    if line is not None:
        row["line"] = line
    if latency_ms is not None:
        row["latency_ms"] = round(latency_ms, 3)
    return row


class _Invalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _record_id(data: Mapping[str, Any]) -> str:
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Invalid("'id' must be a string or an integer")
    text = str(value)
    if not text or len(text) > _MAX_ID or text.startswith("@line:"):
        raise _Invalid(f"'id' must be 1-{_MAX_ID} characters and not start with '@line:'")
    return text


def _parse(data: Mapping[str, Any], key: str, line: int) -> Item:
    inputs = [name for name in ("messages", "prompt", "texts") if name in data]
    if len(inputs) != 1:
        raise _Invalid("a record needs exactly one of 'messages', 'prompt' or 'texts'")
    unknown = sorted(set(data) - {"id", "parameters", "metadata", inputs[0]})
    if unknown:
        raise _Invalid(f"unknown field '{unknown[0]}' (known: id, messages | prompt | texts, parameters, metadata)")
    name = inputs[0]
    value = data[name]
    kind: Kind = "embed" if name == "texts" else "generate"
    if name == "messages" and not (isinstance(value, list) and value and all(isinstance(m, dict) for m in value)):
        raise _Invalid("'messages' must be a non-empty list of message objects")
    if name == "prompt" and not isinstance(value, str):
        raise _Invalid("'prompt' must be a string")
    if name == "texts" and not (isinstance(value, list) and value and all(isinstance(t, str) for t in value)):
        raise _Invalid("'texts' must be a non-empty list of strings")
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise _Invalid("'parameters' must be an object")
    allowed = EMBED_PARAMS if kind == "embed" else GENERATE_PARAMS
    bad = sorted(set(params) - allowed)
    if bad:
        raise _Invalid(f"unknown parameter '{bad[0]}' for {'texts' if kind == 'embed' else name} records")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict) or set(metadata) - _METADATA:
        raise _Invalid(f"'metadata' must be an object with {', '.join(sorted(_METADATA))}")
    tags = metadata.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise _Invalid("'metadata.tags' must map strings to strings")
    return Item(key, line, kind, value, dict(params), dict(metadata))


def _oversized_key(prefix: bytes, line: int) -> str:
    match = _ID_PREFIX.search(prefix)
    if match is not None:
        try:
            return str(json.loads(b'"' + match.group(1) + b'"'))
        except ValueError:
            pass
    return f"@line:{line}"


def read_records(
    path: str | Path, *, max_bytes: int, done: set[str] | None = None, seen: set[str] | None = None
) -> Iterator[Item | dict[str, Any]]:
    """Valid records as :class:`Item` and bad ones as error rows, a line at a time.

    :param max_bytes: the payload limit of one line (its newline excluded); a longer line
        is never read into memory whole.
    :param done: keys already answered (a rerun): skipped, whatever they are.
    :param seen: ids met so far (duplicate detection; filled here).
    """
    done = done if done is not None else set()
    seen = seen if seen is not None else set()
    with open(path, "rb") as stream:
        number = 0
        while True:
            raw = stream.readline(max_bytes + 2)
            if not raw:
                return
            number += 1
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark (Windows editors) is not part of the record
            if len(raw) > max_bytes + 1 or (len(raw) == max_bytes + 1 and not raw.endswith(b"\n")):
                prefix = raw[:4096]
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line in bounded reads
                    raw = stream.readline(1 << 20)
                key = _oversized_key(prefix, number)
                if key in seen:  # the id of an earlier line: this one cannot claim it
                    key = f"@line:{number}"
                seen.add(key)
                if key in done:
                    continue
                yield error_row(
                    key, "PayloadTooLarge", f"line {number} is longer than max_record_bytes={max_bytes}", line=number
                )
                continue
            text = raw.strip()
            if not text:
                continue
            try:
                data = json.loads(text)
                if not isinstance(data, dict):
                    raise _Invalid("a record must be a JSON object")
                key = _record_id(data)
            except (ValueError, _Invalid) as exc:
                message = exc.message if isinstance(exc, _Invalid) else f"not JSON: {exc}"
                if f"@line:{number}" not in done:
                    yield error_row(f"@line:{number}", "MalformedRecord", message, line=number)
                continue
            if key in seen:
                if f"@line:{number}" not in done:
                    yield error_row(
                        f"@line:{number}",
                        "DuplicateId",
                        f"id {key!r} appeared on an earlier line; this line was not sent",
                        line=number,
                        duplicate_id=key,
                    )
                continue
            seen.add(key)
            if key in done:
                continue
            try:
                yield _parse(data, key, number)
            except _Invalid as exc:
                yield error_row(key, "InvalidRecord", exc.message, line=number)


def count_lines(path: str | Path) -> int:
    """Lines in ``path`` (for the progress bar), read in 1 MiB chunks."""
    total = 0
    last = b"\n"
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            total += chunk.count(b"\n")
            last = chunk[-1:]
    return total + (last != b"\n")


class OutputWriter:
    """Appends answer rows, exactly one per key, across reruns.

    Opening reads the keys already written (cutting a last line a crash left torn), so a
    rerun skips them; a row for a key already written is dropped (a Ray batch retried
    after its actor died answers its ids twice). Each row is one ``write`` on an
    ``O_APPEND`` descriptor, so a killed process leaves whole lines.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.done: set[str] = set()
        self.resumed = 0
        self._fd: int | None = None

    def open(self) -> set[str]:
        """Open for appending; the keys already answered.

        :raises ConfigError: the output cannot be created, read or appended to (naming it).
        """
        try:
            return self._open()
        except OSError as exc:
            raise ConfigError(
                f"cannot write the output file {self.path}: {exc.strerror or exc}", field="output"
            ) from None

    def _open(self) -> set[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._repair()
            with open(self.path, "rb") as stream:
                for raw in stream:
                    try:
                        key = json.loads(raw)["id"]
                    except (ValueError, KeyError, TypeError):
                        continue  # a foreign line: kept, never answered twice either way
                    self.done.add(str(key))
        self.resumed = len(self.done)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self.done

    def _repair(self) -> None:
        size = self.path.stat().st_size
        if not size:
            return
        with open(self.path, "rb+") as stream:
            stream.seek(max(0, size - 1))
            if stream.read(1) == b"\n":
                return
            # The last write of a killed run was cut: drop the partial line.
            position = size
            while position > 0:
                step = min(65536, position)
                stream.seek(position - step)
                chunk = stream.read(step)
                cut = chunk.rfind(b"\n")
                if cut != -1:
                    stream.truncate(position - step + cut + 1)
                    return
                position -= step
            stream.truncate(0)

    def write(self, row: Mapping[str, Any]) -> bool:
        """Append ``row`` unless its key is already answered; ``True`` when written."""
        key = str(row["id"])
        if key in self.done:
            return False
        if self._fd is None:
            raise RuntimeError("OutputWriter is not open")
        data = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        self.done.add(key)
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
