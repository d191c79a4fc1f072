"""Bad files and values found by an independent sweep of the CLI and the library: each is
the SDK's own error naming the file or field, never a raw Python error."""

from __future__ import annotations

import json
import sqlite3

import pytest

import byom_sdk
from byom_sdk import BadRequest, ConfigError
from byom_sdk.batch._job import load_job_file
from byom_sdk.cli import main
from byom_sdk.testing import ScriptedModel


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x8c\x01x = 1\n", "the job file is not UTF-8 (byte 0x8c at offset 0)"),
        (b"\xff\xfex\x00=\x001\x00", "the job file is not UTF-8"),  # UTF-16 with its BOM
        (b"tables = 5\n", "tables must be a table of runner tables, not int"),
    ],
)
def test_a_bad_job_file_is_a_config_error_naming_it(tmp_path, content, message):
    job = tmp_path / "job.toml"
    job.write_bytes(content)
    with pytest.raises(ConfigError, match=r"job\.toml") as info:
        load_job_file(job)
    assert message in str(info.value)


def test_a_utf8_bom_is_read(tmp_path):
    job = tmp_path / "job.toml"
    job.write_bytes(b"\xef\xbb\xbfmodel = 'bot'\ninput = 'in.jsonl'\noutput = 'out.jsonl'\n")
    assert load_job_file(job).model == "bot"


def test_a_config_nested_too_deeply_names_the_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "byom.toml").write_text("x = " + "[" * 2000 + "]" * 2000 + "\n")
    code, out = run(capsys, "models")
    assert code == 3
    assert "byom.toml: invalid TOML: arrays or tables nested too deeply" in out
    assert "RecursionError" not in out and "Traceback" not in out


def test_audit_show_reads_past_an_edited_record(tmp_path, capsys):
    path = tmp_path / "audit.sqlite"
    with byom_sdk.Client(models={"m": ScriptedModel()}, policy={"audit": {"path": str(path)}}) as client:
        client.model("m").generate("hi")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE records SET body = '[1, 2]' WHERE seq = 1")
    code, out = run(capsys, "audit", "show", str(path))
    assert code == 0 and "invalid" in out and "Traceback" not in out
    code, out = run(capsys, "audit", "show", "--json", str(path))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {"seq": 1}.items() <= rows[-1].items()
    assert rows[-1]["error"] == "record 1: the body is not a JSON object"


def test_embed_extra_that_cannot_go_on_the_wire_is_refused_before_the_call():
    model = ScriptedModel()
    client = byom_sdk.Client(models={"m": model}, policy={"audit": {"sink": "memory"}})
    with client, pytest.raises(BadRequest, match="extra: Object of type set is not JSON serializable") as info:
        client.model("m").embed("text", extra={"a": {1}})
    assert info.value.details["field"] == "extra" and not model.requests


def test_an_error_quoting_a_lone_surrogate_can_be_printed():
    client = byom_sdk.Client(models={"m": ScriptedModel()}, policy={"audit": {"sink": "memory"}})
    with client, pytest.raises(ConfigError) as info:
        client.model("\ud800")
    assert "\\ud800" in str(info.value)
    str(info.value).encode("utf-8")  # would raise UnicodeEncodeError with the raw surrogate


def test_an_output_that_cannot_be_written_names_the_option_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "byom.toml").write_text('[models.bot]\nprovider = "scripted"\n')
    (tmp_path / "in.jsonl").write_text('{"id": "1", "prompt": "hi"}\n')
    (tmp_path / "a-file").write_text("not a folder")
    blocked = str(tmp_path / "a-file" / "out.jsonl")  # a file where a folder must be: fails even as root
    args = ("--input", "in.jsonl", "--output", blocked, "--model", "bot", "--no-progress")
    code, out = run(capsys, "batch", "run", *args)
    assert code == 3 and "field 'output': cannot write the output file" in out and blocked in out
    assert "Traceback" not in out and "error (" not in out  # no raw OSError class
    code, out = run(capsys, "conformance", "bot", "--report", str(tmp_path / "a-file" / "report.json"))
    assert code == 2 and "Invalid value for '--report': cannot write" in out
    assert "passed" not in out  # refused before the suite ran


def test_a_negative_audit_show_limit_is_a_usage_error(tmp_path, capsys):
    code, out = run(capsys, "audit", "show", "--limit", "-5", str(tmp_path / "audit.sqlite"))
    assert code == 2 and "'--limit'" in out and "-5 is not in the range x>=0" in out


def test_a_union_field_error_names_the_field_not_pydantics_union_member(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "byom.toml").write_text('[models.bot]\nprovider = "scripted"\n\n[serve]\nprofile = "bogus"\n')
    code, out = run(capsys, "serve")
    assert code == 3 and "field 'serve.profile'" in out and "'openai', 'open-connector'" in out
    assert "literal[" not in out and "tuple[" not in out


@pytest.mark.parametrize(
    ("toml", "field", "shown"),
    [
        ('[models.m]\nprovider = "scripted"\n\n[retry]\ndeadline = inf\n', "retry.deadline", "inf"),
        ('[models.m]\nprovider = "scripted"\nextra = { timeout = -inf }\n', "models.m.extra.timeout", "-inf"),
        (
            '[models.m]\nprovider = "scripted"\n\n[routes.r]\ntargets = ["m"]\nweights = [1, nan]\n',
            "routes.r.weights[1]",
            "nan",
        ),
    ],
)
def test_inf_and_nan_in_a_config_file_are_refused_naming_the_field(tmp_path, toml, field, shown):
    """TOML allows inf and nan; no setting takes them (a timeout of inf would reach the
    socket as an OverflowError at the first call)."""
    (tmp_path / "byom.toml").write_text(toml)
    with pytest.raises(ConfigError) as info:
        byom_sdk.Client.from_config(tmp_path / "byom.toml")
    assert info.value.field == field
    assert f"{shown} is not a usable number here; give a finite value" in str(info.value)
    job = tmp_path / "job.toml"
    job.write_text("model = 'm'\ninput = 'in.jsonl'\noutput = 'out.jsonl'\nrate_limit = inf\n")
    with pytest.raises(ConfigError, match=r"field 'rate_limit': inf is not a usable number"):
        load_job_file(job)
