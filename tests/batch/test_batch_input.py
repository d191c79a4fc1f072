"""Adversarial input and output files: every line is answered once under the right key,
odd bytes become rows naming the line instead of tracebacks, and the output file is
never shared by two jobs nor trimmed of a whole answer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from byom_sdk import Client, ConfigError
from byom_sdk.batch import Item, OutputWriter, read_records
from byom_sdk.batch._ray import _spool
from byom_sdk.testing import ScriptedModel

from ._helpers import rows_by_id, write_jsonl


def _run(tmp_path: Path, source: Path, out: Path, model: ScriptedModel | None = None, **options):
    policy = {"audit": {"path": str(tmp_path / "audit.sqlite")}}
    with Client(models={"m": model or ScriptedModel()}, policy=policy) as client:
        return client.batch(source, out, model="m", progress=False, **options)


def test_a_lone_surrogate_id_or_a_deeply_nested_line_is_a_row_not_a_crash(tmp_path):
    """``"\\ud800"`` is valid JSON but not UTF-8, and ``[[[…`` a few kB deep is valid JSON
    that Python cannot decode: each is its line's MalformedRecord, the job goes on."""
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "\\ud800x", "prompt": "hi"}\n'
        + '{"id": "deep", "prompt": "p", "metadata": '
        + "[" * 50_000
        + "]" * 50_000
        + "}\n"
        + "[" * 50_000
        + "\n"
        + '{"id": "ok", "prompt": "fine"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    out.write_text("[" * 50_000 + "\n")  # a foreign line in the output must not stop the resume either
    summary = _run(tmp_path, source, out)
    lines = out.read_text(encoding="utf-8").splitlines()[1:]
    rows = {json.loads(line)["id"]: json.loads(line) for line in lines}
    assert {key: row.get("error", {}).get("type") for key, row in rows.items()} == {
        "@line:1": "MalformedRecord",
        "@line:2": "MalformedRecord",
        "@line:3": "MalformedRecord",
        "ok": None,
    }
    assert "surrogate" in rows["@line:1"]["error"]["message"]
    assert "nested too deeply" in rows["@line:2"]["error"]["message"]
    assert (summary.ok, summary.errors) == (1, 3)


def test_an_oversized_line_is_keyed_by_its_top_level_id_only(tmp_path):
    """The key of a line over the limit is read from its first bytes: a nested ``id`` (a
    tool call's) is not the record's, and an id that is not a valid record id (one that
    claims another line's ``@line:N`` key) is not taken, so that line is still answered."""
    big = {"tags": {"pad": "x" * 2000}}
    tool_call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assistant = {"role": "assistant", "content": "", "tool_calls": [tool_call]}
    lines = [
        {"messages": [assistant], "id": "real-1", "metadata": big},
        {"id": "@line:3", "prompt": "p", "metadata": big},
        "not json",
        {"id": 42, "prompt": "p", "metadata": big},
        {"id": "ok", "prompt": "fine"},
    ]
    out = tmp_path / "out.jsonl"
    summary = _run(tmp_path, write_jsonl(tmp_path / "in.jsonl", lines), out, max_record_bytes=1024)
    rows = rows_by_id(out)
    assert {key: row.get("error", {}).get("type") for key, row in rows.items()} == {
        "real-1": "PayloadTooLarge",
        "@line:2": "PayloadTooLarge",
        "@line:3": "MalformedRecord",
        "42": "PayloadTooLarge",
        "ok": None,
    }
    assert summary.duplicates_dropped == 0 and summary.answered == 5


def test_a_crlf_line_at_the_limit_is_not_oversized(tmp_path):
    """``max_record_bytes`` excludes the line ending, ``\\r\\n`` as well as ``\\n``; a UTF-8
    byte-order mark does not count either."""
    record = json.dumps({"id": "c", "prompt": "y" * 80}).encode()
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + record + b"\r\n" + b'{"id": "d", "prompt": "z"}\r\n')
    out = tmp_path / "out.jsonl"
    summary = _run(tmp_path, source, out, max_record_bytes=len(record))
    assert (summary.ok, summary.errors) == (2, 0)
    assert rows_by_id(out)["c"]["response"]["text"] == "echo: " + "y" * 80


def test_utf16_input_is_a_config_error_naming_the_file(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "prompt": "p"}) + "\n", encoding="utf-16")
    with pytest.raises(ConfigError, match=r"in\.jsonl is UTF-16") as caught:
        _run(tmp_path, source, tmp_path / "out.jsonl")
    assert caught.value.field == "input"


