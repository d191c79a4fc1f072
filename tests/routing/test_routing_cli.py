"""`byom routes [--json]`, `byom versions [--json]` and `byom generate ROUTE`."""

from __future__ import annotations

import json

import pytest

from byom_sdk.cli import main

CONFIG = """
[trust]
audit = { sink = "memory" }

[models.v1]
provider = "scripted"
replies = ["answer from v1"]

[models.v2]
provider = "scripted"
replies = ["answer from v2"]

[models.broken]
provider = "no-such-provider"

[routes.support]
description = "support bot"
targets = ["v1"]
sticky = "user"
fallback = ["v1"]

[routes.support.canary]
target = "v2"
start = 2020-01-01T00:00:00Z
ramp = [{ after = 0, percent = 10 }, { after = "365000d", percent = 50 }]
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "byom.toml"
    path.write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")  # builtins only
    return path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_routes_json_shows_targets_weights_now_and_circuits(config, capsys):
    code, out, _ = run(capsys, "routes", "--json")
    assert code == 0
    (route,) = json.loads(out)["routes"]
    assert route["route"] == "support" and route["sticky"] == "user"
    shares = {t["alias"]: (t["role"], t["percent"], t["circuit"]["state"]) for t in route["targets"]}
    assert shares == {"v1": ("target", 90.0, "closed"), "v2": ("canary", 10.0, "closed")}
    assert route["canary"]["percent"] == 10 and route["canary"]["next"]["percent"] == 50


def test_routes_table(config, capsys):
    code, out, _ = run(capsys, "routes")
    assert code == 0 and "route support (sticky by user)" in out and "canary v2: 10 % now" in out


def test_routes_without_routes(tmp_path, capsys, monkeypatch):
    (tmp_path / "byom.toml").write_text('[models.v1]\nprovider = "scripted"\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "routes", "--json")
    assert code == 0 and json.loads(out)["routes"] == []


def test_versions_json_lists_every_alias_and_its_routes(config, capsys):
    code, out, _ = run(capsys, "versions", "--json")
    assert code == 0
    rows = {row["alias"]: row for row in json.loads(out)["models"]}
    assert (
        rows["v1"]["routes"] == ["support"] and rows["v1"]["provider"] == "scripted" and rows["v1"]["version"] is None
    )
    assert rows["broken"]["error"] and rows["broken"]["routes"] == []


def test_generate_route_works_like_an_alias(config, capsys):
    code, out, _ = run(capsys, "generate", "support", "hello", "--json")
    assert code == 0 and json.loads(out)["text"] in ("answer from v1", "answer from v2")
    code, out, _ = run(capsys, "generate", "support", "hello", "--stream")
    assert code == 0 and out.strip() in ("answer from v1", "answer from v2")


def test_a_route_outside_the_policy_exits_with_the_config_code(tmp_path, capsys, monkeypatch):
    text = CONFIG.replace("[trust]\n", '[trust]\nallowed_regions = ["eu-*"]\nrequire_tls = false\n')
    text = text.replace(
        'replies = ["answer from v2"]',
        'replies = ["answer from v2"]\nregion = "us-east-1"\nlocation_kind = "customer-cloud"',
    )
    (tmp_path / "byom.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "routes", "--json")
    assert code == 3 and "canary.target 'v2'" in json.loads(out)["error"]["message"]
