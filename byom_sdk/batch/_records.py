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
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._errors import ByomError, ConfigError

if sys.platform != "win32":
    import fcntl

__all__ = [
    "EMBED_PARAMS",
    "GENERATE_PARAMS",
    "Item",
    "OutputWriter",
    "check_input",
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
#: the value after a top-level ``"id"`` key of an oversized line: a string or an integer.
_ID_VALUE = re.compile(rb'\s*:\s*("(?:[^"\\]|\\.){1,1024}"|-?[0-9]{1,512})\s*[,}]')
_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = {b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16", b"\x00\x00\xfe\xff": "UTF-32"}

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
            # ASCII: a lone surrogate in a record (valid JSON, not UTF-8) must reach the
            # worker, whose model rejects it as one record's error, not fail the spool.
            ensure_ascii=True,
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
    if not _is_unicode(text):
        # The id is written to the output (UTF-8) and the audit: it must be encodable.
        raise _Invalid("'id' contains a lone surrogate (\\ud800-\\udfff); it must be valid Unicode")
    return text


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    for meta_key in ("tenant", "user", "conversation_id"):
        # Pseudonyms are per tenant: a tenant given as an object would silently become
        # its Python repr, a tenant of its own.
        meta_value = metadata.get(meta_key)
        if meta_value is not None and (isinstance(meta_value, bool) or not isinstance(meta_value, (str, int))):
            raise _Invalid(f"'metadata.{meta_key}' must be a string or an integer")
    tags = metadata.get("tags")
    tags = {} if tags is None else tags
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise _Invalid("'metadata.tags' must map strings to strings")
    return Item(key, line, kind, value, dict(params), dict(metadata))


def _top_level_id(prefix: bytes) -> str | None:
    """The ``id`` member of the top-level object in the first bytes of a line, if they
    hold it. Nested ``id`` keys (a tool call's, a message's) are not the record's."""
    depth = 0
    key_next = False
    i, n = 0, len(prefix)
    while i < n:
        char = prefix[i : i + 1]
        if char == b'"':
            end = i + 1
            while end < n and prefix[end : end + 1] != b'"':
                end += 2 if prefix[end : end + 1] == b"\\" else 1
            if end >= n:
                return None  # the prefix ends inside a string
            if depth == 1 and key_next and prefix[i + 1 : end] == b"id":
                match = _ID_VALUE.match(prefix, end + 1)
                if match is None:
                    return None
                try:
                    value = json.loads(match.group(1))
                    return _record_id({"id": value})
                except (ValueError, _Invalid):
                    return None
            key_next = False
            i = end + 1
            continue
        if char in (b"{", b"["):
            depth += 1
            key_next = depth == 1 and char == b"{"
        elif char in (b"}", b"]"):
            depth -= 1
        elif char == b",":
            key_next = depth == 1
        i += 1
    return None


def _oversized_key(prefix: bytes, line: int) -> str:
    return _top_level_id(prefix) or f"@line:{line}"


def check_input(path: str | Path) -> None:
    """Fail early, naming the file, on input that cannot be read as UTF-8 JSON lines.

    :raises ConfigError: the file cannot be opened, or starts with a UTF-16/32 byte-order
        mark (every line would otherwise become a confusing ``MalformedRecord``).
    """
    try:
        with open(path, "rb") as stream:
            head = stream.read(4)
    except OSError as exc:
        raise ConfigError(f"cannot read the input file {path}: {exc.strerror or exc}", field="input") from None
    for bom, encoding in sorted(_WIDE_BOMS.items(), key=lambda pair: -len(pair[0])):
        if head.startswith(bom) and not head.startswith(_BOM):
            raise ConfigError(
                f"the input file {path} is {encoding} (byte-order mark); batch input is UTF-8 JSON lines: "
                "re-save it as UTF-8",
                field="input",
            )


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
        if stream.read(3) != _BOM:  # a UTF-8 byte-order mark (Windows editors) is not part of the record
            stream.seek(0)
        number = 0
        while True:
            # max_bytes + 2: room for the record and "\r\n"; anything longer is cut here.
            raw = stream.readline(max_bytes + 2)
            if not raw:
                return
            number += 1
            content = raw[:-1] if raw.endswith(b"\n") else raw
            content = content[:-1] if content.endswith(b"\r") else content
            if len(content) > max_bytes:
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
            except (ValueError, RecursionError, _Invalid) as exc:
                if isinstance(exc, RecursionError):  # [[[[… a few kB deep: valid JSON, not a record
                    message = "not a record: JSON nested too deeply"
                else:
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

    Opening locks the file (``flock``: a second job on the same output would send every
    record again and answer each id twice) and reads the keys already written (cutting a
    last line a crash left torn), so a rerun skips them; a row for a key already written
    is dropped (a Ray batch retried after its actor died answers its ids twice). Each row
    is one ``write`` on an ``O_APPEND`` descriptor, so a killed process leaves whole lines.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.done: set[str] = set()
        self.resumed = 0
        self._fd: int | None = None

    def open(self) -> set[str]:
        """Open for appending; the keys already answered.

        :raises ConfigError: the output cannot be created, read or appended to, is not a
            regular file, or another job is writing it (naming it).
        """
        try:
            return self._open()
        except OSError as exc:
            self.close()
            raise ConfigError(
                f"cannot write the output file {self.path}: {exc.strerror or exc}", field="output"
            ) from None

    def _open(self) -> set[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not self.path.is_file():
            # A device or FIFO would be read forever for keys (/dev/full never ends).
            raise ConfigError(f"the output {self.path} is not a regular file", field="output")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock()
        self._repair()
        with open(self.path, "rb") as stream:
            for raw in stream:
                try:
                    key = json.loads(raw)["id"]
                except (ValueError, RecursionError, KeyError, TypeError):
                    continue  # a foreign line: kept, never answered twice either way
                self.done.add(str(key))
        self.resumed = len(self.done)
        return self.done

    def _lock(self) -> None:
        """Hold an exclusive ``flock`` for the writer's lifetime (released on close or
        death). Before the keys are read: a second run must not resume from a file the
        first is still appending to."""
        if sys.platform == "win32" or self._fd is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.close()
            raise ConfigError(
                f"another batch job is writing the output file {self.path}; wait for it to end (or write "
                "elsewhere): two jobs on one output would answer every id twice",
                field="output",
            ) from None

    def _repair(self) -> None:
        size = self.path.stat().st_size
        if not size:
            return
        with open(self.path, "rb+") as stream:
            stream.seek(max(0, size - 1))
            if stream.read(1) == b"\n":
                return
            # The last write of a killed run was cut: drop the partial line. A last line
            # that is a whole row (an editor dropped the final newline after error rows
            # were removed to retry them) is kept: only a complete row parses.
            position = size
            while position > 0:
                step = min(65536, position)
                stream.seek(position - step)
                chunk = stream.read(step)
                cut = chunk.rfind(b"\n")
                if cut != -1:
                    self._end_last_line(stream, position - step + cut + 1, size)
                    return
                position -= step
            self._end_last_line(stream, 0, size)

    @staticmethod
    def _end_last_line(stream: Any, start: int, size: int) -> None:
        stream.seek(start)
        try:
            whole = isinstance(json.loads(stream.read(size - start)), dict)
        except (ValueError, RecursionError):
            whole = False
        if whole:
            stream.seek(size)
            stream.write(b"\n")
        else:
            stream.truncate(start)

    def write(self, row: Mapping[str, Any]) -> bool:
        """Append ``row`` unless its key is already answered; ``True`` when written."""
        key = str(row["id"])
        if key in self.done:
            return False
        if self._fd is None:
            raise RuntimeError("OutputWriter is not open")
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        try:
            data = (text + "\n").encode()
        except UnicodeEncodeError:
            # A lone surrogate (valid JSON, not UTF-8) in an answer: escape it rather
            # than fail the job on one row.
            data = (json.dumps(row, ensure_ascii=True, separators=(",", ":")) + "\n").encode()
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            raise ByomError(
                f"cannot append to the output file {self.path}: {exc.strerror or exc} (rerun to resume)"
            ) from None
        self.done.add(key)
        return True

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError:
                pass  # rows already written stay; closing must still release the lock
            finally:
                os.close(self._fd)
                self._fd = None