def test_metadata_that_is_not_a_string_is_an_invalid_record(tmp_path):
    """A tenant given as an object would become its Python repr: a tenant (and pseudonym
    space) of its own. It is refused, naming the field."""
    lines = [
        {"id": "t", "prompt": "p", "metadata": {"tenant": {"name": "acme"}}},
        {"id": "u", "prompt": "p", "metadata": {"user": ["x"]}},
        {"id": "g", "prompt": "p", "metadata": {"tags": ["a"]}},
        {"id": "ok", "prompt": "p", "metadata": {"tenant": "acme", "user": 7, "tags": None}},
    ]
    out = tmp_path / "out.jsonl"
    _run(tmp_path, write_jsonl(tmp_path / "in.jsonl", lines), out)
    rows = rows_by_id(out)
    assert rows["t"]["error"]["message"] == "'metadata.tenant' must be a string or an integer"
    assert rows["u"]["error"]["message"] == "'metadata.user' must be a string or an integer"
    assert rows["g"]["error"]["type"] == "InvalidRecord"
    assert "response" in rows["ok"]


def test_a_second_job_on_the_same_output_is_refused(tmp_path):
    """Two jobs appending to one output would each send every record: each id answered
    twice. The second is refused while the first holds the file."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "prompt": "p"} for i in range(5)])
    out = tmp_path / "out.jsonl"
    first = OutputWriter(out)
    first.open()
    try:
        with pytest.raises(ConfigError, match="another batch job is writing") as caught:
            _run(tmp_path, source, out)
        assert caught.value.field == "output"
    finally:
        first.close()
    summary = _run(tmp_path, source, out)
    assert summary.ok == 5 and len(rows_by_id(out)) == 5


def test_a_whole_last_row_without_a_newline_is_kept_not_resent(tmp_path):
    """Removing error rows in an editor (to retry them) often drops the final newline: that
    last row is a whole answer, kept, and its record is not sent again."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "prompt": "p"} for i in range(3)])
    out = tmp_path / "out.jsonl"
    _run(tmp_path, source, out)
    kept = [line for line in out.read_text().splitlines() if json.loads(line)["id"] != "r2"]
    out.write_text("\n".join(kept))  # no final newline
    model = ScriptedModel()
    summary = _run(tmp_path, source, out, model)
    assert [request.metadata.request_id for request in model.requests] == ["r2"]
    assert summary.resumed == 2 and summary.ok == 1
    assert sorted(rows_by_id(out)) == ["r0", "r1", "r2"]


def test_an_output_that_is_not_a_regular_file_is_a_config_error(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "prompt": "p"}])
    with pytest.raises(ConfigError, match="not a regular file"):
        _run(tmp_path, source, fifo)


def test_rows_and_spooled_records_with_a_lone_surrogate_stay_writable(tmp_path):
    """A prompt holding ``\\ud800`` is the worker's BadRequest on every runner: the Ray
    spool must not fail on it, and an answer holding one is written escaped."""
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "s", "prompt": "hi \\ud800"}\n', encoding="utf-8")
    items = [record for record in read_records(source, max_bytes=1024) if isinstance(record, Item)]
    parts = _spool(iter(items), tmp_path, 10)
    assert Item.from_json(Path(parts[0]).read_bytes()).input == "hi \ud800"
    writer = OutputWriter(tmp_path / "out.jsonl")
    writer.open()
    assert writer.write({"id": "s", "response": {"text": "cut emoji \ud83d"}})
    writer.close()
    assert json.loads((tmp_path / "out.jsonl").read_bytes())["response"]["text"] == "cut emoji \ud83d"
